"""Encoders for every message the gateway sends, field for field as the TWS API lays them out.

Each function returns the message's fields; ``protocol.encode_message`` frames them. Layouts depend on
the negotiated server version exactly where the client libraries' decoders do (ib_async 2.1 at 178,
ib_insync 0.9.86 at 176). Unit tests feed every encoder's output through ``ib_async.decoder.Decoder``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from zoneinfo import ZoneInfo

from bot.sim.protocol import UNSET_DOUBLE, Field, format_float
from bot.sim.records import ExecutionRecord, Greeks, Instrument, MarginImpact, OrderRecord, PositionRecord

NEW_YORK = ZoneInfo("America/New_York")

# Incoming message ids (client -> server).
REQ_MKT_DATA = 1
CANCEL_MKT_DATA = 2
PLACE_ORDER = 3
CANCEL_ORDER = 4
REQ_OPEN_ORDERS = 5
REQ_ACCOUNT_UPDATES = 6
REQ_EXECUTIONS = 7
REQ_IDS = 8
REQ_CONTRACT_DETAILS = 9
REQ_AUTO_OPEN_ORDERS = 15
REQ_ALL_OPEN_ORDERS = 16
REQ_MANAGED_ACCTS = 17
REQ_HISTORICAL_DATA = 20
CANCEL_HISTORICAL_DATA = 25
REQ_CURRENT_TIME = 49
REQ_GLOBAL_CANCEL = 58
REQ_MARKET_DATA_TYPE = 59
REQ_POSITIONS = 61
REQ_ACCOUNT_SUMMARY = 62
CANCEL_ACCOUNT_SUMMARY = 63
CANCEL_POSITIONS = 64
START_API = 71
REQ_ACCOUNT_UPDATES_MULTI = 76
CANCEL_ACCOUNT_UPDATES_MULTI = 77
REQ_SEC_DEF_OPT_PARAMS = 78
REQ_MARKET_RULE = 91
REQ_COMPLETED_ORDERS = 99

REQUEST_NAMES: dict[int, str] = {
    REQ_MKT_DATA: "reqMktData",
    CANCEL_MKT_DATA: "cancelMktData",
    PLACE_ORDER: "placeOrder",
    CANCEL_ORDER: "cancelOrder",
    REQ_OPEN_ORDERS: "reqOpenOrders",
    REQ_ACCOUNT_UPDATES: "reqAccountUpdates",
    REQ_EXECUTIONS: "reqExecutions",
    REQ_IDS: "reqIds",
    REQ_CONTRACT_DETAILS: "reqContractDetails",
    REQ_AUTO_OPEN_ORDERS: "reqAutoOpenOrders",
    REQ_ALL_OPEN_ORDERS: "reqAllOpenOrders",
    REQ_MANAGED_ACCTS: "reqManagedAccts",
    REQ_HISTORICAL_DATA: "reqHistoricalData",
    CANCEL_HISTORICAL_DATA: "cancelHistoricalData",
    REQ_CURRENT_TIME: "reqCurrentTime",
    REQ_GLOBAL_CANCEL: "reqGlobalCancel",
    REQ_MARKET_DATA_TYPE: "reqMarketDataType",
    REQ_POSITIONS: "reqPositions",
    REQ_ACCOUNT_SUMMARY: "reqAccountSummary",
    CANCEL_ACCOUNT_SUMMARY: "cancelAccountSummary",
    CANCEL_POSITIONS: "cancelPositions",
    START_API: "startApi",
    REQ_ACCOUNT_UPDATES_MULTI: "reqAccountUpdatesMulti",
    CANCEL_ACCOUNT_UPDATES_MULTI: "cancelAccountUpdatesMulti",
    REQ_SEC_DEF_OPT_PARAMS: "reqSecDefOptParams",
    REQ_MARKET_RULE: "reqMarketRule",
    REQ_COMPLETED_ORDERS: "reqCompletedOrders",
}

# Outgoing message ids (server -> client).
TICK_PRICE = 1
TICK_SIZE = 2
ORDER_STATUS = 3
ERR_MSG = 4
OPEN_ORDER = 5
ACCT_VALUE = 6
PORTFOLIO_VALUE = 7
ACCT_UPDATE_TIME = 8
NEXT_VALID_ID = 9
CONTRACT_DATA = 10
EXECUTION_DATA = 11
MANAGED_ACCTS = 15
HISTORICAL_DATA = 17
HISTORICAL_DATA_UPDATE = 90
TICK_OPTION_COMPUTATION = 21
TICK_GENERIC = 45
TICK_STRING = 46
CURRENT_TIME = 49
CONTRACT_DATA_END = 52
OPEN_ORDER_END = 53
ACCT_DOWNLOAD_END = 54
EXECUTION_DATA_END = 55
TICK_SNAPSHOT_END = 57
MARKET_DATA_TYPE = 58
COMMISSION_REPORT = 59
POSITION_DATA = 61
POSITION_END = 62
ACCOUNT_SUMMARY = 63
ACCOUNT_SUMMARY_END = 64
ACCOUNT_UPDATE_MULTI = 73
ACCOUNT_UPDATE_MULTI_END = 74
SECURITY_DEFINITION_OPTION_PARAMETER = 75
SECURITY_DEFINITION_OPTION_PARAMETER_END = 76
TICK_REQ_PARAMS = 81
MARKET_RULE = 93
COMPLETED_ORDER = 101
COMPLETED_ORDER_END = 102

# Tick types (live, delayed).
TICK_BID_SIZE, TICK_BID, TICK_ASK, TICK_ASK_SIZE, TICK_LAST, TICK_LAST_SIZE = 0, 1, 2, 3, 4, 5
TICK_HIGH, TICK_LOW, TICK_VOLUME, TICK_CLOSE, TICK_OPEN = 6, 7, 8, 9, 14
TICK_MODEL_OPTION = 13
TICK_LAST_TIMESTAMP = 45
DELAYED_TICK = {0: 69, 1: 66, 2: 67, 3: 70, 4: 68, 5: 71, 6: 72, 7: 73, 8: 74, 9: 75, 14: 76, 13: 83, 45: 88}

ORDER_TYPES = "LMT,MKT,DAY,GTC,IOC,WHATIF"
UNSET_TEXT = format_float(UNSET_DOUBLE)


def ib_datetime(moment: dt.datetime) -> str:
    """``20251124 10:30:00 America/New_York``: a form both client libraries parse with its zone."""
    return moment.astimezone(NEW_YORK).strftime("%Y%m%d %H:%M:%S") + " America/New_York"


def connection_time(moment: dt.datetime) -> str:
    """The handshake's second field, as TWS sends it: ``20251124 10:30:00 EST``."""
    local = moment.astimezone(NEW_YORK)
    return local.strftime("%Y%m%d %H:%M:%S ") + (local.tzname() or "EST")


def _qty(value: float) -> str:
    return format_float(float(value))


def _price(value: float | None) -> Field:
    return None if value is None or math.isnan(value) else float(value)


def _contract_fields(instrument: Instrument, exchange: str) -> list[Field]:
    """conId .. tradingClass as most messages carry it (without primaryExchange)."""
    return [
        instrument.con_id,
        instrument.symbol,
        instrument.sec_type,
        instrument.expiry_text,
        instrument.strike,
        instrument.right,
        instrument.multiplier_text,
        exchange,
        instrument.currency,
        instrument.local_symbol,
        instrument.trading_class,
    ]


# -- handshake and session ------------------------------------------------------------------------


def handshake(server_version: int, moment: dt.datetime) -> list[Field]:
    return [server_version, connection_time(moment)]


def next_valid_id(order_id: int) -> list[Field]:
    return [NEXT_VALID_ID, 1, order_id]


def managed_accounts(accounts: Sequence[str]) -> list[Field]:
    return [MANAGED_ACCTS, 1, ",".join(accounts)]


def error(server_version: int, req_id: int, code: int, message: str, advanced_json: str = "") -> list[Field]:
    fields: list[Field] = [ERR_MSG, 2, req_id, code, message]
    if server_version >= 166:
        fields.append(advanced_json)
    return fields


def current_time(epoch_seconds: int) -> list[Field]:
    return [CURRENT_TIME, 1, epoch_seconds]


# -- market data -------------------------------------------------------------------------------


def tick_price(req_id: int, tick_type: int, price: float | str, size: float, attributes: int = 0) -> list[Field]:
    return [TICK_PRICE, 6, req_id, tick_type, price, _qty(size), attributes]


def tick_size(req_id: int, tick_type: int, size: float) -> list[Field]:
    return [TICK_SIZE, 6, req_id, tick_type, _qty(size)]


def tick_generic(req_id: int, tick_type: int, value: float) -> list[Field]:
    return [TICK_GENERIC, 6, req_id, tick_type, value]


def tick_string(req_id: int, tick_type: int, value: str) -> list[Field]:
    return [TICK_STRING, 6, req_id, tick_type, value]


def tick_option_computation(req_id: int, tick_type: int, greeks: Greeks | None) -> list[Field]:
    """Model greeks; ``None`` sends IB's "not computed" markers (-1 prices, -2 greeks)."""
    if greeks is None:
        return [TICK_OPTION_COMPUTATION, req_id, tick_type, 1, -1.0, -2.0, -1.0, -1.0, -2.0, -2.0, -2.0, -1.0]
    return [
        TICK_OPTION_COMPUTATION,
        req_id,
        tick_type,
        1,  # tickAttrib: 1 = price based
        round(greeks.implied_vol, 6),
        round(greeks.delta, 6),
        round(greeks.price, 6),
        0.0,  # pvDividend: cash-settled index options carry none
        round(greeks.gamma, 6),
        round(greeks.vega, 6),
        round(greeks.theta, 6),
        round(greeks.underlying, 4),
    ]


def tick_option_computation_nan(req_id: int, tick_type: int) -> list[Field]:
    """Greeks that are all NaN: what a broken model computation looks like to a client."""
    return [TICK_OPTION_COMPUTATION, req_id, tick_type, 1, *(["nan"] * 8)]


def tick_req_params(req_id: int, min_tick: float, bbo_exchange: str, snapshot_permissions: int) -> list[Field]:
    return [TICK_REQ_PARAMS, req_id, min_tick, bbo_exchange, snapshot_permissions]


def market_data_type(req_id: int, data_type: int) -> list[Field]:
    return [MARKET_DATA_TYPE, 1, req_id, data_type]


def tick_snapshot_end(req_id: int) -> list[Field]:
    return [TICK_SNAPSHOT_END, 1, req_id]


# -- contracts ---------------------------------------------------------------------------------


def contract_details(
    server_version: int,
    req_id: int,
    instrument: Instrument,
    exchange: str,
    trading_hours: str,
    liquid_hours: str,
) -> list[Field]:
    market_rules = ",".join(str(instrument.market_rule_id) for _ in instrument.valid_exchanges)
    fields: list[Field] = []
    if server_version < 164:
        fields += [CONTRACT_DATA, 8]
    else:
        fields += [CONTRACT_DATA]
    fields += [
        req_id,
        instrument.symbol,
        instrument.sec_type,
        instrument.expiry_text,
        instrument.strike,
        instrument.right,
        exchange,
        instrument.currency,
        instrument.local_symbol,
        instrument.trading_class if instrument.sec_type != "IND" else instrument.symbol,  # marketName
        instrument.trading_class,
        instrument.con_id,
        instrument.min_tick,
    ]
    if server_version < 164:
        fields.append(1)  # mdSizeMultiplier (obsolete)
    fields += [
        instrument.multiplier_text,
        ORDER_TYPES,
        ",".join(instrument.valid_exchanges),
        1,  # priceMagnifier
        instrument.under_con_id,
        instrument.long_name,
        instrument.exchange,  # primaryExchange
        instrument.contract_month,
        "",  # industry
        "",  # category
        "",  # subcategory
        instrument.time_zone_id,
        trading_hours,
        liquid_hours,
        "",  # evRule
        "",  # evMultiplier
        0,  # number of secIds
        2 if instrument.sec_type == "OPT" else 1,  # aggGroup
        instrument.under_symbol,
        instrument.under_sec_type,
        market_rules,
        instrument.expiry_text,  # realExpirationDate
        "",  # stockType
    ]
    if server_version == 163:
        fields.append(1)
    if server_version >= 164:
        fields += [1, 1, 1]  # minSize, sizeIncrement, suggestedSizeIncrement
    return fields


def contract_details_end(req_id: int) -> list[Field]:
    return [CONTRACT_DATA_END, 1, req_id]


def security_definition_option_parameter(
    req_id: int,
    exchange: str,
    underlying_con_id: int,
    trading_class: str,
    multiplier: str,
    expirations: Sequence[str],
    strikes: Sequence[float],
) -> list[Field]:
    fields: list[Field] = [
        SECURITY_DEFINITION_OPTION_PARAMETER,
        req_id,
        exchange,
        underlying_con_id,
        trading_class,
        multiplier,
        len(expirations),
    ]
    fields += list(expirations)
    fields.append(len(strikes))
    fields += [float(strike) for strike in strikes]
    return fields


def security_definition_option_parameter_end(req_id: int) -> list[Field]:
    return [SECURITY_DEFINITION_OPTION_PARAMETER_END, req_id]


def market_rule(rule_id: int, increments: Sequence[tuple[float, float]]) -> list[Field]:
    fields: list[Field] = [MARKET_RULE, rule_id, len(increments)]
    for low_edge, increment in increments:
        fields += [low_edge, increment]
    return fields


# -- history -------------------------------------------------------------------------------------


def historical_data(
    req_id: int,
    start: str,
    end: str,
    bars: Sequence[tuple[str, float, float, float, float, float, float, int]],
) -> list[Field]:
    """Bars are (date, open, high, low, close, volume, wap, barCount)."""
    fields: list[Field] = [HISTORICAL_DATA, req_id, start, end, len(bars)]
    for date, open_, high, low, close, volume, wap, count in bars:
        fields += [date, open_, high, low, close, _qty(volume), wap, count]
    return fields


def historical_data_update(req_id: int, date: str, open_: float, high: float, low: float, close: float) -> list[Field]:
    """keepUpToDate: the bar in progress (barCount, date, open, close, high, low, WAP, volume)."""
    return [HISTORICAL_DATA_UPDATE, req_id, -1, date, open_, close, high, low, close, 0]


# -- account -------------------------------------------------------------------------------------


def account_value(key: str, value: str, currency: str, account: str) -> list[Field]:
    return [ACCT_VALUE, 2, key, value, currency, account]


def portfolio_value(
    instrument: Instrument,
    position: float,
    market_price: float,
    market_value: float,
    average_cost: float,
    unrealized_pnl: float,
    realized_pnl: float,
    account: str,
) -> list[Field]:
    return [
        PORTFOLIO_VALUE,
        8,
        instrument.con_id,
        instrument.symbol,
        instrument.sec_type,
        instrument.expiry_text,
        instrument.strike,
        instrument.right,
        instrument.multiplier_text,
        instrument.exchange,  # primaryExchange
        instrument.currency,
        instrument.local_symbol,
        instrument.trading_class,
        _qty(position),
        round(market_price, 6),
        round(market_value, 2),
        round(average_cost, 6),
        round(unrealized_pnl, 2),
        round(realized_pnl, 2),
        account,
    ]


def account_update_time(moment: dt.datetime) -> list[Field]:
    return [ACCT_UPDATE_TIME, 1, moment.astimezone(NEW_YORK).strftime("%H:%M")]


def account_download_end(account: str) -> list[Field]:
    return [ACCT_DOWNLOAD_END, 1, account]


def account_update_multi(
    req_id: int, account: str, model_code: str, key: str, value: str, currency: str
) -> list[Field]:
    return [ACCOUNT_UPDATE_MULTI, 1, req_id, account, model_code, key, value, currency]


def account_update_multi_end(req_id: int) -> list[Field]:
    return [ACCOUNT_UPDATE_MULTI_END, 1, req_id]


def account_summary(req_id: int, account: str, tag: str, value: str, currency: str) -> list[Field]:
    return [ACCOUNT_SUMMARY, 1, req_id, account, tag, value, currency]


def account_summary_end(req_id: int) -> list[Field]:
    return [ACCOUNT_SUMMARY_END, 1, req_id]


def position(account: str, instrument: Instrument, record: PositionRecord) -> list[Field]:
    return [
        POSITION_DATA,
        3,
        account,
        *_contract_fields(instrument, instrument.exchange),
        _qty(record.quantity),
        round(record.average_cost, 6),
    ]


def position_end() -> list[Field]:
    return [POSITION_END, 1]


# -- orders --------------------------------------------------------------------------------------


def order_status(order: OrderRecord, market_cap_price: float = 0.0) -> list[Field]:
    return [
        ORDER_STATUS,
        order.order_id,
        order.status,
        _qty(order.filled),
        _qty(order.remaining),
        round(order.avg_fill_price, 6),
        order.perm_id,
        order.parent_id,
        round(order.last_fill_price, 6),
        order.client_id,
        order.why_held,
        market_cap_price,
    ]


def _order_head(order: OrderRecord, instrument: Instrument) -> list[Field]:
    """contract .. origin, shared by open and completed orders."""
    return [
        *_contract_fields(instrument, order.exchange),
        order.action,
        _qty(order.total_quantity),
        order.order_type,
        _price(order.limit_price),
        _price(order.aux_price),
        order.tif,
        order.oca_group,
        order.account,
        "O",  # openClose
        0,  # origin: customer
        order.order_ref,
    ]


def open_order(
    server_version: int,
    order: OrderRecord,
    instrument: Instrument,
    what_if: MarginImpact | None = None,
    status: str | None = None,
) -> list[Field]:
    fields: list[Field] = [OPEN_ORDER, order.order_id, *_order_head(order, instrument)]
    fields += [
        order.client_id,
        order.perm_id,
        order.outside_rth,
        False,  # hidden
        0,  # discretionaryAmt
        "",  # goodAfterTime
        "",  # sharesAllocation (deprecated)
        "",  # faGroup
        "",  # faMethod
        "",  # faPercentage
    ]
    if server_version < 177:
        fields.append("")  # faProfile
    fields += [
        "",  # modelCode
        order.good_till_date,
        "",  # rule80A
        None,  # percentOffset
        "",  # settlingFirm
        0,  # shortSaleSlot
        "",  # designatedLocation
        -1,  # exemptCode
        0,  # auctionStrategy
        None,  # startingPrice
        None,  # stockRefPrice
        None,  # delta
        None,  # stockRangeLower
        None,  # stockRangeUpper
        None,  # displaySize
        False,  # blockOrder
        False,  # sweepToFill
        False,  # allOrNone
        None,  # minQty
        3 if order.oca_group else 0,  # ocaType
        False,  # eTradeOnly
        False,  # firmQuoteOnly
        None,  # nbboPriceCap
        order.parent_id,
        0,  # triggerMethod
        None,  # volatility
        None,  # volatilityType
        "",  # deltaNeutralOrderType: empty, so no delta-neutral block follows
        None,  # deltaNeutralAuxPrice
    ]
    fields += [
        False,  # continuousUpdate
        None,  # referencePriceType
        None,  # trailStopPrice
        None,  # trailingPercent
        None,  # basisPoints
        None,  # basisPointsType
        "",  # comboLegsDescrip
        0,  # comboLegs
        0,  # orderComboLegs
        0,  # smartComboRoutingParams
        None,  # scaleInitLevelSize
        None,  # scaleSubsLevelSize
        None,  # scalePriceIncrement
        "",  # hedgeType
        False,  # optOutSmartRouting
        "",  # clearingAccount
        "",  # clearingIntent
        False,  # notHeld
        False,  # deltaNeutralContract present
        "",  # algoStrategy
        False,  # solicited
        what_if is not None,
        status if status is not None else order.status,
    ]
    if what_if is None:
        fields += ["", "", "", "", "", "", "", "", "", None, None, None, "", ""]
    else:
        fields += [
            format_float(round(what_if.init_before, 2)),
            format_float(round(what_if.maint_before, 2)),
            format_float(round(what_if.equity_before, 2)),
            format_float(round(what_if.init_change, 2)),
            format_float(round(what_if.maint_change, 2)),
            format_float(round(what_if.equity_change, 2)),
            format_float(round(what_if.init_after, 2)),
            format_float(round(what_if.maint_after, 2)),
            format_float(round(what_if.equity_after, 2)),
            round(what_if.commission, 4),
            round(what_if.min_commission, 4),
            round(what_if.max_commission, 4),
            "USD",
            what_if.warning,
        ]
    fields += [
        False,  # randomizeSize
        False,  # randomizePrice
        0,  # conditions
        "",  # adjustedOrderType
        None,  # triggerPrice
        None,  # trailStopPrice
        None,  # lmtPriceOffset
        None,  # adjustedStopPrice
        None,  # adjustedStopLimitPrice
        None,  # adjustedTrailingAmount
        0,  # adjustableTrailingUnit
        "",  # softDollarTier name
        "",  # softDollarTier value
        "",  # softDollarTier displayName
        None,  # cashQty
        False,  # dontUseAutoPriceForHedge
        False,  # isOmsContainer
        False,  # discretionaryUpToLimitPrice
        False,  # usePriceMgmtAlgo
    ]
    if server_version >= 159:
        fields.append(None)  # duration
    if server_version >= 160:
        fields.append(None)  # postToAts
    if server_version >= 162:
        fields.append(False)  # autoCancelParent
    if server_version >= 170:
        fields += [None, None, None, None, None]  # minTradeQty .. midOffsetAtHalf
    return fields


def open_order_end() -> list[Field]:
    return [OPEN_ORDER_END, 1]


def completed_order(server_version: int, order: OrderRecord, instrument: Instrument) -> list[Field]:
    fields: list[Field] = [COMPLETED_ORDER, *_order_head(order, instrument)]
    fields += [
        order.perm_id,
        order.outside_rth,
        False,  # hidden
        0,  # discretionaryAmt
        "",  # goodAfterTime
        "",  # faGroup
        "",  # faMethod
        "",  # faPercentage
    ]
    if server_version < 177:
        fields.append("")  # faProfile
    fields += [
        "",  # modelCode
        order.good_till_date,
        "",  # rule80A
        None,  # percentOffset
        "",  # settlingFirm
        0,  # shortSaleSlot
        "",  # designatedLocation
        -1,  # exemptCode
        None,  # startingPrice
        None,  # stockRefPrice
        None,  # delta
        None,  # stockRangeLower
        None,  # stockRangeUpper
        None,  # displaySize
        False,  # sweepToFill
        False,  # allOrNone
        None,  # minQty
        3 if order.oca_group else 0,  # ocaType
        0,  # triggerMethod
        None,  # volatility
        None,  # volatilityType
        "",  # deltaNeutralOrderType
        None,  # deltaNeutralAuxPrice
        False,  # continuousUpdate
        None,  # referencePriceType
        None,  # trailStopPrice
        None,  # trailingPercent
        "",  # comboLegsDescrip
        0,  # comboLegs
        0,  # orderComboLegs
        0,  # smartComboRoutingParams
        None,  # scaleInitLevelSize
        None,  # scaleSubsLevelSize
        None,  # scalePriceIncrement
        "",  # hedgeType
        "",  # clearingAccount
        "",  # clearingIntent
        False,  # notHeld
        False,  # deltaNeutralContract present
        "",  # algoStrategy
        False,  # solicited
        order.status,
        False,  # randomizeSize
        False,  # randomizePrice
        0,  # conditions
        None,  # trailStopPrice
        None,  # lmtPriceOffset
        None,  # cashQty
        False,  # dontUseAutoPriceForHedge
        False,  # isOmsContainer
        "",  # autoCancelDate
        _qty(order.filled),  # filledQuantity
        0,  # refFuturesConId
        False,  # autoCancelParent
        "",  # shareholder
        False,  # imbalanceOnly
        False,  # routeMarketableToBbo
        0,  # parentPermId
        ib_datetime(order.completed_time) if order.completed_time else "",
        order.completed_status,
    ]
    if server_version >= 170:
        fields += [None, None, None, None, None]
    return fields


def completed_orders_end() -> list[Field]:
    return [COMPLETED_ORDER_END]


def execution_details(
    server_version: int, req_id: int, execution: ExecutionRecord, instrument: Instrument
) -> list[Field]:
    fields: list[Field] = [
        EXECUTION_DATA,
        req_id,
        execution.order_id,
        *_contract_fields(instrument, execution.exchange),
        execution.exec_id,
        ib_datetime(execution.time),
        execution.account,
        execution.exchange,
        execution.side,
        _qty(execution.shares),
        round(execution.price, 6),
        execution.perm_id,
        execution.client_id,
        0,  # liquidation
        _qty(execution.cum_qty),
        round(execution.avg_price, 6),
        execution.order_ref,
        "",  # evRule
        "",  # evMultiplier
        "",  # modelCode
        execution.liquidity,
    ]
    if server_version >= 178:
        fields.append(False)  # pendingPriceRevision
    return fields


def execution_details_end(req_id: int) -> list[Field]:
    return [EXECUTION_DATA_END, 1, req_id]


def commission_report(execution: ExecutionRecord) -> list[Field]:
    realized = UNSET_TEXT if execution.realized_pnl is None else format_float(round(execution.realized_pnl, 2))
    return [
        COMMISSION_REPORT,
        1,
        execution.exec_id,
        round(execution.commission, 4),
        "USD",
        realized,
        UNSET_TEXT,  # yield
        "",  # yieldRedemptionDate
    ]


def join_hours(sessions: Iterable[tuple[str, str | None]]) -> str:
    """IB's session text: ``20251124:0830-20251124:1515;20251127:CLOSED``."""
    parts = []
    for day, span in sessions:
        parts.append(f"{day}:CLOSED" if span is None else span)
    return ";".join(parts)
