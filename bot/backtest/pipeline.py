"""One backtest from files to outputs: load, calibrate, simulate the condors, run the variants, report.

``run_backtest`` writes into the output directory:

- ``summary.json``: the figures of issue 7 (period, variants, episodes) and nothing else;
- ``report.html``: one self-contained page (charts embedded) with the answer per episode;
- ``*.png``: the charts;
- ``details.json``: calibration errors, data notes, assumptions' parameters, run statistics;
- ``trades.csv``: every fill of every variant.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bot.backtest import plots
from bot.backtest.calibration import calibrate
from bot.backtest.condor_book import CondorBookResult, simulate_condors
from bot.backtest.loaders import MarketHistory, load_history
from bot.backtest.market import MarketModel
from bot.backtest.metrics import RunFigures, compute
from bot.backtest.runner import RunSpan, run_variants
from bot.backtest.settings import ALL_VARIANTS, BacktestSettings, VariantName
from bot.backtest.variants import VariantResult, VariantSpec, build_variants
from bot.backtest.vix_model import VixVolParams
from bot.calendar import ExchangeCalendar
from strategies.alvh.config import StrategyConfig


@dataclass
class BacktestRequest:
    data_dir: Path
    out_dir: Path
    start: dt.date | None = None
    end: dt.date | None = None
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    settings: BacktestSettings = field(default_factory=BacktestSettings)
    variants: tuple[VariantName, ...] = ALL_VARIANTS
    workers: int | None = None
    write_outputs: bool = True


@dataclass
class Prepared:
    history: MarketHistory
    first_index: int
    params: VixVolParams
    condors: CondorBookResult
    market: MarketModel
    span: RunSpan
    specs: list[VariantSpec]


@dataclass
class BacktestOutcome:
    request: BacktestRequest
    prepared: Prepared
    results: dict[str, VariantResult]
    figures: RunFigures
    timings: dict[str, float]
    written: list[Path] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, Any]:
        return self.figures.summary


class ProgressSink(Protocol):
    """What a caller may show while a backtest runs."""

    def stage(self, text: str) -> None: ...

    def start_variants(self, names: list[str], days: int) -> None: ...

    def advance(self, name: str, days: int) -> None: ...


class ProgressHooks:
    """A progress sink that shows nothing."""

    def stage(self, text: str) -> None:
        del text

    def start_variants(self, names: list[str], days: int) -> None:
        del names, days

    def advance(self, name: str, days: int) -> None:
        del name, days


def prepare(request: BacktestRequest, hooks: ProgressSink | None = None) -> Prepared:
    hooks = hooks or ProgressHooks()
    calendar = ExchangeCalendar(request.strategy.schedule.calendar)
    hooks.stage("loading and checking the history files")
    history, first_index = load_history(
        request.data_dir, calendar, request.start, request.end, request.settings.warmup_days
    )
    hooks.stage("calibrating the VIX option model")
    params = calibrate(history, history.notes)
    hooks.stage("simulating the condor book")
    condors = simulate_condors(history, first_index, request.settings.condors, request.settings.spx_vol, calendar)
    market = MarketModel(history, first_index, params, request.settings, condors, request.strategy, calendar)
    span = RunSpan(first_index, len(history) - 1)
    specs = build_variants(list(request.variants), request.strategy)
    return Prepared(history, first_index, params, condors, market, span, specs)


def run_backtest(request: BacktestRequest, hooks: ProgressSink | None = None) -> BacktestOutcome:
    hooks = hooks or ProgressHooks()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    prepared = prepare(request, hooks)
    timings["prepare_seconds"] = time.perf_counter() - started
    hooks.start_variants([spec.name for spec in prepared.specs], prepared.span.days)
    running = time.perf_counter()
    results = run_variants(prepared.market, prepared.specs, prepared.span, hooks.advance, request.workers)
    timings["variants_seconds"] = time.perf_counter() - running
    history = prepared.history
    dates = history.dates[prepared.span.first :]
    figures = compute(
        dates,
        history.vix_close[prepared.span.first :],
        prepared.condors,
        results,
        request.settings.drawdown_window_days,
    )
    outcome = BacktestOutcome(request, prepared, results, figures, timings)
    if request.write_outputs:
        hooks.stage("writing summary.json, report.html and charts")
        writing = time.perf_counter()
        outcome.written = write_outputs(outcome)
        timings["report_seconds"] = time.perf_counter() - writing
    timings["total_seconds"] = time.perf_counter() - started
    return outcome


def write_outputs(outcome: BacktestOutcome) -> list[Path]:
    from bot.backtest.report import details_document, render_report

    out = outcome.request.out_dir
    out.mkdir(parents=True, exist_ok=True)
    written = []
    summary_path = out / "summary.json"
    summary_path.write_text(json.dumps(outcome.summary, indent=2) + "\n", encoding="utf-8")
    written.append(summary_path)
    charts = draw_charts(outcome)
    written.extend(charts.values())
    details_path = out / "details.json"
    details_path.write_text(json.dumps(details_document(outcome), indent=2, default=str) + "\n", encoding="utf-8")
    written.append(details_path)
    trades_path = out / "trades.csv"
    write_trades(outcome.results, trades_path)
    written.append(trades_path)
    report_path = out / "report.html"
    report_path.write_text(render_report(outcome, charts), encoding="utf-8")
    written.append(report_path)
    return written


def draw_charts(outcome: BacktestOutcome) -> dict[str, Path]:
    out = outcome.request.out_dir
    history = outcome.prepared.history
    first = outcome.prepared.span.first
    dates = history.dates[first:]
    figures = outcome.figures
    results = outcome.results
    labels = [f"{n}. {e.start:%Y-%m}" for n, e in enumerate(figures.episodes, start=1)]
    ratios = {
        name: [figures.figures[number][name].offset_ratio for number in range(len(figures.episodes))]
        for name in results
    }
    coverage = {name: r.coverage for name, r in results.items() if name != "unhedged"}
    return {
        "equity": plots.equity_plot(dates, figures.equity, figures.episodes, out / "equity.png"),
        "drawdown": plots.drawdown_plot(dates, figures.equity, out / "drawdown.png"),
        "hedge": plots.hedge_plot(
            dates, {n: r.hedge_equity for n, r in results.items()}, figures.episodes, out / "hedge_pnl.png"
        ),
        "vix": plots.vix_plot(dates, history.vix_close[first:], figures.episodes, out / "vix_episodes.png"),
        "coverage": plots.coverage_plot(
            dates, coverage, outcome.request.strategy.coverage.alert_below, out / "coverage.png"
        ),
        "offsets": plots.offset_plot(labels, ratios, out / "episode_offsets.png"),
    }


def write_trades(results: dict[str, VariantResult], path: Path) -> None:
    rows = [trade.as_row(name) for name, result in results.items() for trade in result.trades]
    columns = [
        "variant",
        "date",
        "kind",
        "role",
        "slot",
        "contract",
        "quantity",
        "price",
        "commission",
        "realized_pnl",
        "intent_id",
    ]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def equity_at(outcome: BacktestOutcome, name: str, day: dt.date) -> float:
    dates = outcome.prepared.history.dates[outcome.prepared.span.first :]
    position = int(np.searchsorted(dates, np.datetime64(day, "D")))
    return float(outcome.figures.equity[name][position])
