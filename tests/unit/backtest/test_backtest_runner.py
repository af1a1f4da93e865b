"""The runner on real history: caps, the weekly limit, no look-ahead, planner-call policy, a synthetic spike."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.backtest.hedge_book import Trade
from bot.backtest.pipeline import BacktestOutcome, BacktestRequest, prepare, run_backtest
from bot.backtest.settings import BacktestSettings, EvaluationSettings
from strategies.alvh.models import EvaluationRequest, MarketSnapshot
from strategies.alvh.planner import plan

PLANNER_VARIANTS = ("alvh_weekly", "alvh_daily", "alvh_no_harvest")
ALL = ("unhedged", *PLANNER_VARIANTS, "vxth_style")


def backtest(data: Path, start: dt.date, end: dt.date, variants=ALL, **settings: object) -> BacktestOutcome:  # type: ignore[no-untyped-def]
    request = BacktestRequest(
        data_dir=data,
        out_dir=Path("unused"),
        start=start,
        end=end,
        variants=variants,
        settings=BacktestSettings(**settings),  # type: ignore[arg-type]
        workers=1,
        write_outputs=False,
    )
    return run_backtest(request)


@pytest.fixture(scope="module")
def spring_2018(data_dir: Path) -> BacktestOutcome:
    """January to June 2018: the February spike, its aftermath and calm weeks."""
    return backtest(data_dir, dt.date(2018, 1, 2), dt.date(2018, 6, 29))


def test_the_premium_cap_is_never_breached(spring_2018: BacktestOutcome) -> None:
    dates = spring_2018.prepared.history.dates[spring_2018.prepared.span.first :]
    for name in (*PLANNER_VARIANTS, "vxth_style"):
        result = spring_2018.results[name]
        assert result.cap_breaches == []
        assert spring_2018.summary["variants"][name]["cap_breaches"] == 0
        buy_days = {trade.date for trade in result.trades if trade.kind == "buy"}
        assert buy_days, name
        for day in buy_days:
            index = int(np.searchsorted(dates, np.datetime64(day, "D")))
            assert result.premium_at_risk[index] <= result.cap[index] + 0.01, (name, day)
            assert result.cap[index] == pytest.approx(0.15 * _credit_on(spring_2018, index))


def _credit_on(outcome: BacktestOutcome, offset: int) -> float:
    condors = outcome.prepared.condors
    return condors.positions[int(condors.position_index[offset])].credit


def _rebalance_days_per_week(trades: list[Trade]) -> Counter[tuple[int, int]]:
    days = {t.date for t in trades if t.kind in ("buy", "sell")}
    return Counter(day.isocalendar()[:2] for day in days)


def test_the_weekly_variant_never_rebalances_twice_in_an_iso_week(spring_2018: BacktestOutcome) -> None:
    weekly = spring_2018.results["alvh_weekly"]
    assert spring_2018.summary["variants"]["alvh_weekly"]["rebalances_per_week_max"] == 1
    assert max(_rebalance_days_per_week(weekly.trades).values()) == 1
    weeks = Counter(moment.isocalendar()[:2] for moment in weekly.rebalances)
    assert len(weeks) >= 20 and max(weeks.values()) == 1
    # The daily variant does rebalance more often: the check above can fail.
    daily = spring_2018.results["alvh_daily"]
    assert max(_rebalance_days_per_week(daily.trades).values()) > 1
    assert spring_2018.summary["variants"]["alvh_daily"]["rebalances_per_week_max"] > 1


def test_harvest_and_no_harvest_variants_differ_as_configured(spring_2018: BacktestOutcome) -> None:
    results = spring_2018.results
    assert results["alvh_weekly"].harvest_fills > 0
    assert results["alvh_no_harvest"].harvest_fills == 0
    assert not any(t.role == "rebalance_harvest" for t in results["alvh_no_harvest"].trades)
    assert results["unhedged"].trades == [] and float(np.abs(results["unhedged"].hedge_equity).max()) == 0.0
    summary = spring_2018.summary
    assert set(summary) == {"period", "variants", "episodes"}
    for values in summary["variants"].values():
        assert set(values) == {
            "total_pnl", "max_drawdown", "worst_week", "sharpe", "hedge_cost_pct_of_credit",
            "hedge_net_pct_of_credit", "cap_breaches", "rebalances_per_week_max",
        }  # fmt: skip
    (episode,) = summary["episodes"]
    assert (episode["start"], episode["peak_date"], episode["vix_peak"]) == ("2018-01-22", "2018-02-05", 37.32)
    assert set(episode["variants"]["alvh_weekly"]) == {"condor_loss", "hedge_gain", "offset_ratio"}


def test_both_planner_call_policies_give_identical_results(data_dir: Path) -> None:
    start, end = dt.date(2018, 1, 2), dt.date(2018, 3, 29)
    fast = backtest(data_dir, start, end, PLANNER_VARIANTS)
    slow = backtest(data_dir, start, end, PLANNER_VARIANTS, evaluation=EvaluationSettings(call_policy="every_day"))
    for name in PLANNER_VARIANTS:
        assert fast.results[name].trades == slow.results[name].trades, name
        assert np.array_equal(fast.results[name].hedge_equity, slow.results[name].hedge_equity), name
        assert fast.results[name].rebalances == slow.results[name].rebalances, name
    assert fast.results["alvh_weekly"].plan_calls < slow.results["alvh_weekly"].plan_calls == len(fast.figures.equity[
        "alvh_weekly"])  # fmt: skip


def _perturb_after(directory: Path, cutoff: dt.date) -> None:
    """Every value after ``cutoff`` in every file changed; earlier rows untouched."""
    for path in directory.glob("*.csv"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        date_column = frame.columns[0]
        iso = path.name == "VX_term_structure.csv"
        dates = pd.to_datetime(frame[date_column], format="%Y-%m-%d" if iso else "%m/%d/%Y")
        later = dates.dt.date > cutoff
        for column in frame.columns[1:]:
            if column.endswith(("_expiry", "_dte")):
                continue
            values = pd.to_numeric(frame[column], errors="coerce")
            factor = 0.85 if path.name == "SPX_History.csv" else 1.45
            frame[column] = np.where(later & values.notna(), (values * factor).round(3).astype(str), frame[column])
        frame.to_csv(path, index=False)


def test_no_decision_before_a_date_depends_on_data_after_it(data_copy: Path, data_dir: Path) -> None:
    start, cutoff, end = dt.date(2018, 1, 2), dt.date(2018, 2, 14), dt.date(2018, 3, 29)
    original = backtest(data_dir, start, end)
    _perturb_after(data_copy, cutoff)
    changed = backtest(data_copy, start, end)
    dates = original.prepared.history.dates[original.prepared.span.first :]
    before = int(np.searchsorted(dates, np.datetime64(cutoff, "D"))) + 1
    assert str(dates[before - 1]) == "2018-02-14"
    for name in ALL:
        a, b = original.results[name], changed.results[name]
        assert [t for t in a.trades if t.date <= cutoff] == [t for t in b.trades if t.date <= cutoff], name
        assert [d for d in a.decisions if d.date <= cutoff] == [d for d in b.decisions if d.date <= cutoff], name
        assert np.array_equal(a.hedge_equity[:before], b.hedge_equity[:before]), name
        assert np.array_equal(original.figures.equity[name][:before], changed.figures.equity[name][:before]), name
    # The perturbation did reach the later days, so the comparison above could have failed.
    assert not np.array_equal(original.figures.equity["unhedged"], changed.figures.equity["unhedged"])
    later = [t for t in original.results["alvh_weekly"].trades if t.date > cutoff]
    assert later != [t for t in changed.results["alvh_weekly"].trades if t.date > cutoff]


def test_snapshots_are_valid_and_coverage_matches_the_planner(data_dir: Path) -> None:
    request = BacktestRequest(data_dir, Path("unused"), dt.date(2018, 1, 2), dt.date(2018, 1, 31))
    prepared = prepare(request)
    market = prepared.market
    day = market.day(prepared.span.first)
    snapshot = market.snapshot(day, EvaluationRequest(), [])
    # Built without per-quote validation for speed: a full validation round trip changes nothing.
    assert MarketSnapshot.model_validate(snapshot.model_dump()) == snapshot
    assert len(snapshot.spx_history) == len(snapshot.vx1_history) >= 60
    assert snapshot.spx_history[-1].date < day.date  # completed closes of earlier days only
    assert snapshot.sessions[0].date == day.date and (snapshot.sessions[-1].date - day.date).days >= 100
    expiries = sorted({q.contract.expiry for q in snapshot.vix_options})
    assert all(7 <= (e - day.date).days <= 14 or 30 <= (e - day.date).days <= 90 for e in expiries)
    deltas = [q.model_delta for q in snapshot.vix_options]
    assert min(deltas) >= 0.04 and max(deltas) <= 0.65  # type: ignore[type-var]
    outcome = plan(snapshot, _empty_book(prepared).book(prepared.condors.legs_on(0)), request.strategy)
    assert outcome.record.budget.credit == pytest.approx(prepared.condors.positions[0].credit)
    assert outcome.record.coverage.condor_dollars_per_vol_point == pytest.approx(prepared.condors.vega_dollars[0])
    assert outcome.is_rebalance and all(a.kind == "buy" for a in outcome.actions)


def _empty_book(prepared):  # type: ignore[no-untyped-def]
    from bot.backtest.hedge_book import HedgeBook

    return HedgeBook(slot_ids=prepared.specs[0].config.buckets.slot_ids(), commission_per_contract=1.0)


def test_the_day_high_reprices_resting_harvest_orders(data_dir: Path) -> None:
    request = BacktestRequest(data_dir, Path("unused"), dt.date(2018, 1, 2), dt.date(2018, 2, 28))
    prepared = prepare(request)
    market = prepared.market
    day = market.day(prepared.history.index_of(dt.date(2018, 2, 5)))
    assert (day.vix, day.vix_high) == (37.32, 38.80)
    expiries = [dt.date(2018, 2, 14), dt.date(2018, 3, 21)]
    strikes = [30.0, 30.0]
    at_close = market.price(day, expiries, strikes, [False, False]).bid
    at_high = market.bids_at_high(day, expiries, strikes, [False, False])
    assert np.all(at_high > at_close)
    # The near future moves more than the far one (beta falls with DTE).
    assert at_high[0] - at_close[0] > at_high[1] - at_close[1]


def test_a_synthetic_spike_gives_the_expected_episode(
    tmp_path: Path, synthetic: Callable[..., list[dt.date]], spike: Callable[..., tuple[list[float], list[float]]]
) -> None:
    vix, spx = spike(150, spike_at=100)
    days = synthetic(tmp_path / "data", vix, spx, first_day=dt.date(2024, 1, 2))  # a year after the shared data
    outcome = backtest(tmp_path / "data", days[60], days[-1], ("unhedged", "alvh_weekly", "alvh_no_harvest"))
    (episode,) = outcome.summary["episodes"]
    # VIX 14 until day 100, then 17, 22, 27, 32: the first start is day 92 (14 -> needs 25 within ten days:
    # day 102 has 27), the peak is day 103 (32).
    assert episode["start"] == days[92].isoformat()
    assert episode["peak_date"] == days[103].isoformat()
    assert (episode["vix_start"], episode["vix_peak"]) == (14.0, 32.0)
    condor = outcome.figures.equity["unhedged"]
    start = 92 - 60
    window = condor[start : start + 21]
    assert episode["variants"]["unhedged"] == {
        "condor_loss": pytest.approx(round(condor[start] - window.min(), 2)),
        "hedge_gain": 0.0,
        "offset_ratio": 0.0,
    }
    weekly = episode["variants"]["alvh_weekly"]
    trough = start + int(np.argmin(window))
    hedge = outcome.results["alvh_weekly"].hedge_equity
    assert weekly["hedge_gain"] == pytest.approx(round(hedge[trough] - hedge[start], 2))
    assert weekly["hedge_gain"] > 0  # long VIX calls gain when VIX doubles
    assert weekly["offset_ratio"] == pytest.approx(weekly["hedge_gain"] / weekly["condor_loss"], rel=1e-3)
