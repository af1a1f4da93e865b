"""Parsers for the client requests whose layout is more than a few fields (contracts, placeOrder)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from bot.sim.exchange import OrderRequest
from bot.sim.listings import ContractQuery
from bot.sim.protocol import UNSET_DOUBLE, FieldReader


def read_contract(reader: FieldReader) -> ContractQuery:
    """The 12 contract fields clients send: conId .. tradingClass."""
    con_id = reader.int()
    symbol = reader.str()
    sec_type = reader.str()
    last_trade = reader.str()
    strike = reader.float(0.0) or 0.0
    right = reader.str()
    multiplier = reader.str()
    exchange = reader.str()
    primary_exchange = reader.str()
    currency = reader.str()
    local_symbol = reader.str()
    trading_class = reader.str()
    return ContractQuery(
        con_id=con_id,
        symbol=symbol,
        sec_type=sec_type,
        last_trade=last_trade,
        strike=strike if strike < UNSET_DOUBLE else 0.0,
        right=right if right != "?" else "",
        multiplier=multiplier,
        exchange=exchange,
        primary_exchange=primary_exchange,
        currency=currency,
        local_symbol=local_symbol,
        trading_class=trading_class,
    )


def with_include_expired(query: ContractQuery, include_expired: bool) -> ContractQuery:
    return replace(query, include_expired=include_expired)


def parse_place_order(fields: Sequence[str], server_version: int) -> OrderRequest:
    """placeOrder, field by field as ib_async 2.x / ib_insync 0.9.86 send it (no version field).

    Reads up to the order's conditions count; conditional, combo, bracket and algo orders are marked
    unsupported instead of guessed at.
    """
    r = FieldReader(fields, 1)
    order_id = r.int()
    contract = read_contract(r)
    r.skip(2)  # secIdType, secId
    action = r.str().upper()
    total_quantity = r.float(0.0) or 0.0
    order_type = r.str().upper()
    limit_price = r.float()
    aux_price = r.float()
    tif = r.str().upper()
    oca_group = r.str()
    account = r.str()
    r.skip(2)  # openClose, origin
    order_ref = r.str()
    transmit = r.bool()
    parent_id = r.int()
    r.skip(4)  # blockOrder, sweepToFill, displaySize, triggerMethod
    outside_rth = r.bool()
    r.skip(1)  # hidden
    unsupported = []
    if contract.sec_type.upper() == "BAG":
        unsupported.append("a combo (BAG) order")
        legs = r.int()
        r.skip(8 * legs)
        order_legs = r.int()
        r.skip(order_legs)
        params = r.int()
        r.skip(2 * params)
    r.skip(1)  # deprecated sharesAllocation
    r.skip(2)  # discretionaryAmt, goodAfterTime
    good_till_date = r.str()
    r.skip(3)  # faGroup, faMethod, faPercentage
    if server_version < 177:
        r.skip(1)  # faProfile
    # modelCode .. volatilityType (22 fields), then the delta-neutral order type and aux price
    r.skip(22)
    delta_neutral_type = r.str()
    r.skip(1)
    if delta_neutral_type:
        unsupported.append("a delta-neutral order")
        r.skip(8)
    r.skip(6)  # continuousUpdate .. scaleSubsLevelSize
    scale_increment = r.float()
    if scale_increment is not None and 0 < scale_increment < UNSET_DOUBLE:
        unsupported.append("a scale order")
        r.skip(7)
    r.skip(3)  # scaleTable, activeStartTime, activeStopTime
    hedge_type = r.str()
    if hedge_type:
        unsupported.append("a hedge order")
        r.skip(1)
    r.skip(4)  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld
    if r.bool():  # delta-neutral contract
        r.skip(3)
    algo = r.str()
    if algo:
        unsupported.append(f"the {algo} algo")
        r.skip(2 * r.int())
    r.skip(1)  # algoId
    what_if = r.bool()
    r.skip(4)  # orderMiscOptions, solicited, randomizeSize, randomizePrice
    if order_type in ("PEG BENCH", "PEGBENCH"):
        r.skip(5)
    if r.remaining and r.int() > 0:
        unsupported.append("a conditional order")
    if parent_id:
        unsupported.append("a child (bracket) order")
    if not transmit:
        unsupported.append("an order with transmit off")
    return OrderRequest(
        order_id=order_id,
        contract=contract,
        action=action,
        total_quantity=total_quantity,
        order_type=order_type,
        limit_price=limit_price,
        aux_price=aux_price,
        tif=tif,
        oca_group=oca_group,
        account=account,
        order_ref=order_ref,
        transmit=transmit,
        parent_id=parent_id,
        outside_rth=outside_rth,
        good_till_date=good_till_date,
        what_if=what_if,
        unsupported=", ".join(unsupported),
    )
