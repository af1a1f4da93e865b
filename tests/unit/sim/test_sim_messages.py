"""Every message the gateway encodes, decoded by ib_async's own Decoder with the field values checked."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from ib_async.contract import ContractDetails
from ib_async.objects import CommissionReport, Execution
from ib_async.order import Order, OrderState
from ib_async.util import UNSET_DOUBLE

from bot.sim import messages as m
from bot.sim.protocol import (
    FieldReader,
    ProtocolError,
    decode_payload,
    encode_message,
    encode_payload,
    negotiate_version,
    parse_version_range,
)
from bot.sim.records import ExecutionRecord, Greeks, Instrument, MarginImpact, OrderRecord, PositionRecord
from tests.unit.sim.decoding import decode, decode_one

VIX_CALL = Instrument(
    con_id=812345678,
    symbol="VIX",
    sec_type="OPT",
    exchange="CBOE",
    valid_exchanges=("SMART", "CBOE"),
    local_symbol="VIX   251217C00018000",
    trading_class="VIX",
    multiplier=100,
    expiry=dt.date(2025, 12, 17),
    last_trade_date=dt.date(2025, 12, 16),
    strike=18.0,
    right="C",
    settlement="AM",
    long_name="CBOE Volatility Index",
    under_con_id=13455763,
    under_symbol="VIX",
    under_sec_type="IND",
    market_rule_id=110,
)
VIX_INDEX = Instrument(
    con_id=13455763,
    symbol="VIX",
    sec_type="IND",
    exchange="CBOE",
    valid_exchanges=("CBOE",),
    local_symbol="VIX",
    long_name="CBOE Volatility Index",
    market_rule_id=62,
)
NOW = dt.datetime(2025, 11, 24, 15, 30, 5, tzinfo=dt.UTC)


def make_order(**changes: object) -> OrderRecord:
    values: dict[str, object] = {
        "perm_id": 1_234_567_890,
        "client_id": 7,
        "order_id": 42,
        "account": "DU1234567",
        "con_id": VIX_CALL.con_id,
        "exchange": "SMART",
        "action": "BUY",
        "total_quantity": 3.0,
        "order_type": "LMT",
        "limit_price": 1.25,
        "aux_price": None,
        "tif": "GTC",
        "order_ref": "alvh:intent:abc",
        "status": "Submitted",
        "filled": 1.0,
        "avg_fill_price": 1.2,
        "last_fill_price": 1.2,
        "created": NOW,
    }
    values.update(changes)
    return OrderRecord(**values)  # type: ignore[arg-type]


EXECUTION = ExecutionRecord(
    exec_id="0001f4e8.0000002a.01.01",
    time=NOW,
    account="DU1234567",
    con_id=VIX_CALL.con_id,
    exchange="CBOE",
    side="BOT",
    shares=2.0,
    price=1.2,
    perm_id=1_234_567_890,
    client_id=7,
    order_id=42,
    cum_qty=2.0,
    avg_price=1.2,
    order_ref="alvh:intent:abc",
    commission=2.1,
    realized_pnl=None,
)


# -- framing ------------------------------------------------------------------------------------


def test_frames_round_trip() -> None:
    wire = encode_message([1, "a", 1.5, True, None, ""])
    assert wire[:4] == len(wire[4:]).to_bytes(4, "big")
    assert decode_payload(wire[4:]) == ["1", "a", "1.5", "1", "", ""]
    assert encode_payload([2.0, 0.1 + 0.2]) == b"2\x000.3\x00"


def test_version_negotiation() -> None:
    assert parse_version_range("v157..178") == (157, 178, "")
    assert parse_version_range("v157..176 +PACEAPI") == (157, 176, "+PACEAPI")
    assert negotiate_version(157, 178) == 178
    assert negotiate_version(157, 176) == 176
    assert negotiate_version(157, 201) == 178
    assert negotiate_version(100, 150) is None
    with pytest.raises(ProtocolError):
        parse_version_range("hello")


def test_field_reader() -> None:
    reader = FieldReader(["3", "", "1.5", "1", "x", "1.7976931348623157e+308"])
    assert reader.int() == 3
    assert reader.int(default=-1) == -1
    assert reader.float() == 1.5
    assert reader.bool() is True
    assert reader.str() == "x"
    assert reader.float() is None
    with pytest.raises(ProtocolError):
        reader.str()


# -- session messages ------------------------------------------------------------------------------


def test_handshake_has_two_fields_and_no_message_id() -> None:
    fields = m.handshake(178, NOW)
    assert fields == [178, "20251124 10:30:05 EST"]


def test_next_valid_id_and_managed_accounts() -> None:
    assert decode_one(m.next_valid_id(17)) == ("nextValidId", (17,))
    assert decode_one(m.managed_accounts(["DU1234567"])) == ("managedAccounts", ("DU1234567",))


@pytest.mark.parametrize("version", [176, 178])
def test_error(version: int) -> None:
    name, args = decode_one(m.error(version, 12, 200, "No security definition has been found for the request"), version)
    assert name == "error"
    assert args == (12, 200, "No security definition has been found for the request", "")


def test_current_time() -> None:
    assert decode_one(m.current_time(1764000000)) == ("currentTime", (1764000000,))


# -- market data -------------------------------------------------------------------------------------


def test_tick_price_and_size() -> None:
    assert decode_one(m.tick_price(5, 1, 1.25, 30)) == ("priceSizeTick", (5, 1, 1.25, 30.0))
    assert decode_one(m.tick_price(5, 66, 0.95, 12)) == ("priceSizeTick", (5, 66, 0.95, 12.0))
    assert decode_one(m.tick_size(5, 0, 44)) == ("tickSize", (5, 0, 44.0))
    assert decode_one(m.tick_generic(5, 49, 0.0)) == ("tickGeneric", (5, 49, 0.0))
    assert decode_one(m.tick_string(5, 45, "1764000000")) == ("tickString", (5, 45, "1764000000"))


def test_tick_option_computation() -> None:
    greeks = Greeks(implied_vol=0.85, delta=0.45, price=1.3, gamma=0.12, vega=0.021, theta=-0.03, underlying=17.35)
    name, args = decode_one(m.tick_option_computation(9, 13, greeks))
    assert name == "tickOptionComputation"
    assert args == (9, 13, 1, 0.85, 0.45, 1.3, 0.0, 0.12, 0.021, -0.03, 17.35)
    name, args = decode_one(m.tick_option_computation(9, 83, None))
    assert args == (9, 83, 1, -1.0, -2.0, -1.0, -1.0, -2.0, -2.0, -2.0, -1.0)


def test_tick_option_computation_nan() -> None:
    name, args = decode_one(m.tick_option_computation_nan(9, 13))
    assert name == "tickOptionComputation" and args[:3] == (9, 13, 1)
    assert all(math.isnan(value) for value in args[3:])


def test_tick_req_params_market_data_type_snapshot_end() -> None:
    assert decode_one(m.tick_req_params(3, 0.01, "SMART", 3)) == ("tickReqParams", (3, 0.01, "SMART", 3))
    assert decode_one(m.market_data_type(3, 3)) == ("marketDataType", (3, 3))
    assert decode_one(m.tick_snapshot_end(3)) == ("tickSnapshotEnd", (3,))


# -- contracts -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [157, 163, 164, 176, 178])
def test_contract_details_option(version: int) -> None:
    calls = decode(m.contract_details(version, 4, VIX_CALL, "SMART", "20251124:0830-20251124:1515", "x"), version)
    assert [name for name, _ in calls] == ["contractDetails"]
    req_id, details = calls[0][1]
    assert req_id == 4
    assert isinstance(details, ContractDetails)
    contract = details.contract
    assert contract is not None
    assert (contract.conId, contract.symbol, contract.secType) == (VIX_CALL.con_id, "VIX", "OPT")
    assert contract.lastTradeDateOrContractMonth == "20251217"
    assert (contract.strike, contract.right, contract.multiplier) == (18.0, "C", "100")
    assert (contract.exchange, contract.currency) == ("SMART", "USD")
    assert (contract.localSymbol, contract.tradingClass, contract.primaryExchange) == (
        "VIX   251217C00018000",
        "VIX",
        "CBOE",
    )
    assert details.minTick == 0.01
    assert details.underConId == 13455763
    assert details.validExchanges == "SMART,CBOE"
    assert details.marketRuleIds == "110,110"
    assert details.contractMonth == "202512"
    assert details.realExpirationDate == "20251217"
    assert details.timeZoneId == "US/Central"
    assert details.tradingHours == "20251124:0830-20251124:1515"
    assert details.longName == "CBOE Volatility Index"
    assert (details.underSymbol, details.underSecType) == ("VIX", "IND")
    assert decode_one(m.contract_details_end(4), version) == ("contractDetailsEnd", (4,))


def test_contract_details_index() -> None:
    (_, (_, details)) = decode_one(m.contract_details(178, 1, VIX_INDEX, "CBOE", "", ""))
    assert details.contract.conId == 13455763
    assert details.contract.secType == "IND"
    assert details.contract.lastTradeDateOrContractMonth == ""
    assert details.contract.multiplier == ""
    assert details.marketName == "VIX"


def test_security_definition_option_parameter() -> None:
    fields = m.security_definition_option_parameter(
        8, "SMART", 13455763, "VIXW", "100", ["20251203", "20251210"], [15.0, 15.5, 16.0]
    )
    assert decode_one(fields) == (
        "securityDefinitionOptionParameter",
        (8, "SMART", "13455763", "VIXW", "100", ["20251203", "20251210"], [15.0, 15.5, 16.0]),
    )
    assert decode_one(m.security_definition_option_parameter_end(8)) == ("securityDefinitionOptionParameterEnd", (8,))


def test_market_rule() -> None:
    name, (rule_id, increments) = decode_one(m.market_rule(110, [(0.0, 0.01), (3.0, 0.05)]))
    assert (name, rule_id) == ("marketRule", 110)
    assert [(i.lowEdge, i.increment) for i in increments] == [(0.0, 0.01), (3.0, 0.05)]


def test_historical_data() -> None:
    bars = [("20251121", 15.1, 16.0, 14.9, 15.5, 0, 15.4, 0), ("20251124", 15.5, 15.9, 15.0, 15.2, 0, 15.3, 0)]
    calls = decode(m.historical_data(6, "20241124 10:30:00", "20251124 10:30:00", bars))
    assert [name for name, _ in calls] == ["historicalData", "historicalData", "historicalDataEnd"]
    first = calls[0][1][1]
    assert (first.date, first.open, first.high, first.low, first.close, first.average) == (
        "20251121",
        15.1,
        16.0,
        14.9,
        15.5,
        15.4,
    )
    assert calls[2][1] == (6, "20241124 10:30:00", "20251124 10:30:00")


def test_historical_data_update() -> None:
    name, (req_id, bar) = decode_one(
        m.historical_data_update(6, "20251124 10:30:00 America/New_York", 15.1, 15.6, 14.9, 15.2)
    )
    assert (name, req_id) == ("historicalDataUpdate", 6)
    assert (bar.date, bar.open, bar.high, bar.low, bar.close, bar.barCount) == (
        "20251124 10:30:00 America/New_York",
        15.1,
        15.6,
        14.9,
        15.2,
        -1,
    )


# -- account -------------------------------------------------------------------------------------------


def test_account_messages() -> None:
    assert decode_one(m.account_value("NetLiquidation", "1001234.5", "USD", "DU1")) == (
        "updateAccountValue",
        ("NetLiquidation", "1001234.5", "USD", "DU1"),
    )
    assert decode_one(m.account_update_time(NOW)) == ("updateAccountTime", ("10:30",))
    assert decode_one(m.account_download_end("DU1")) == ("accountDownloadEnd", ("DU1",))
    assert decode_one(m.account_update_multi(3, "DU1", "", "NetLiquidation", "5", "USD")) == (
        "accountUpdateMulti",
        (3, "DU1", "", "NetLiquidation", "5", "USD"),
    )
    assert decode_one(m.account_update_multi_end(3)) == ("accountUpdateMultiEnd", (3,))
    assert decode_one(m.account_summary(3, "DU1", "NetLiquidation", "5", "USD")) == (
        "accountSummary",
        (3, "DU1", "NetLiquidation", "5", "USD"),
    )
    assert decode_one(m.account_summary_end(3)) == ("accountSummaryEnd", (3,))


def test_portfolio_value() -> None:
    name, args = decode_one(m.portfolio_value(VIX_CALL, -2, 1.3, -260.0, 125.5, -9.0, 3.5, "DU1"))
    assert name == "updatePortfolio"
    contract, position, price, value, average_cost, unrealized, realized, account = args
    assert (contract.conId, contract.right, contract.strike, contract.primaryExchange) == (
        VIX_CALL.con_id,
        "C",
        18.0,
        "CBOE",
    )
    assert (position, price, value, average_cost, unrealized, realized, account) == (
        -2.0,
        1.3,
        -260.0,
        125.5,
        -9.0,
        3.5,
        "DU1",
    )


def test_position() -> None:
    name, (account, contract, quantity, average_cost) = decode_one(
        m.position("DU1", VIX_CALL, PositionRecord(con_id=VIX_CALL.con_id, quantity=5, average_cost=131.05))
    )
    assert name == "position"
    assert (account, quantity, average_cost) == ("DU1", 5.0, 131.05)
    assert (contract.conId, contract.exchange, contract.tradingClass, contract.multiplier) == (
        VIX_CALL.con_id,
        "CBOE",
        "VIX",
        "100",
    )
    assert decode_one(m.position_end()) == ("positionEnd", ())


# -- orders ---------------------------------------------------------------------------------------------


def test_order_status() -> None:
    order = make_order()
    name, args = decode_one(m.order_status(order))
    assert name == "orderStatus"
    assert args == (42, "Submitted", 1.0, 2.0, 1.2, 1_234_567_890, 0, 1.2, 7, "", 0.0)


@pytest.mark.parametrize("version", [157, 164, 170, 176, 177, 178])
def test_open_order(version: int) -> None:
    order = make_order()
    name, (order_id, contract, decoded, state) = decode_one(m.open_order(version, order, VIX_CALL), version)
    assert name == "openOrder"
    assert order_id == 42
    assert isinstance(decoded, Order)
    assert isinstance(state, OrderState)
    assert (decoded.orderId, decoded.clientId, decoded.permId) == (42, 7, 1_234_567_890)
    assert (decoded.action, decoded.totalQuantity, decoded.orderType) == ("BUY", 3.0, "LMT")
    assert (decoded.lmtPrice, decoded.auxPrice, decoded.tif) == (1.25, UNSET_DOUBLE, "GTC")
    assert decoded.orderRef == "alvh:intent:abc"
    assert decoded.account == "DU1234567"
    assert decoded.whatIf is False
    assert state.status == "Submitted"
    assert (contract.conId, contract.exchange, contract.strike) == (VIX_CALL.con_id, "SMART", 18.0)


def test_open_order_what_if() -> None:
    impact = MarginImpact(
        init_before=100.0,
        maint_before=90.0,
        equity_before=1_000_000.0,
        init_change=0.0,
        maint_change=0.0,
        equity_change=-377.1,
        init_after=100.0,
        maint_after=90.0,
        equity_after=999_622.9,
        commission=2.1,
        min_commission=2.1,
        max_commission=2.1,
    )
    order = make_order(status="PreSubmitted", filled=0.0, perm_id=0)
    _, (_, _, decoded, state) = decode_one(m.open_order(178, order, VIX_CALL, what_if=impact))
    assert decoded.whatIf is True
    assert state.initMarginChange == "0"
    assert float(state.initMarginChange) != UNSET_DOUBLE  # what ib_async tests to finish the request
    assert state.equityWithLoanChange == "-377.1"
    assert state.commission == 2.1
    assert state.commissionCurrency == "USD"
    assert decode_one(m.open_order_end()) == ("openOrderEnd", ())


@pytest.mark.parametrize("version", [164, 176, 178])
def test_completed_order(version: int) -> None:
    order = make_order(
        status="Filled", filled=3.0, completed_time=NOW, completed_status="Filled", perm_id=99, order_ref="r1"
    )
    name, (contract, decoded, state) = decode_one(m.completed_order(version, order, VIX_CALL), version)
    assert name == "completedOrder"
    assert (decoded.permId, decoded.orderRef, decoded.filledQuantity) == (99, "r1", 3.0)
    assert (decoded.action, decoded.totalQuantity, decoded.lmtPrice, decoded.tif) == ("BUY", 3.0, 1.25, "GTC")
    assert (state.status, state.completedStatus) == ("Filled", "Filled")
    assert state.completedTime == "20251124 10:30:05 America/New_York"
    assert contract.conId == VIX_CALL.con_id
    assert decode_one(m.completed_orders_end(), version) == ("completedOrdersEnd", ())


@pytest.mark.parametrize("version", [176, 178])
def test_execution_details_and_commission(version: int) -> None:
    name, (req_id, contract, execution) = decode_one(m.execution_details(version, -1, EXECUTION, VIX_CALL), version)
    assert (name, req_id) == ("execDetails", -1)
    assert isinstance(execution, Execution)
    assert execution.execId == EXECUTION.exec_id
    assert execution.time == NOW
    assert (execution.side, execution.shares, execution.price) == ("BOT", 2.0, 1.2)
    assert (execution.permId, execution.clientId, execution.orderId) == (1_234_567_890, 7, 42)
    assert (execution.cumQty, execution.avgPrice, execution.orderRef) == (2.0, 1.2, "alvh:intent:abc")
    assert (execution.acctNumber, execution.exchange, execution.lastLiquidity) == ("DU1234567", "CBOE", 2)
    assert contract.conId == VIX_CALL.con_id
    assert decode_one(m.execution_details_end(5), version) == ("execDetailsEnd", (5,))

    name, (report,) = decode_one(m.commission_report(EXECUTION), version)
    assert isinstance(report, CommissionReport)
    assert (report.execId, report.commission, report.currency) == (EXECUTION.exec_id, 2.1, "USD")
    assert report.realizedPNL == UNSET_DOUBLE  # an opening fill has no realized P&L
    closing = ExecutionRecord(**{**EXECUTION.__dict__, "realized_pnl": 55.25})
    _, (report,) = decode_one(m.commission_report(closing), version)
    assert report.realizedPNL == 55.25
