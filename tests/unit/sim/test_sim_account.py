"""Paper account bookkeeping, margin, fill rules, state round trip, scenario files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.sim.account import PaperAccount, commission_for
from bot.sim.listings import Listings
from bot.sim.market import Shock
from bot.sim.orders import ExecutionQuery, OrderBook, decide_fill
from bot.sim.records import ExecutionRecord, OrderRecord, PositionRecord, Quote
from bot.sim.scenarios import ScenarioError, load_scenario
from bot.sim.state import GatewayState, StateError, load_state, save_state

LISTINGS = Listings(spx_reference=5800)
TODAY = dt.date(2025, 11, 24)
NOW = dt.datetime(2025, 11, 24, 15, 30, tzinfo=dt.UTC)
VIX_CALL = LISTINGS.vix_option(LISTINGS.vix_monthly_expiries(TODAY)[1], 20.0, "C")


def spx(strike: float, right: str) -> object:
    return LISTINGS.spx_option(dt.date(2026, 1, 16), strike, right, "SPX")


def test_long_option_round_trip() -> None:
    account = PaperAccount("DU1", 10_000)
    result = account.apply_fill(VIX_CALL, "BOT", 2, 1.20, commission_for(VIX_CALL, 2))
    assert result.realized_pnl is None
    assert result.position.average_cost == pytest.approx(121.05)
    assert account.cash == pytest.approx(10_000 - 240 - 2.10)
    result = account.apply_fill(VIX_CALL, "SLD", 1, 3.00, 1.05)
    assert result.realized_pnl == pytest.approx(300 - 121.05 - 1.05)
    assert result.position.quantity == 1
    assert result.position.average_cost == pytest.approx(121.05)
    account.apply_fill(VIX_CALL, "SLD", 1, 0.50, 1.05)
    assert VIX_CALL.con_id not in {p.con_id for p in account.held()}
    assert account.realized_pnl == pytest.approx((300 - 121.05 - 1.05) + (50 - 121.05 - 1.05))


def test_short_then_cross_through_zero() -> None:
    account = PaperAccount("DU1", 0)
    account.apply_fill(VIX_CALL, "SLD", 2, 2.50, 2.10)
    position = account.positions[VIX_CALL.con_id]
    assert position.quantity == -2 and position.average_cost == pytest.approx(248.95)
    result = account.apply_fill(VIX_CALL, "BOT", 3, 2.00, 3.15)
    assert result.realized_pnl == pytest.approx(2 * (248.95 - 200) - 2.10)
    assert result.position.quantity == 1
    assert result.position.average_cost == pytest.approx(201.05)


def test_iron_condor_margin_is_the_wider_side() -> None:
    account = PaperAccount("DU1", 1_000_000)
    legs = [(spx(5300, "P"), 15), (spx(5400, "P"), -15), (spx(6100, "C"), -15), (spx(6150, "C"), 15)]
    instruments = {}
    for instrument, quantity in legs:
        account.seed_position(instrument.con_id, quantity, 1000.0)  # type: ignore[attr-defined]
        instruments[instrument.con_id] = instrument  # type: ignore[attr-defined]
    initial, maintenance = account.margin(account.held(), instruments, {}, lambda _: 5800.0)
    assert initial == maintenance == pytest.approx(100 * 100 * 15)
    # A naked short call costs far more.
    naked = PaperAccount("DU1", 1_000_000)
    naked.seed_position(VIX_CALL.con_id, -1, 100.0)
    initial, _ = naked.margin(naked.held(), {VIX_CALL.con_id: VIX_CALL}, {VIX_CALL.con_id: 1.0}, lambda _: 15.0)
    assert initial == pytest.approx((max(0.15 * 15 - 5, 0.10 * 15) + 1.0) * 100)


def test_what_if_reports_commission_and_margin() -> None:
    account = PaperAccount("DU1", 100_000)
    impact = account.what_if(VIX_CALL, "BUY", 3, 1.25, {}, {VIX_CALL.con_id: 1.20}, lambda _: 15.0)
    assert impact.commission == pytest.approx(3.15)
    assert impact.init_change == 0
    assert impact.equity_change == pytest.approx(-3.15 - 3 * 0.05 * 100)


def _order(**changes: object) -> OrderRecord:
    values: dict[str, object] = {
        "perm_id": 1,
        "client_id": 1,
        "order_id": 1,
        "account": "DU1",
        "con_id": VIX_CALL.con_id,
        "exchange": "SMART",
        "action": "BUY",
        "total_quantity": 5.0,
        "order_type": "LMT",
        "limit_price": 1.30,
        "aux_price": None,
        "tif": "GTC",
        "status": "Submitted",
    }
    values.update(changes)
    return OrderRecord(**values)  # type: ignore[arg-type]


def _quote(bid: float, ask: float, size: float = 100) -> Quote:
    return Quote(bid=bid, ask=ask, bid_size=size, ask_size=size, last=bid, last_size=1, close=bid)


def test_fill_rules() -> None:
    order = _order()
    assert decide_fill(order, _quote(1.35, 1.40), resting=False, partial=False) is None
    fill = decide_fill(order, _quote(1.20, 1.25), resting=False, partial=False)
    assert fill is not None and (fill.price, fill.quantity, fill.liquidity) == (1.25, 5.0, 2)
    fill = decide_fill(order, _quote(1.20, 1.25), resting=True, partial=False)
    assert fill is not None and (fill.price, fill.liquidity) == (1.30, 1)
    fill = decide_fill(order, _quote(1.20, 1.25, size=2), resting=False, partial=True)
    assert fill is not None and fill.quantity == 2
    sell = _order(action="SELL", limit_price=12.0)
    assert decide_fill(sell, _quote(11.9, 12.1), resting=True, partial=False) is None
    fill = decide_fill(sell, _quote(12.5, 12.7), resting=True, partial=False)
    assert fill is not None and fill.price == 12.0
    no_bid = _quote(float("nan"), 0.05)
    assert decide_fill(_order(action="SELL", order_type="MKT", limit_price=None), no_bid, False, False) is None


def _execution(sequence: int, time: dt.datetime, client_id: int = 1, side: str = "BOT") -> ExecutionRecord:
    return ExecutionRecord(
        exec_id=f"x.{sequence}",
        time=time,
        account="DU1",
        con_id=VIX_CALL.con_id,
        exchange="CBOE",
        side=side,
        shares=1,
        price=1.0,
        perm_id=1,
        client_id=client_id,
        order_id=1,
        cum_qty=1,  # type: ignore[arg-type]
        avg_price=1.0,
        order_ref="r",
        commission=1.05,
        realized_pnl=None,
    )


def test_order_book_keys_filters_and_pruning() -> None:
    book = OrderBook(next_perm_id=500, exec_prefix="abc")
    order = _order(perm_id=book.new_perm_id(), order_id=7, client_id=3)
    book.add(order)
    assert book.get(3, 7) is order and book.get(1, 7) is None
    assert book.max_order_id == {3: 7}
    assert not book.is_resting(order)
    book.rested(order)
    assert book.is_resting(order)
    assert book.new_exec_id() == "abc.00000001.01.01"
    book.record_execution(_execution(1, NOW - dt.timedelta(days=8)))
    book.record_execution(_execution(2, NOW, client_id=2, side="SLD"))
    symbols = {VIX_CALL.con_id: ("VIX", "OPT")}
    assert [e.exec_id for e in book.executions_matching(ExecutionQuery(), symbols)] == ["x.1", "x.2"]
    assert [e.exec_id for e in book.executions_matching(ExecutionQuery(client_id=2), symbols)] == ["x.2"]
    assert [e.exec_id for e in book.executions_matching(ExecutionQuery(side="BUY"), symbols)] == ["x.1"]
    assert book.executions_matching(ExecutionQuery(symbol="SPX"), symbols) == []
    book.prune(NOW)
    assert [e.exec_id for e in book.executions] == ["x.2"]


def test_state_round_trip(tmp_path: Path) -> None:
    order = _order(perm_id=77, created=NOW, completed_time=NOW, status="Filled", filled=5.0)
    state = GatewayState(
        scenario="default",
        seed=1,
        anchor=NOW,
        account="DU1",
        clock_time=NOW,
        cash=1.5,
        realized_pnl=2.0,
        commissions=3.0,
        positions=[PositionRecord(1, 2.0, 3.0)],
        orders=[order],
        executions=[_execution(1, NOW)],
        next_perm_id=78,
        exec_prefix="p",
        exec_sequence=4,
        max_order_id={1: 9},
        shocks=[Shock(at=NOW, log_shift=0.5, half_life_days=2)],
    )
    path = tmp_path / "nested" / "gateway.json"
    save_state(path, state)
    loaded = load_state(path)
    assert loaded == state
    assert load_state(tmp_path / "missing.json") is None
    path.write_text("{not json")
    with pytest.raises(StateError):
        load_state(path)


def test_scenario_files(tmp_path: Path) -> None:
    good = tmp_path / "calm.toml"
    good.write_text(
        'base = "spike"\nvix = 18.5\ncash = 250000\nstart = 2025-11-24T10:30:00-05:00\n'
        "[[spikes]]\nafter_sessions = 2\npeak = 55\n"
        "[[condors]]\ndays_to_expiry = 30\nquantity = 3\n"
        "[market]\nvix_long_run = 19\n"
    )
    scenario = load_scenario(str(good))
    assert scenario.name == "calm"
    assert scenario.parameters.vix_start == 18.5 and scenario.parameters.vix_long_run == 19
    assert scenario.parameters.spikes[0].peak == 55 and scenario.parameters.spikes[0].after_sessions == 2
    assert scenario.cash == 250000 and len(scenario.condors) == 1
    assert scenario.start == dt.datetime(2025, 11, 24, 15, 30, tzinfo=dt.UTC)
    bad = tmp_path / "bad.json"
    bad.write_text('{"vix": 2, "colour": "red"}')
    with pytest.raises(ScenarioError) as error:
        load_scenario(str(bad))
    assert "vix = 2" in str(error.value) and "colour" in str(error.value)
    with pytest.raises(ScenarioError, match="unknown scenario"):
        load_scenario("nope")
