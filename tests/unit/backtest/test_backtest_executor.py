"""The backtest's executor: the planner's actions applied to a hedge book under the stated fill rules."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from bot.backtest.hedge_book import HedgeBook
from strategies.alvh.models import Action, OptionContract, OptionQuote, Plan

AS_OF = dt.datetime(2018, 1, 8, 20, 30, tzinfo=dt.UTC)
TODAY = dt.date(2018, 1, 8)
SLOTS = ["near-1", "near-2", "mid-1"]
FEB = OptionContract(symbol="VIX", trading_class="VIX", expiry=dt.date(2018, 2, 14), strike=15.0, right="C")
MAR = OptionContract(symbol="VIX", trading_class="VIX", expiry=dt.date(2018, 3, 21), strike=17.0, right="C")


def quote(contract: OptionContract, bid: float, ask: float) -> OptionQuote:
    return OptionQuote(contract=contract, bid=bid, ask=ask, quote_time=AS_OF)


def plan_of(actions: list[Action], is_rebalance: bool = True, opportunity: bool = True) -> Plan:
    record = SimpleNamespace(evaluation=SimpleNamespace(rebalance_opportunity=opportunity))
    return Plan.model_construct(as_of=AS_OF, actions=actions, record=record, is_rebalance=is_rebalance)


def buy(intent: str, slot: str, contract: OptionContract, quantity: int, bound: float, **extra: object) -> Action:
    return Action(
        intent_id=intent,
        kind="buy",
        role=extra.pop("role", "open"),  # type: ignore[arg-type]
        slot_id=slot,
        contract=contract,
        side="BUY",
        quantity=quantity,
        limit_start=bound - 0.05,
        limit_bound=bound,
        tif="DAY",
        reason="test",
        **extra,  # type: ignore[arg-type]
    )


def sell(intent: str, slot: str, contract: OptionContract, quantity: int, bound: float, **extra: object) -> Action:
    return Action(
        intent_id=intent,
        kind="sell",
        role=extra.pop("role", "close"),  # type: ignore[arg-type]
        slot_id=slot,
        contract=contract,
        side="SELL",
        quantity=quantity,
        limit_start=bound + 0.05,
        limit_bound=bound,
        tif="DAY",
        reason="test",
        **extra,  # type: ignore[arg-type]
    )


def harvest(intent: str, slot: str, contract: OptionContract, quantity: int, limit: float) -> Action:
    return Action(
        intent_id=intent,
        kind="place_harvest",
        role="harvest",
        slot_id=slot,
        contract=contract,
        side="SELL",
        quantity=quantity,
        limit_start=limit,
        limit_bound=limit,
        tif="GTC",
        harvest_rung=0,
        reason="test",
    )


def new_book() -> HedgeBook:
    return HedgeBook(slot_ids=SLOTS, commission_per_contract=1.0)


def test_buys_fill_at_the_bound_when_the_ask_allows() -> None:
    book = new_book()
    quotes = {FEB.key: quote(FEB, 1.00, 1.10), MAR.key: quote(MAR, 1.50, 1.70)}
    result = book.apply(plan_of([buy("b1", "near-1", FEB, 3, 1.10), buy("b2", "mid-1", MAR, 2, 1.65)]), quotes, TODAY)
    assert result.filled == ["b1"] and result.unfilled == ["b2"]  # MAR's ask 1.70 is above its bound
    layer = book.layers["near-1"]
    assert (layer.quantity, layer.entry_price, layer.opened_at) == (3, 1.10, AS_OF)
    assert book.cash == pytest.approx(-(1.10 * 3 * 100 + 3.0))
    assert book.premium_paid == pytest.approx(330.0)
    assert book.premium_at_risk() == pytest.approx(330.0)
    assert book.recent_rebalances == [AS_OF] and book.last_rebalance_opportunity == AS_OF


def test_sales_fill_at_the_bid_and_a_sale_without_bid_keeps_the_layer() -> None:
    book = new_book()
    book.apply(plan_of([buy("b1", "near-1", FEB, 4, 1.10), buy("b2", "near-2", MAR, 2, 1.70)]),
               {FEB.key: quote(FEB, 1.0, 1.1), MAR.key: quote(MAR, 1.6, 1.7)}, TODAY)  # fmt: skip
    quotes = {FEB.key: quote(FEB, 2.00, 2.10), MAR.key: quote(MAR, 0.0, 0.05)}
    result = book.apply(
        plan_of([sell("s1", "near-1", FEB, 4, 2.00), sell("s2", "near-2", MAR, 2, 0.01)]), quotes, TODAY
    )
    assert result.filled == ["s1"] and result.unfilled == ["s2"]
    assert "near-1" not in book.layers and book.layers["near-2"].quantity == 2
    # realised: (2.00 - 1.10) x 4 x 100 - 4 commission on the sale, minus 6 commissions on the buys
    assert book.realized_pnl == pytest.approx(360.0 - 4.0 - 6.0)


def test_a_roll_sells_the_old_contract_after_the_new_one_fills() -> None:
    book = new_book()
    book.apply(plan_of([buy("b1", "mid-1", FEB, 5, 1.10)]), {FEB.key: quote(FEB, 1.0, 1.1)}, TODAY)
    book.apply(plan_of([harvest("h1", "mid-1", FEB, 5, 11.0)], is_rebalance=False), {}, TODAY)
    roll = [
        buy("rb", "mid-1", MAR, 3, 1.70, role="roll_buy"),
        Action(intent_id="cx", kind="cancel", role="cancel_harvest", slot_id="mid-1", contract=FEB, quantity=5,
               cancels_intent_id="h1", after=["rb"], reason="test"),
        sell("rs", "mid-1", FEB, 5, 0.90, role="roll_sell", after=["rb", "cx"]),
    ]  # fmt: skip
    result = book.apply(plan_of(roll), {FEB.key: quote(FEB, 0.9, 1.0), MAR.key: quote(MAR, 1.6, 1.7)}, TODAY)
    assert result.filled == ["rb", "rs"]
    assert book.layers["mid-1"].contract == MAR and book.layers["mid-1"].quantity == 3
    assert book.working == {} and book.orphans == []


def test_held_back_actions_are_skipped() -> None:
    book = new_book()
    book.apply(plan_of([buy("b1", "mid-1", FEB, 5, 1.10)]), {FEB.key: quote(FEB, 1.0, 1.1)}, TODAY)
    roll = [
        buy("rb", "mid-1", MAR, 3, 1.70, role="roll_buy"),
        sell("rs", "mid-1", FEB, 5, 0.90, role="roll_sell", after=["rb"]),
    ]
    result = book.apply(plan_of(roll), {FEB.key: quote(FEB, 0.9, 1.0), MAR.key: quote(MAR, 1.8, 1.9)}, TODAY)
    assert result.unfilled == ["rb"] and result.skipped == ["rs"] and not result.any_order_filled
    assert book.layers["mid-1"].contract == FEB  # nothing changed
    assert book.recent_rebalances == [AS_OF]  # only the first (filled) rebalance counted


def test_migration_relabels_the_layer_and_its_resting_orders() -> None:
    book = new_book()
    book.apply(plan_of([buy("b1", "mid-1", FEB, 6, 1.10)]), {FEB.key: quote(FEB, 1.0, 1.1)}, TODAY)
    book.apply(plan_of([harvest("h1", "mid-1", FEB, 3, 5.5), harvest("h2", "mid-1", FEB, 3, 11.0)]), {}, TODAY)
    migrate = Action(intent_id="m1", kind="migrate", role="migrate", slot_id="mid-1", to_slot_id="near-2",
                     contract=FEB, quantity=6, reason="test")  # fmt: skip
    book.apply(plan_of([migrate], is_rebalance=False), {}, TODAY)
    assert list(book.layers) == ["near-2"]
    assert {order.slot_id for order in book.working.values()} == {"near-2"}
    assert not book.harvest_maintenance_due(harvest_enabled=True)


def test_harvest_orders_fill_on_later_days_when_the_high_reaches_them() -> None:
    book = new_book()
    book.apply(plan_of([buy("b1", "near-1", FEB, 3, 1.00)]), {FEB.key: quote(FEB, 0.9, 1.0)}, TODAY)
    assert book.harvest_maintenance_due(harvest_enabled=True)
    assert not book.harvest_maintenance_due(harvest_enabled=False)
    book.apply(plan_of([harvest("h1", "near-1", FEB, 1, 5.0), harvest("h2", "near-1", FEB, 2, 10.0)]), {}, TODAY)
    assert not book.harvest_maintenance_due(harvest_enabled=True)
    # Same day: never (the order was placed at the evaluation, after the day's high may have passed).
    assert book.fill_harvests(TODAY, lambda contracts: [50.0] * len(contracts)) == 0
    tomorrow = TODAY + dt.timedelta(days=1)
    assert book.fill_harvests(tomorrow, lambda contracts: [6.0] * len(contracts)) == 1  # only the 5x rung
    assert book.layers["near-1"].quantity == 2
    assert book.cash == pytest.approx(-(300.0 + 3.0) + 500.0 - 1.0)
    assert book.fill_harvests(tomorrow + dt.timedelta(days=1), lambda contracts: [10.0] * len(contracts)) == 1
    assert "near-1" not in book.layers and book.working == {}
    assert [t.price for t in book.trades if t.kind == "harvest fill"] == [5.0, 10.0]  # at the limits


def test_options_left_at_expiry_settle_at_the_vix_open() -> None:
    book = new_book()
    book.apply(plan_of([buy("b1", "near-1", FEB, 2, 1.00)]), {FEB.key: quote(FEB, 0.9, 1.0)}, TODAY)
    book.apply(plan_of([harvest("h1", "near-1", FEB, 2, 10.0)]), {}, TODAY)
    book.settle_expired(dt.date(2018, 2, 13), settlement_value=40.0)  # the day before: nothing
    assert "near-1" in book.layers
    book.settle_expired(dt.date(2018, 2, 14), settlement_value=18.5)
    assert book.layers == {} and book.working == {}
    assert book.cash == pytest.approx(-(200.0 + 2.0) + (18.5 - 15.0) * 2 * 100)
    assert book.trades[-1].kind == "expiry"


def test_the_opportunity_is_recorded_even_without_a_rebalance() -> None:
    book = new_book()
    book.apply(plan_of([], is_rebalance=False, opportunity=True), {}, TODAY)
    assert book.last_rebalance_opportunity == AS_OF and book.recent_rebalances == []
