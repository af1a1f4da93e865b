"""The backtest runner: each day, the planner's snapshot and book, the same ``plan()``, modelled fills.

One evaluation per trading day at 15:30 New York (30 minutes before an early close). Within a day:

1. options that expire today settle at the VIX open (the special opening quotation's proxy);
2. resting harvest orders placed on an earlier day fill if the day's VIX high reached them;
3. the condor book rolls if due (condor_book.py), then the hedge is evaluated: the snapshot and book
   are built as the live bot builds them, ``strategies.alvh.planner.plan`` is called and its actions
   are executed (hedge_book.py);
4. everything held is marked at the day's close.

Which days call the planner (``call_policy``):

- ``every_day``: every trading day.
- ``when_actionable`` (default, same results, faster): the days on which the plan could hold an
  action, decided with the planner's own schedule rules (strategies.alvh.schedule): the evaluation is
  inside the trading window and either a rebalance is allowed (the weekly opportunity with the cap
  unused; every day for the forced daily variant), or a harvest ladder needs upkeep (a layer whose
  contracts are not exactly covered by resting sells, or sells resting without a layer). On any
  other day the planner can only record "no action"; the runner then records the rebalance
  opportunity itself when there was one (a used weekly cap), as the engine would from the record.
  A unit test runs both policies and checks that every trade and every day's equity are identical.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from bot.backtest.hedge_book import HedgeBook
from bot.backtest.market import Day, MarketModel
from bot.backtest.variants import PROGRESS_EVERY, Decision, VariantResult, VariantSpec
from bot.backtest.vxth import run_vxth
from strategies.alvh.planner import plan
from strategies.alvh.schedule import rebalance_permission, trading_window

ProgressCallback = Callable[[int], None]
CAP_TOLERANCE = 0.01
_NUMBERS = re.compile(r"\d+(\.\d+)?")


@dataclass
class RunSpan:
    first: int  # index of the first evaluation day in the history
    last: int  # index of the last evaluation day (inclusive)

    @property
    def days(self) -> int:
        return self.last - self.first + 1


def planner_could_act(market: MarketModel, spec: VariantSpec, book: HedgeBook, day: Day) -> bool:
    """Whether ``plan()`` could return an action today; records a skipped rebalance opportunity."""
    config = spec.config
    window = trading_window(day.as_of, market.sessions_from(day.date), config.schedule)
    if not window.open:
        return False
    permission = rebalance_permission(day.as_of, spec.request, book.schedule_view(), window, config.schedule)
    if permission.allowed:
        return True
    if book.harvest_maintenance_due(config.harvest.enabled):
        return True
    if permission.opportunity:
        book.last_rebalance_opportunity = day.as_of
    return False


def run_planner_variant(
    market: MarketModel, spec: VariantSpec, span: RunSpan, progress: ProgressCallback | None = None
) -> VariantResult:
    config = spec.config
    settings = market.settings
    dates = market.history.dates[span.first : span.last + 1]
    result = VariantResult.empty(spec.name, dates)
    book = HedgeBook(
        slot_ids=config.buckets.slot_ids(), commission_per_contract=settings.vix_options.commission_per_contract
    )
    every_day = settings.evaluation.call_policy == "every_day"
    for offset, index in enumerate(range(span.first, span.last + 1)):
        day = market.day(index)
        book.settle_expired(day.date, day.vix_open)
        result.harvest_fills += book.fill_harvests(day.date, _bids_at_high(market, day))
        condor_offset = index - market.first_index
        position = int(market.condors.position_index[condor_offset])
        credit = market.condors.positions[position].credit if position >= 0 else 0.0
        if every_day or planner_could_act(market, spec, book, day):
            _evaluate(market, spec, book, day, condor_offset, result)
        value, hedge_dollars = market.mark(day, book.all_layers(), list(book.layers.values()))
        condor_vega = float(market.condors.vega_dollars[condor_offset])
        result.hedge_value[offset] = value
        result.hedge_equity[offset] = book.cash + value
        result.coverage[offset] = hedge_dollars / condor_vega if condor_vega > 0 else np.nan
        result.premium_at_risk[offset] = book.premium_at_risk()
        result.cap[offset] = config.sizing.cap_pct * max(credit, 0.0)
        result.layers_held[offset] = len(book.layers)
        if progress is not None and (offset + 1) % PROGRESS_EVERY == 0:
            progress(PROGRESS_EVERY)
    if progress is not None:
        progress(span.days % PROGRESS_EVERY)
    result.premium_paid = book.premium_paid
    result.commissions = book.commissions
    result.realized_pnl = book.realized_pnl
    result.trades = book.trades
    return result


def _bids_at_high(market: MarketModel, day: Day) -> Callable[[list[Any]], list[float]]:
    def bids(contracts: list[Any]) -> list[float]:
        values = market.bids_at_high(
            day,
            [c.expiry for c in contracts],
            [c.strike for c in contracts],
            [c.trading_class == "VIXW" for c in contracts],
        )
        return [float(v) for v in values]

    return bids


def _evaluate(
    market: MarketModel, spec: VariantSpec, book: HedgeBook, day: Day, condor_offset: int, result: VariantResult
) -> None:
    started = time.perf_counter()
    snapshot = market.snapshot(day, spec.request, book.held_contracts())
    current = book.book(market.condors.legs_on(condor_offset))
    built = time.perf_counter()
    outcome = plan(snapshot, current, spec.config)
    planned = time.perf_counter()
    result.snapshot_seconds += built - started
    result.plan_seconds += planned - built
    result.plan_calls += 1
    quotes = {(q.contract.expiry, q.contract.strike, q.contract.trading_class): q for q in snapshot.vix_options}
    execution = book.apply(outcome, lambda c: quotes.get((c.expiry, c.strike, c.trading_class)), day.date)
    if outcome.is_rebalance and execution.any_order_filled:
        result.rebalances.append(day.as_of)
    premium_at_risk = book.premium_at_risk()
    cap = outcome.record.budget.cap
    if execution.bought and premium_at_risk > cap + CAP_TOLERANCE:
        result.cap_breaches.append(
            {"date": day.date.isoformat(), "premium_at_risk": round(premium_at_risk, 2), "cap": round(cap, 2)}
        )
    result.executor_notes.extend(f"{day.date}: {note}" for note in execution.notes)
    result.alerts += len(outcome.record.alerts)
    result.refusals += len(outcome.record.refusals)
    for refusal in outcome.record.refusals:
        reason = _NUMBERS.sub("#", refusal.split(": ", 1)[-1])[:120]
        result.refusal_reasons[reason] = result.refusal_reasons.get(reason, 0) + 1
    if outcome.actions:
        result.decisions.append(
            Decision(day.date, outcome.record.summary, len(outcome.actions), outcome.record.coverage.coverage_after)
        )


def run_variant(
    market: MarketModel, spec: VariantSpec, span: RunSpan, progress: ProgressCallback | None = None
) -> VariantResult:
    if spec.kind == "planner":
        return run_planner_variant(market, spec, span, progress)
    if spec.kind == "vxth":
        return run_vxth(market, spec, span.first, span.last, progress)
    result = VariantResult.empty(spec.name, market.history.dates[span.first : span.last + 1])
    condor_offsets = np.arange(span.first, span.last + 1) - market.first_index
    credits = np.array([market.condors.positions[int(p)].credit for p in market.condors.position_index[condor_offsets]])
    result.cap = spec.config.sizing.cap_pct * np.maximum(credits, 0.0)
    if progress is not None:
        progress(span.days)
    return result


# ---------------------------------------------------------------------------------------------------
# Several variants at once: one process per variant where fork is available (the market model is
# inherited, not pickled), in this process otherwise.

_SHARED: dict[str, Any] = {}


def _worker(spec: VariantSpec) -> VariantResult:
    market: MarketModel = _SHARED["market"]
    span: RunSpan = _SHARED["span"]
    queue = _SHARED["queue"]

    def report(days: int) -> None:
        queue.put((spec.name, days))

    return run_variant(market, spec, span, report)


def run_variants(
    market: MarketModel,
    specs: list[VariantSpec],
    span: RunSpan,
    on_progress: Callable[[str, int], None] | None = None,
    workers: int | None = None,
) -> dict[str, VariantResult]:
    """Runs every variant over ``span``; results keyed by variant name, in ``specs`` order."""
    workers = workers if workers is not None else min(len(specs), os.cpu_count() or 1)
    can_fork = "fork" in multiprocessing.get_all_start_methods()
    if workers <= 1 or len(specs) <= 1 or not can_fork:
        results: dict[str, VariantResult] = {}
        for spec in specs:
            callback = (lambda days, name=spec.name: on_progress(name, days)) if on_progress else None
            results[spec.name] = run_variant(market, spec, span, callback)
        return results
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    _SHARED.update(market=market, span=span, queue=queue)
    # The slowest variants first, so that the pool's last task is a short one.
    order = sorted(specs, key=lambda s: {"planner": 0, "vxth": 1, "none": 2}[s.kind])
    try:
        with context.Pool(processes=workers) as pool:
            pending = {spec.name: pool.apply_async(_worker, (spec,)) for spec in order}
            while not all(job.ready() for job in pending.values()):
                _drain(queue, on_progress)
                time.sleep(0.05)
            _drain(queue, on_progress)
            finished = {name: job.get() for name, job in pending.items()}
    finally:
        _SHARED.clear()
    return {spec.name: finished[spec.name] for spec in specs}


def _drain(queue: Any, on_progress: Callable[[str, int], None] | None) -> None:
    while True:
        try:
            name, days = queue.get_nowait()
        except Exception:  # queue.Empty, from the multiprocessing module's queue
            return
        if on_progress is not None:
            on_progress(name, days)
