"""Properties of the planner over random markets, books and configs (hypothesis)."""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strategies.alvh.config import (
    CondorsConfig,
    CoverageConfig,
    HarvestConfig,
    ScheduleConfig,
    StrategyConfig,
)
from strategies.alvh.models import (
    Book,
    CondorLeg,
    EvaluationRequest,
    Layer,
    MarketSnapshot,
    Plan,
    Slot,
    WorkingOrder,
)
from strategies.alvh.planner import plan
from strategies.condors import find_condors
from tests.support.alvh_scenarios import CALM, MONDAY, SPIKE, STEEP, at, ladder_orders, snapshot

MOMENTS = [
    MONDAY,
    at(dt.date(2026, 11, 24), 10, 30),
    at(dt.date(2026, 11, 25), 15, 30),
    at(dt.date(2026, 11, 23), 9, 40),
    at(dt.date(2026, 11, 28), 12, 0),
]
SLOT_IDS = StrategyConfig().buckets.slot_ids()
QUOTE_FAULTS = ["nan_bid", "nan_ask", "stale", "crossed", "drop", "delayed_frozen", "zero_ask"]


def _corrupt(snap: MarketSnapshot, faults: list[tuple[int, str]]) -> MarketSnapshot:
    quotes = list(snap.vix_options)
    dropped: set[int] = set()
    for index, fault in faults:
        index %= len(quotes)
        quote = quotes[index]
        if fault == "drop":
            dropped.add(index)
        elif fault == "nan_bid":
            quotes[index] = quote.model_copy(update={"bid": float("nan")})
        elif fault == "nan_ask":
            quotes[index] = quote.model_copy(update={"ask": float("nan"), "model_delta": None})
        elif fault == "stale":
            quotes[index] = quote.model_copy(update={"quote_time": snap.as_of - dt.timedelta(hours=2)})
        elif fault == "crossed":
            quotes[index] = quote.model_copy(update={"bid": (quote.ask or 1.0) + 1.0})
        elif fault == "delayed_frozen":
            quotes[index] = quote.model_copy(update={"market_data_type": 4})
        elif fault == "zero_ask":
            quotes[index] = quote.model_copy(update={"ask": 0.0, "bid": 0.0})
    kept = [q for i, q in enumerate(quotes) if i not in dropped]
    return snap.model_copy(update={"vix_options": kept})


@st.composite
def inputs(draw: st.DrawFn) -> tuple[MarketSnapshot, Book, StrategyConfig]:
    params = draw(st.sampled_from([CALM, STEEP, SPIKE]))
    # Weighted toward evaluations that may rebalance, so buys, rolls and migrations are exercised often.
    moment = draw(st.sampled_from([MONDAY, MONDAY, MONDAY, *MOMENTS]))
    trigger = draw(st.sampled_from(["scheduled", "manual", "forced", "forced", "forced"]))
    reason = draw(st.sampled_from([None, "operator test", "operator test"])) if trigger == "forced" else None
    base = snapshot(params, moment, vx_trend=draw(st.sampled_from(["up", "down", "none"])), strikes=20)
    base = base.model_copy(update={"request": EvaluationRequest(trigger=trigger, operator="prop", reason=reason)})
    faults = draw(st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(QUOTE_FAULTS)), max_size=12))
    snap = _corrupt(base, faults)

    chain = base.vix_options
    slots: list[Slot] = []
    orders: list[WorkingOrder] = []
    for slot_id in SLOT_IDS:
        if not draw(st.booleans()):
            continue
        quote = chain[draw(st.integers(0, len(chain) - 1))]
        held = Layer(
            contract=quote.contract,
            # Mostly realistic sizes (the cap then leaves room to buy), sometimes oversized ones.
            quantity=draw(st.one_of(st.integers(1, 6), st.integers(1, 6), st.integers(7, 40))),
            entry_price=draw(st.one_of(st.floats(0.05, 1.5), st.floats(0.05, 1.5), st.floats(1.5, 8.0))),
            opened_at=snap.as_of - dt.timedelta(days=3),
            opened_in_slot=slot_id,
        )
        slots.append(Slot(slot_id=slot_id, layer=held))
        ladder = draw(st.sampled_from(["full", "none", "partial", "excess"]))
        rungs = ladder_orders(slot_id, held)
        if ladder == "full":
            orders.extend(rungs)
        elif ladder == "partial":
            orders.extend(rungs[:1])
        elif ladder == "excess":
            orders.extend([*rungs, rungs[0].model_copy(update={"intent_id": rungs[0].intent_id + "x"})])
    for slot_id in draw(st.lists(st.sampled_from(SLOT_IDS), max_size=2, unique=True)):
        quote = chain[draw(st.integers(0, len(chain) - 1))]
        orders.append(
            WorkingOrder(
                intent_id=f"alvh-prop-{slot_id}-op",
                slot_id=slot_id,
                role="open",
                side="BUY",
                contract=quote.contract,
                quantity=draw(st.integers(1, 5)),
                limit_price=draw(st.floats(0.05, 3.0)),
                tif="DAY",
            )
        )
    legs: list[CondorLeg] = []
    if draw(st.booleans()) or draw(st.booleans()):
        today = snap.as_of.date()
        from bot.examples import example_condor_legs

        size = draw(st.integers(1, 40))
        legs = [leg.model_copy(update={"quantity": leg.quantity // 15 * size}) for leg in example_condor_legs(today)]
        if draw(st.integers(0, 3)) == 0:
            legs = legs[: draw(st.integers(1, len(legs)))]  # a partly closed book
    week_start = at(dt.date(2026, 11, 23), 10, 0)
    rebalances = [week_start] * draw(st.sampled_from([0, 0, 0, 1, 2]))
    bk = Book(slots=slots, working_orders=orders, condor_legs=legs, recent_rebalances=rebalances)
    config = StrategyConfig(
        schedule=ScheduleConfig(max_rebalances_per_week=draw(st.integers(1, 2))),
        condors=CondorsConfig(on_no_condors=draw(st.sampled_from(["close", "hold"]))),
        coverage=CoverageConfig(max_coverage=draw(st.sampled_from([0.05, 0.3, 1.0, 3.0]))),
        harvest=HarvestConfig(enabled=draw(st.booleans())),
    )
    return snap, bk, config


def _dte(expiry: dt.date, result: Plan) -> int:
    from zoneinfo import ZoneInfo

    return (expiry - result.as_of.astimezone(ZoneInfo("America/New_York")).date()).days


# ALVH_PROPERTY_EXAMPLES=5000 scripts/test.sh tests/unit/alvh runs a deeper search than CI's default.
PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("ALVH_PROPERTY_EXAMPLES", "120")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@PROPERTY_SETTINGS
@given(inputs())
def test_premium_at_risk_never_exceeds_the_cap(case: tuple[MarketSnapshot, Book, StrategyConfig]) -> None:
    snap, bk, config = case
    result = plan(snap, bk, config)
    buys = [a for a in result.actions if a.kind == "buy"]
    sold = {(a.slot_id, a.contract.key) for a in result.actions if a.kind in ("sell", "release") and a.contract}
    kept_basis = sum(
        s.layer.quantity * s.layer.entry_price * 100
        for s in bk.slots
        if s.layer and (s.slot_id, s.layer.contract.key) not in sold
    )
    working = sum(o.quantity * o.limit_price * 100 for o in bk.working_orders if o.side == "BUY")
    new = sum(a.quantity * (a.limit_bound or 0.0) * 100 for a in buys)
    cap = result.record.budget.cap
    if buys:
        assert kept_basis + working + new <= cap + 1e-6
        assert result.record.budget.premium_at_risk_after <= cap + 1e-6


@PROPERTY_SETTINGS
@given(inputs())
def test_one_contract_per_slot_and_only_configured_slots(case: tuple[MarketSnapshot, Book, StrategyConfig]) -> None:
    snap, bk, config = case
    result = plan(snap, bk, config)
    holdings: dict[str, list[str]] = {s.slot_id: [s.layer.contract.key] for s in bk.slots if s.layer}
    earlier: set[str] = set()
    for action in result.actions:
        assert set(action.after) <= earlier, "an action may only wait for actions before it"
        earlier.add(action.intent_id)
        assert action.slot_id in SLOT_IDS
        assert action.contract is not None
        key = action.contract.key
        if action.kind == "buy":
            holdings.setdefault(action.slot_id, []).append(key)
        elif action.kind in ("sell", "release"):
            holdings[action.slot_id].remove(key)
        elif action.kind == "migrate":
            assert action.to_slot_id in SLOT_IDS
            holdings[action.slot_id].remove(key)
            holdings.setdefault(action.to_slot_id, []).append(key)
    assert all(len(contracts) <= 1 for contracts in holdings.values()), holdings
    assert len(holdings) <= len(SLOT_IDS)
    assert Counter(a.intent_id for a in result.actions).most_common(1)[0][1] == 1 if result.actions else True
    assert [s.slot_id for s in result.record.slots] == SLOT_IDS


@PROPERTY_SETTINGS
@given(inputs())
def test_never_buys_outside_a_buy_window(case: tuple[MarketSnapshot, Book, StrategyConfig]) -> None:
    snap, bk, config = case
    result = plan(snap, bk, config)
    for action in result.actions:
        if action.kind != "buy":
            continue
        assert action.contract is not None
        bucket = config.buckets.bucket(action.slot_id.split("-")[0])  # type: ignore[arg-type]
        assert bucket.buy_window_min_dte <= _dte(action.contract.expiry, result) <= bucket.buy_window_max_dte
        assert action.limit_start is not None and action.limit_bound is not None
        assert 0 < action.limit_start <= action.limit_bound
        assert action.quantity >= 1


@PROPERTY_SETTINGS
@given(inputs())
def test_never_sells_more_than_held(case: tuple[MarketSnapshot, Book, StrategyConfig]) -> None:
    snap, bk, config = case
    result = plan(snap, bk, config)
    held = Counter[str]()
    for slot in bk.slots:
        if slot.layer:
            held[slot.layer.contract.key] += slot.layer.quantity
    cancelled = {a.cancels_intent_id for a in result.actions if a.kind == "cancel"}
    kept_sells = Counter[str]()
    for order in bk.working_orders:
        if order.side == "SELL" and order.intent_id not in cancelled:
            kept_sells[order.contract.key] += order.quantity
    new_sells = Counter[str]()
    for action in result.actions:
        if action.kind in ("sell", "place_harvest") and action.contract:
            new_sells[action.contract.key] += action.quantity
    for key, quantity in new_sells.items():
        assert quantity + kept_sells[key] <= held[key], (key, quantity, kept_sells[key], held[key])


@PROPERTY_SETTINGS
@given(inputs())
def test_no_opens_without_condors(case: tuple[MarketSnapshot, Book, StrategyConfig]) -> None:
    snap, bk, config = case
    result = plan(snap, bk, config)
    if not find_condors(bk.condor_legs).condors:
        assert not [a for a in result.actions if a.kind == "buy"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(inputs())
def test_same_inputs_give_a_byte_identical_plan(case: tuple[MarketSnapshot, Book, StrategyConfig]) -> None:
    snap, bk, config = case
    first = plan(snap, bk, config).canonical_json()
    assert plan(snap, bk, config).canonical_json() == first
    # Through JSON and back, as the journal stores them: still the same bytes.
    snap_again = MarketSnapshot.model_validate_json(snap.model_dump_json())
    book_again = Book.model_validate_json(bk.model_dump_json())
    config_again = StrategyConfig.model_validate_json(config.model_dump_json())
    assert plan(snap_again, book_again, config_again).canonical_json() == first
