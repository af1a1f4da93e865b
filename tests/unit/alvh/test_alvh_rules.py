"""One table-driven case per rule of strategy.md; each test id names its section."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from strategies.alvh.config import (
    BucketConfig,
    BucketsConfig,
    CondorsConfig,
    CoverageConfig,
    EventDate,
    ScheduleConfig,
    StrategyConfig,
)
from strategies.alvh.models import Book, MarketSnapshot, OptionQuote, Plan, WorkingOrder
from tests.support.alvh_scenarios import (
    CALM,
    MONDAY,
    SPIKE,
    STEEP,
    actions_for,
    at,
    book,
    contract_dte,
    layer,
    run,
    slot_decision,
    snapshot,
)

TUESDAY = dt.date(2026, 11, 24)
WEDNESDAY = dt.date(2026, 11, 25)
DEFAULT = StrategyConfig()


@dataclass(frozen=True)
class Case:
    rule: str
    build: Callable[[], tuple[MarketSnapshot, Book, StrategyConfig]]
    check: Callable[[Plan, MarketSnapshot, Book], None]


def _with_quote(snap: MarketSnapshot, key: str, **changes: object) -> MarketSnapshot:
    quotes = [q.model_copy(update=changes) if q.contract.key == key else q for q in snap.vix_options]
    return snap.model_copy(update={"vix_options": quotes})


def _chosen_contract_key(config: StrategyConfig = DEFAULT) -> str:
    """The contract the planner picks for near-1 in the calm market (used to corrupt exactly that quote)."""
    snap = snapshot(CALM)
    result = run(snap, book(snap), config)
    buy = actions_for(result, "near-1", "buy")[0]
    assert buy.contract is not None
    return buy.contract.key


# ------------------------------------------------------------------------------------ §1 layers


def _empty_calm() -> tuple[MarketSnapshot, Book, StrategyConfig]:
    snap = snapshot(CALM)
    return snap, book(snap), DEFAULT


def check_buy_windows(result: Plan, snap: MarketSnapshot, _: Book) -> None:
    buys = [a for a in result.actions if a.kind == "buy"]
    assert len(buys) == 10
    for action in buys:
        assert action.contract is not None
        bucket = DEFAULT.buckets.bucket(action.slot_id.split("-")[0])  # type: ignore[arg-type]
        assert bucket.buy_window_min_dte <= contract_dte(action.contract, snap) <= bucket.buy_window_max_dte


def check_expiry_spreading(result: Plan, snap: MarketSnapshot, _: Book) -> None:
    mid_expiries = [a.contract.expiry for a in result.actions if a.slot_id.startswith("mid") and a.contract]
    distinct = sorted(set(mid_expiries))
    # The mid window offers three expiries: four slots use all three, the midpoint-nearest one twice.
    assert len(distinct) == 3
    midpoint_nearest = min(distinct, key=lambda e: abs(contract_dte_date(e, snap) - 37.5))
    assert mid_expiries[0] == midpoint_nearest
    assert mid_expiries.count(midpoint_nearest) == 2


def contract_dte_date(expiry: dt.date, snap: MarketSnapshot) -> int:
    return (expiry - snap.as_of.astimezone(dt.timezone(dt.timedelta(hours=-5))).date()).days


def check_delta_ladder(result: Plan, snap: MarketSnapshot, _: Book) -> None:
    for action in (a for a in result.actions if a.kind == "buy"):
        decision = slot_decision(result, action.slot_id)
        chosen_delta = decision.details["buy_delta"]
        assert isinstance(chosen_delta, float)
        assert action.contract is not None
        same_expiry = [q for q in snap.vix_options if q.contract.expiry == action.contract.expiry]
        best = min(abs((q.model_delta or 9.0) - decision.delta_target) for q in same_expiry if q.model_delta)
        assert abs(chosen_delta - decision.delta_target) <= best + 1e-9


def _no_model_greeks() -> tuple[MarketSnapshot, Book, StrategyConfig]:
    snap = snapshot(CALM, model_greeks=False)
    return snap, book(snap), DEFAULT


def check_own_black76(result: Plan, _: MarketSnapshot, __: Book) -> None:
    buys = [a for a in result.actions if a.kind == "buy"]
    assert len(buys) == 10
    for action in buys:
        assert "Black-76" in slot_decision(result, action.slot_id).reason


def _near_expiring_no_migrant() -> tuple[MarketSnapshot, Book, StrategyConfig]:
    snap = snapshot(STEEP)  # extreme contango, no override: opens refused, rolls proceed
    held = {"near-1": layer(snap, "near-1", 2, 0.3)}
    return snap, book(snap, held), DEFAULT


def check_near_sold_and_refilled_as_roll(result: Plan, snap: MarketSnapshot, bk: Book) -> None:
    kinds = [(a.kind, a.role) for a in actions_for(result, "near-1")]
    assert ("sell", "close") in kinds and ("buy", "roll_buy") in kinds
    assert kinds.count(("cancel", "cancel_harvest")) == 3  # its resting ladder is cancelled first
    sell = actions_for(result, "near-1", "sell")[0]
    assert all(c.intent_id in sell.after for c in actions_for(result, "near-1", "cancel"))
    # Other empty slots are opens, refused in extreme contango.
    assert not actions_for(result, "mid-1") and "opens refused" in slot_decision(result, "mid-1").reason


def _mid_leaving_with_free_near() -> tuple[MarketSnapshot, Book, StrategyConfig]:
    snap = snapshot(STEEP)
    held = {"mid-1": layer(snap, "mid-1", 16, 0.4)}
    return snap, book(snap, held), DEFAULT


def check_mid_migrates(result: Plan, snap: MarketSnapshot, bk: Book) -> None:
    migrations = [a for a in result.actions if a.kind == "migrate"]
    assert len(migrations) == 1
    move = migrations[0]
    assert move.slot_id == "mid-1" and move.to_slot_id is not None and move.to_slot_id.startswith("near")
    assert not [a for a in result.actions if a.kind in ("buy", "sell", "cancel")]  # no trade
    assert not result.is_rebalance  # a relabel alone sends no order
    assert "keeps its contract and harvest ladder" in slot_decision(result, move.to_slot_id).reason


def _mid_leaving_near_full() -> tuple[MarketSnapshot, Book, StrategyConfig]:
    snap = snapshot(CALM)
    held = {f"near-{i}": layer(snap, f"near-{i}", 9, d) for i, d in ((1, 0.45), (2, 0.35), (3, 0.25), (4, 0.15))}
    held["mid-2"] = layer(snap, "mid-2", 16, 0.35)
    return snap, book(snap, held), DEFAULT


def check_mid_rolls_buy_before_sell(result: Plan, snap: MarketSnapshot, bk: Book) -> None:
    buy = actions_for(result, "mid-2", "buy")[0]
    sell = actions_for(result, "mid-2", "sell")[0]
    cancels = actions_for(result, "mid-2", "cancel")
    assert buy.role == "roll_buy" and sell.role == "roll_sell"
    assert buy.intent_id in sell.after and all(c.intent_id in sell.after for c in cancels)
    assert all(buy.intent_id in c.after for c in cancels)  # the ladder stays until the new layer fills
    assert result.actions.index(buy) < result.actions.index(sell)
    assert buy.contract is not None and 30 <= contract_dte(buy.contract, snap) <= 45


def _long_leaving() -> tuple[MarketSnapshot, Book, StrategyConfig]:
    snap = snapshot(STEEP)
    held = {"long-1": layer(snap, "long-1", 44, 0.3)}
    return snap, book(snap, held), DEFAULT


def check_long_migrates_to_mid(result: Plan, _: MarketSnapshot, __: Book) -> None:
    move = next(a for a in result.actions if a.kind == "migrate")
    assert move.slot_id == "long-1" and move.to_slot_id is not None and move.to_slot_id.startswith("mid")


def _weekly_turnover() -> tuple[MarketSnapshot, Book, StrategyConfig]:
    snap = snapshot(CALM)
    held = {
        "near-1": layer(snap, "near-1", 2, 0.3),
        "near-2": layer(snap, "near-2", 9, 0.35),
        "near-3": layer(snap, "near-3", 9, 0.25),
        "near-4": layer(snap, "near-4", 9, 0.15),
        "mid-1": layer(snap, "mid-1", 16, 0.4),
        "mid-2": layer(snap, "mid-2", 37, 0.35),
        "mid-3": layer(snap, "mid-3", 30, 0.25),
        "mid-4": layer(snap, "mid-4", 37, 0.15),
        "long-1": layer(snap, "long-1", 44, 0.3),
        "long-2": layer(snap, "long-2", 86, 0.2),
    }
    return snap, book(snap, held), DEFAULT


def check_weekly_turnover(result: Plan, _: MarketSnapshot, __: Book) -> None:
    trades = [(a.kind, a.slot_id) for a in result.actions if a.kind in ("buy", "sell")]
    assert trades == [("sell", "near-1"), ("buy", "long-1")]
    assert [(a.slot_id, a.to_slot_id) for a in result.actions if a.kind == "migrate"] == [
        ("mid-1", "near-1"),
        ("long-1", "mid-1"),
    ]
    # Each step waits for the one that empties its slot: sale -> migration -> migration -> purchase.
    sale = actions_for(result, "near-1", "sell")[0]
    into_near, into_mid = [a for a in result.actions if a.kind == "migrate"]
    purchase = actions_for(result, "long-1", "buy")[0]
    assert into_near.after == [sale.intent_id]
    assert into_mid.after == [into_near.intent_id]
    assert purchase.after == [into_mid.intent_id]


def _expires_before_next_rebalance() -> tuple[MarketSnapshot, Book, StrategyConfig]:
    snap = snapshot(CALM)
    near = BucketConfig(
        slots=4, buy_window_min_dte=7, buy_window_max_dte=14, leave_below_dte=1, delta_ladder=[0.45, 0.35, 0.25, 0.15]
    )
    config = StrategyConfig(buckets=BucketsConfig(near=near))
    held = {"near-3": layer(snap, "near-3", 2, 0.3)}  # expires Wednesday, last trades Tuesday
    return snap, book(snap, held), config


def check_no_layer_past_last_trading_day(result: Plan, _: MarketSnapshot, __: Book) -> None:
    sell = actions_for(result, "near-3", "sell")[0]
    assert sell.role == "close"
    assert "last trading day" in slot_decision(result, "near-3").reason


# ------------------------------------------------------------------------------------ §2 sizing


def check_quantity_is_floor_of_budget(result: Plan, _: MarketSnapshot, __: Book) -> None:
    budget = result.record.budget
    assert budget.slot_budgets["near-1"] == pytest.approx(budget.target * 0.4 / 4)
    assert budget.bucket_budgets == pytest.approx(
        {"near": budget.target * 0.4, "mid": budget.target * 0.4, "long": budget.target * 0.2}
    )
    for action in (a for a in result.actions if a.kind == "buy"):
        assert action.limit_bound is not None
        slot_budget = budget.slot_budgets[action.slot_id]
        assert action.quantity == math.floor(slot_budget / (action.limit_bound * 100) + 1e-9)


def _tiny_credit() -> tuple[MarketSnapshot, Book, StrategyConfig]:
    snap = snapshot(CALM)
    return snap, book(snap), StrategyConfig(condors=CondorsConfig(credit_override=2000.0))


def check_zero_contracts_is_skip(result: Plan, _: MarketSnapshot, __: Book) -> None:
    # $2,000 credit: $200 target, $20 a near slot: no contract at any listed price.
    near = slot_decision(result, "near-1")
    assert near.outcome == "skipped" and "buys no contract" in near.reason
    assert not actions_for(result, "near-1")
    assert not any("near-1" in refusal for refusal in result.record.refusals)


def _near_cap() -> tuple[MarketSnapshot, Book, StrategyConfig]:
    snap = snapshot(CALM)
    # Two held layers with a large cost basis leave little room under the 15 % cap.
    held = {
        "mid-2": layer(snap, "mid-2", 37, 0.35, quantity=20, entry=3.20),
        "mid-3": layer(snap, "mid-3", 30, 0.25, quantity=10, entry=1.60),
    }
    return snap, book(snap, held), DEFAULT


def check_cap_shrinks_or_refuses(result: Plan, _: MarketSnapshot, __: Book) -> None:
    budget = result.record.budget
    assert budget.premium_at_risk_before > budget.target
    assert budget.premium_at_risk_after <= budget.cap + 1e-6
    limited = [s for s in result.record.slots if "premium cap" in s.reason and s.outcome in ("opened", "refused")]
    assert limited, "at least one slot is shrunk or refused by the cap"
    refused = [s for s in limited if s.outcome == "refused"]
    assert all(f"{s.slot_id}:" in " ".join(result.record.refusals) for s in refused)


def _roll_net_premium() -> tuple[MarketSnapshot, Book, StrategyConfig]:
    snap = snapshot(CALM)
    held = {f"near-{i}": layer(snap, f"near-{i}", 9, 0.3) for i in range(1, 5)}
    # A mid layer that doubled: the roll counts at new cost minus the old one's expected proceeds.
    held["mid-2"] = layer(snap, "mid-2", 16, 0.45, quantity=12, entry=0.50)
    held["mid-3"] = layer(snap, "mid-3", 37, 0.25, quantity=30, entry=1.90)
    return snap, book(snap, held), DEFAULT


def check_roll_counts_net_premium(result: Plan, _: MarketSnapshot, __: Book) -> None:
    budget = result.record.budget
    assert budget.premium_at_risk_after <= budget.cap + 1e-6
    buy = actions_for(result, "mid-2", "buy")
    assert buy and buy[0].role == "roll_buy"


def _coverage_capped() -> tuple[MarketSnapshot, Book, StrategyConfig]:
    snap = snapshot(CALM)
    config = StrategyConfig(coverage=CoverageConfig(max_coverage=0.05))
    return snap, book(snap), config


def check_coverage_capped(result: Plan, _: MarketSnapshot, __: Book) -> None:
    coverage = result.record.coverage
    assert coverage.coverage_before == 0.0
    assert coverage.coverage_after is not None and coverage.coverage_after <= 0.05 + 1e-9
    assert any("coverage cap" in s.reason for s in result.record.slots)


def check_coverage_reported(result: Plan, _: MarketSnapshot, __: Book) -> None:
    coverage = result.record.coverage
    assert coverage.condor_dollars_per_vol_point > 0
    expected = coverage.hedge_dollars_per_vix_point_after / coverage.condor_dollars_per_vol_point
    assert coverage.coverage_after == pytest.approx(expected)


def _no_condors(mode: str) -> Callable[[], tuple[MarketSnapshot, Book, StrategyConfig]]:
    def build() -> tuple[MarketSnapshot, Book, StrategyConfig]:
        snap = snapshot(CALM)
        held = {"mid-2": layer(snap, "mid-2", 37, 0.35), "near-1": layer(snap, "near-1", 2, 0.3)}
        return snap, book(snap, held, condors=False), StrategyConfig(condors=CondorsConfig(on_no_condors=mode))  # type: ignore[arg-type]

    return build


def check_no_condors_close(result: Plan, _: MarketSnapshot, __: Book) -> None:
    assert not [a for a in result.actions if a.kind == "buy"]
    assert {a.slot_id for a in result.actions if a.kind == "sell"} == {"mid-2", "near-1"}


def check_no_condors_hold(result: Plan, _: MarketSnapshot, __: Book) -> None:
    assert not [a for a in result.actions if a.kind == "buy"]
    assert [a.slot_id for a in result.actions if a.kind == "sell"] == ["near-1"]  # it must leave
    assert slot_decision(result, "mid-2").outcome == "held"


# ------------------------------------------------------------------------------------ §3 signals


def _steep(**kwargs: str) -> Callable[[], tuple[MarketSnapshot, Book, StrategyConfig]]:
    def build() -> tuple[MarketSnapshot, Book, StrategyConfig]:
        snap = snapshot(STEEP, **kwargs)  # type: ignore[arg-type]
        return snap, book(snap), DEFAULT

    return build


def check_opens_allowed(result: Plan, _: MarketSnapshot, __: Book) -> None:
    assert result.record.signals.opens_allowed
    assert len([a for a in result.actions if a.kind == "buy" and a.role == "open"]) == 10


def check_opens_refused_in_extreme_contango(result: Plan, _: MarketSnapshot, __: Book) -> None:
    signals = result.record.signals
    assert signals.contango is not None and signals.contango > 0.10 and signals.contango_extreme
    assert not signals.opens_allowed and not result.actions
    assert all(s.outcome == "not opened" for s in result.record.slots)


def _steep_with_event(days_ahead: int) -> Callable[[], tuple[MarketSnapshot, Book, StrategyConfig]]:
    def build() -> tuple[MarketSnapshot, Book, StrategyConfig]:
        snap = snapshot(STEEP)
        sessions = sorted(s.date for s in snap.sessions if s.date > MONDAY.date())
        config = StrategyConfig(events=[EventDate(date=sessions[days_ahead - 1], kind="CPI")])
        return snap, book(snap), config

    return build


def check_event_within_lookahead(result: Plan, _: MarketSnapshot, __: Book) -> None:
    assert result.record.signals.event_ahead and result.record.signals.opens_allowed
    assert len([a for a in result.actions if a.kind == "buy"]) == 10


def check_event_beyond_lookahead(result: Plan, _: MarketSnapshot, __: Book) -> None:
    assert not result.record.signals.event_ahead and not result.record.signals.opens_allowed


def _contango_unknown() -> tuple[MarketSnapshot, Book, StrategyConfig]:
    snap = snapshot(CALM)
    futures = [f.model_copy(update={"price": float("nan")}) if f.monthly else f for f in snap.vx_futures]
    snap = snap.model_copy(update={"vx_futures": futures})
    return snap, book(snap), DEFAULT


def check_contango_unknown(result: Plan, _: MarketSnapshot, __: Book) -> None:
    signals = result.record.signals
    assert signals.contango is None and not signals.opens_allowed
    assert "contango unknown" in signals.opens_rule


def _roll_fallback_cheaper_strike() -> tuple[MarketSnapshot, Book, StrategyConfig]:
    snap = snapshot(STEEP)
    held = {f"near-{i}": layer(snap, f"near-{i}", 9, 0.3) for i in range(2, 5)}
    held["near-1"] = layer(snap, "near-1", 2, 0.3)
    # A mid layer whose cost basis leaves $80 under the cap once near-1 is sold: too little for the
    # 0.45-delta near call ($94 a contract here), enough for its cheaper neighbour ($64).
    without_mid = run(snap, book(snap, held), DEFAULT).record.budget
    sold = held["near-1"]
    near_one_quote = next(q for q in snap.vix_options if q.contract.key == sold.contract.key)
    sold_basis = sold.quantity * sold.entry_price * 100
    proceeds = sold.quantity * (near_one_quote.bid or 0.0) * 100
    room_wanted = 80.0
    # Room for the refill = cap - premium at risk after the sale - (basis - proceeds): §2's net premium.
    mid_basis = (
        without_mid.cap
        - (without_mid.premium_at_risk_before - sold_basis)
        - max(0.0, sold_basis - proceeds)
        - room_wanted
    )
    held["mid-1"] = layer(snap, "mid-1", 37, 0.45, quantity=31, entry=mid_basis / 3100)
    return snap, book(snap, held), DEFAULT


def check_roll_fallback(result: Plan, _: MarketSnapshot, __: Book) -> None:
    decision = slot_decision(result, "near-1")
    buys = actions_for(result, "near-1", "buy")
    assert buys and buys[0].role == "roll_buy"
    assert "fell back from strike" in decision.reason


# ------------------------------------------------------------------------------------ §4 harvest


def _held_without_ladder(quantity: int) -> Callable[[], tuple[MarketSnapshot, Book, StrategyConfig]]:
    def build() -> tuple[MarketSnapshot, Book, StrategyConfig]:
        snap = snapshot(CALM, at(TUESDAY))
        held = {"mid-2": layer(snap, "mid-2", 37, 0.35, quantity=quantity, entry=1.00)}
        monday = at(MONDAY.date())
        return snap, book(snap, held, with_ladders=False, rebalances=[monday], last_opportunity=monday), DEFAULT

    return build


def check_ladder_thirds(result: Plan, _: MarketSnapshot, __: Book) -> None:
    rungs = [(a.quantity, a.limit_start, a.tif) for a in actions_for(result, "mid-2", "place_harvest")]
    assert rungs == [(3, 5.0, "GTC"), (3, 10.0, "GTC"), (4, 20.0, "GTC")]
    assert not result.is_rebalance  # resting harvest orders are not a rebalance


def check_ladder_small_layer(result: Plan, _: MarketSnapshot, __: Book) -> None:
    rungs = [(a.quantity, a.limit_start) for a in actions_for(result, "mid-2", "place_harvest")]
    assert rungs == [(2, 10.0)]


def _backwardation_harvest() -> tuple[MarketSnapshot, Book, StrategyConfig]:
    snap = snapshot(SPIKE)
    spiked = layer(snap, "mid-2", 37, 0.35)
    held = {
        "mid-2": layer(snap, "mid-2", 37, 0.35, entry=spiked.entry_price / 6),
        "mid-3": layer(snap, "mid-3", 30, 0.25),
    }
    return snap, book(snap, held), DEFAULT


def check_rebalance_harvest(result: Plan, _: MarketSnapshot, __: Book) -> None:
    assert result.record.signals.backwardation
    sell = actions_for(result, "mid-2", "sell")[0]
    assert sell.role == "rebalance_harvest" and sell.quantity == 3
    assert len(actions_for(result, "mid-2", "cancel")) == 3
    assert not actions_for(result, "mid-2", "buy")  # refilled at the next rebalance, not now
    assert not actions_for(result, "mid-3", "sell")  # marked below 5x entry: kept


def _contango_no_rebalance_harvest() -> tuple[MarketSnapshot, Book, StrategyConfig]:
    snap = snapshot(CALM)
    held = {"mid-2": layer(snap, "mid-2", 37, 0.35, entry=0.05)}
    return snap, book(snap, held), DEFAULT


def check_no_rebalance_harvest_in_contango(result: Plan, _: MarketSnapshot, __: Book) -> None:
    assert not actions_for(result, "mid-2", "sell")


def _orphan_harvest_orders() -> tuple[MarketSnapshot, Book, StrategyConfig]:
    snap = snapshot(CALM, at(TUESDAY))
    gone = layer(snap, "mid-3", 30, 0.25)
    from tests.support.alvh_scenarios import ladder_orders

    return snap, book(snap, {}, extra_orders=ladder_orders("mid-3", gone)), DEFAULT


def check_orphans_cancelled(result: Plan, _: MarketSnapshot, __: Book) -> None:
    cancels = actions_for(result, "mid-3", "cancel")
    assert len(cancels) == 3
    assert any("no layer is held" in alert for alert in result.record.alerts)


# ------------------------------------------------------------------------------------ §5 schedule


def _tuesday(rebalanced_monday: bool) -> Callable[[], tuple[MarketSnapshot, Book, StrategyConfig]]:
    def build() -> tuple[MarketSnapshot, Book, StrategyConfig]:
        snap = snapshot(CALM, at(TUESDAY))
        monday = at(MONDAY.date())
        return (
            snap,
            book(snap, rebalances=[monday] if rebalanced_monday else [], last_opportunity=monday),
            DEFAULT,
        )

    return build


def check_not_rebalance_day(result: Plan, _: MarketSnapshot, __: Book) -> None:
    assert not result.actions
    assert "not a rebalance day" in result.record.evaluation.rebalance_rule


def _tuesday_catch_up() -> tuple[MarketSnapshot, Book, StrategyConfig]:
    snap = snapshot(CALM, at(TUESDAY))
    return snap, book(snap, last_opportunity=at(dt.date(2026, 11, 16))), DEFAULT


def check_catch_up(result: Plan, _: MarketSnapshot, __: Book) -> None:
    assert "catch-up" in result.record.evaluation.rebalance_rule
    assert result.is_rebalance


def _request(
    trigger: str, reason: str | None, rebalanced: int
) -> Callable[[], tuple[MarketSnapshot, Book, StrategyConfig]]:
    def build() -> tuple[MarketSnapshot, Book, StrategyConfig]:
        snap = snapshot(CALM, at(WEDNESDAY), trigger=trigger, reason=reason)
        earlier = [at(MONDAY.date()), at(TUESDAY)][:rebalanced]
        return snap, book(snap, rebalances=earlier), DEFAULT

    return build


def check_manual_refused_by_cap(result: Plan, _: MarketSnapshot, __: Book) -> None:
    evaluation = result.record.evaluation
    assert evaluation.rebalance_opportunity and not evaluation.rebalance_allowed
    assert "weekly cap is used" in evaluation.rebalance_rule and not result.actions


def check_manual_allowed(result: Plan, _: MarketSnapshot, __: Book) -> None:
    assert result.record.evaluation.rebalance_allowed and result.is_rebalance


def check_forced_over_cap(result: Plan, _: MarketSnapshot, __: Book) -> None:
    evaluation = result.record.evaluation
    assert evaluation.rebalance_allowed and "override recorded" in evaluation.rebalance_rule
    assert "tester" in evaluation.rebalance_rule and evaluation.reason == "vol event"
    assert result.is_rebalance


def check_forced_needs_reason(result: Plan, _: MarketSnapshot, __: Book) -> None:
    assert not result.actions and "reason is required" in result.record.evaluation.rebalance_rule


def _two_per_week() -> tuple[MarketSnapshot, Book, StrategyConfig]:
    snap = snapshot(CALM, at(WEDNESDAY), trigger="manual")
    config = StrategyConfig(schedule=ScheduleConfig(max_rebalances_per_week=2))
    return snap, book(snap, rebalances=[at(MONDAY.date())]), config


def _outside_window(moment: dt.datetime) -> Callable[[], tuple[MarketSnapshot, Book, StrategyConfig]]:
    def build() -> tuple[MarketSnapshot, Book, StrategyConfig]:
        snap = snapshot(CALM, moment, trigger="forced", reason="test")
        held = {"mid-2": layer(snap, "mid-2", 37, 0.35)}
        return snap, book(snap, held, with_ladders=False), DEFAULT

    return build


def check_no_orders_outside_window(result: Plan, _: MarketSnapshot, __: Book) -> None:
    assert not result.actions  # not even the missing harvest ladder
    assert not result.record.evaluation.in_trading_window


# ------------------------------------------------------------------------------------ §6 exits


def _spx_near_breakeven(fraction: float) -> Callable[[], tuple[MarketSnapshot, Book, StrategyConfig]]:
    def build() -> tuple[MarketSnapshot, Book, StrategyConfig]:
        snap = snapshot(CALM)
        bk = book(snap)
        from strategies.condors import find_condors

        condor = find_condors(bk.condor_legs).condors[0]
        spx = condor.upper_breakeven * fraction
        return snap.model_copy(update={"spx": spx}), bk, DEFAULT

    return build


def check_breakeven_within(result: Plan, _: MarketSnapshot, __: Book) -> None:
    alerts = [c.alert for c in result.record.condors if c.alert]
    assert any("within" in a for a in alerts)
    assert any("break-even" in a for a in result.record.alerts)
    assert not [a for a in result.actions if a.contract and a.contract.symbol == "SPX"]  # never trades condors


def check_breakeven_crossed(result: Plan, _: MarketSnapshot, __: Book) -> None:
    assert any(c.alert and "crossed" in c.alert for c in result.record.condors)


def check_combined_pnl(result: Plan, _: MarketSnapshot, __: Book) -> None:
    record = result.record
    assert record.combined_pnl is not None and record.hedge_unrealized_pnl is not None
    condor_marks = sum(c.mark_pnl or 0.0 for c in record.condors)
    assert record.combined_pnl == pytest.approx(condor_marks + record.hedge_unrealized_pnl)


# ------------------------------------------------------------------------------------ quotes


def _bad_quote(**changes: object) -> Callable[[], tuple[MarketSnapshot, Book, StrategyConfig]]:
    def build() -> tuple[MarketSnapshot, Book, StrategyConfig]:
        snap = snapshot(CALM)
        snap = _with_quote(snap, _chosen_contract_key(), **changes)
        return snap, book(snap), DEFAULT

    return build


def _expect_refusal(fragment: str) -> Callable[[Plan, MarketSnapshot, Book], None]:
    def check(result: Plan, _: MarketSnapshot, __: Book) -> None:
        near = slot_decision(result, "near-1")
        assert near.outcome == "refused" and fragment in near.reason, near.reason
        assert not actions_for(result, "near-1")
        assert any(r.startswith("near-1:") and fragment in r for r in result.record.refusals)
        assert len([a for a in result.actions if a.kind == "buy"]) == 9  # the other slots go on

    return check


def _held_with_bad_quote() -> tuple[MarketSnapshot, Book, StrategyConfig]:
    snap = snapshot(CALM)
    held = {"near-1": layer(snap, "near-1", 2, 0.3)}
    snap = _with_quote(snap, held["near-1"].contract.key, bid=float("nan"))
    return snap, book(snap, held), DEFAULT


def check_sale_refused_on_nan(result: Plan, _: MarketSnapshot, __: Book) -> None:
    near = slot_decision(result, "near-1")
    assert "sale refused" in near.reason and not actions_for(result, "near-1", "sell")
    assert not actions_for(result, "near-1", "cancel")  # its ladder stays while it is held


def _worthless_near_layer() -> tuple[MarketSnapshot, Book, StrategyConfig]:
    snap = snapshot(STEEP)
    held = {"near-2": layer(snap, "near-2", 2, 0.3)}
    snap = _with_quote(snap, held["near-2"].contract.key, bid=None, ask=0.03)
    return snap, book(snap, held), DEFAULT


def check_worthless_layer_released(result: Plan, _: MarketSnapshot, __: Book) -> None:
    release = actions_for(result, "near-2", "release")
    assert len(release) == 1 and not actions_for(result, "near-2", "sell")
    cancels = actions_for(result, "near-2", "cancel")
    assert len(cancels) == 3 and set(release[0].after) == {c.intent_id for c in cancels}
    refill = actions_for(result, "near-2", "buy")
    assert refill and refill[0].role == "roll_buy" and refill[0].after == [release[0].intent_id]
    assert "no bid" in slot_decision(result, "near-2").reason


def _working_order_blocks() -> tuple[MarketSnapshot, Book, StrategyConfig]:
    snap = snapshot(CALM)
    quote: OptionQuote = snap.vix_options[5]
    pending = WorkingOrder(
        intent_id="alvh-earlier-mid-1-op-abcdef",
        slot_id="mid-1",
        role="open",
        side="BUY",
        contract=quote.contract,
        quantity=2,
        limit_price=1.0,
        tif="DAY",
    )
    return snap, book(snap, extra_orders=[pending]), DEFAULT


def check_working_order_blocks(result: Plan, _: MarketSnapshot, __: Book) -> None:
    assert slot_decision(result, "mid-1").outcome.startswith("waiting")
    assert not actions_for(result, "mid-1")
    assert result.record.budget.premium_at_risk_before == pytest.approx(200.0)  # the working buy counts


CASES = [
    Case("§1 buys only inside the bucket's buy window", _empty_calm, check_buy_windows),
    Case("§1 expiry nearest the window midpoint, slots spread round-robin", _empty_calm, check_expiry_spreading),
    Case("§1 strike whose call delta is closest to the slot's target", _empty_calm, check_delta_ladder),
    Case("§1 own Black-76 delta when IB sends no greeks", _no_model_greeks, check_own_black76),
    Case(
        "§1 step 1 near layer below threshold sold, slot refilled as a roll",
        _near_expiring_no_migrant,
        check_near_sold_and_refilled_as_roll,
    ),
    Case(
        "§1 step 2 mid layer migrates into a free near slot without a trade",
        _mid_leaving_with_free_near,
        check_mid_migrates,
    ),
    Case(
        "§1 step 2 mid layer rolls when no near slot is free: buy first, then sell",
        _mid_leaving_near_full,
        check_mid_rolls_buy_before_sell,
    ),
    Case("§1 step 3 long layer migrates into mid", _long_leaving, check_long_migrates_to_mid),
    Case(
        "§1 a week's turnover is one sale at the short end, one purchase at the long end",
        _weekly_turnover,
        check_weekly_turnover,
    ),
    Case(
        "§1 no layer held past its last trading day",
        _expires_before_next_rebalance,
        check_no_layer_past_last_trading_day,
    ),
    Case(
        "§2 quantity is floor(slot budget / (limit x 100)), buckets 40/40/20",
        _empty_calm,
        check_quantity_is_floor_of_budget,
    ),
    Case("§2 zero contracts is a logged skip", _tiny_credit, check_zero_contracts_is_skip),
    Case("§2 hard cap on premium at risk shrinks or refuses", _near_cap, check_cap_shrinks_or_refuses),
    Case("§2 a roll counts at its net premium", _roll_net_premium, check_roll_counts_net_premium),
    Case("§2 coverage is reported", _empty_calm, check_coverage_reported),
    Case("§2 coverage is capped by config", _coverage_capped, check_coverage_capped),
    Case("§2 on_no_condors=close closes layers, opens nothing", _no_condors("close"), check_no_condors_close),
    Case("§2 on_no_condors=hold keeps layers, opens nothing", _no_condors("hold"), check_no_condors_hold),
    Case("§3 opens allowed when contango is not extreme", _empty_calm, check_opens_allowed),
    Case("§3 opens refused in extreme contango without a reason", _steep(), check_opens_refused_in_extreme_contango),
    Case("§3 extreme contango allows opens when the VX trend is up", _steep(vx_trend="up"), check_opens_allowed),
    Case("§3 extreme contango allows opens when SPX RSI >= 70", _steep(spx="hot"), check_opens_allowed),
    Case(
        "§3 extreme contango allows opens with an event within 10 trading days",
        _steep_with_event(10),
        check_event_within_lookahead,
    ),
    Case("§3 an event 11 trading days ahead does not count", _steep_with_event(11), check_event_beyond_lookahead),
    Case("§3 unknown contango refuses opens", _contango_unknown, check_contango_unknown),
    Case(
        "§3 rolls proceed in extreme contango, falling back to the cheaper strike when the cap binds",
        _roll_fallback_cheaper_strike,
        check_roll_fallback,
    ),
    Case("§4 resting GTC ladder: thirds at 5x, 10x, rest at 20x", _held_without_ladder(10), check_ladder_thirds),
    Case("§4 a layer too small to split rests whole at 10x", _held_without_ladder(2), check_ladder_small_layer),
    Case(
        "§4 in backwardation a layer marked >= 5x entry is sold whole", _backwardation_harvest, check_rebalance_harvest
    ),
    Case("§4 no rebalance harvest in contango", _contango_no_rebalance_harvest, check_no_rebalance_harvest_in_contango),
    Case("§4 harvest orders without a layer are cancelled", _orphan_harvest_orders, check_orphans_cancelled),
    Case("§5 scheduled evaluation off the rebalance day does nothing", _tuesday(True), check_not_rebalance_day),
    Case("§5 a missed Monday is caught up later in the week", _tuesday_catch_up, check_catch_up),
    Case("§5 a manual rebalance obeys the weekly cap", _request("manual", None, 1), check_manual_refused_by_cap),
    Case("§5 a manual rebalance runs when the cap allows", _request("manual", None, 0), check_manual_allowed),
    Case(
        "§5 a forced rebalance exceeds the cap and is recorded",
        _request("forced", "vol event", 1),
        check_forced_over_cap,
    ),
    Case("§5 a forced rebalance needs a reason", _request("forced", None, 1), check_forced_needs_reason),
    Case("§5 max_rebalances_per_week = 2 allows a second one", _two_per_week, check_manual_allowed),
    Case(
        "§5 no orders within 15 minutes of the open",
        _outside_window(at(TUESDAY, 9, 40)),
        check_no_orders_outside_window,
    ),
    Case(
        "§5 no orders within 15 minutes of the close",
        _outside_window(at(TUESDAY, 16, 5)),
        check_no_orders_outside_window,
    ),
    Case(
        "§5 no orders on a non-trading day",
        _outside_window(at(dt.date(2026, 11, 26), 11, 0)),
        check_no_orders_outside_window,
    ),
    Case(
        "§5 no orders in IB's maintenance window", _outside_window(at(TUESDAY, 0, 30)), check_no_orders_outside_window
    ),
    Case("§6 alert when SPX is within 1 % of a break-even", _spx_near_breakeven(0.995), check_breakeven_within),
    Case("§6 alert when SPX crosses a break-even", _spx_near_breakeven(1.01), check_breakeven_crossed),
    Case("§6 combined P&L of condors and hedge", _weekly_turnover, check_combined_pnl),
    Case(
        "quotes: a stale quote refuses the slot",
        _bad_quote(quote_time=MONDAY - dt.timedelta(minutes=10)),
        _expect_refusal("stale quote"),
    ),
    Case("quotes: a NaN ask refuses the slot", _bad_quote(ask=float("nan")), _expect_refusal("not numbers")),
    Case("quotes: a crossed quote refuses the slot", _bad_quote(bid=9.0, ask=1.0), _expect_refusal("crossed")),
    Case(
        "quotes: an unaccepted market data type refuses the slot",
        _bad_quote(market_data_type=4),
        _expect_refusal("market data type"),
    ),
    Case("quotes: a held layer with a NaN bid is not sold blind", _held_with_bad_quote, check_sale_refused_on_nan),
    Case("§1 a slot with a working order waits for it", _working_order_blocks, check_working_order_blocks),
    Case(
        "§1 a leaving layer nobody bids for is released to expire, its slot refilled",
        _worthless_near_layer,
        check_worthless_layer_released,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.rule for case in CASES])
def test_rule(case: Case) -> None:
    snap, bk, config = case.build()
    result = run(snap, bk, config)
    case.check(result, snap, bk)
    assert len(result.record.slots) == 10
    assert all(s.reason for s in result.record.slots), "every slot's decision is explained"
