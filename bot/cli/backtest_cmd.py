"""`alvh backtest`: the hedge on real history, all variants side by side; writes summary.json, report.html, plots."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from bot.cli.common import EXIT_OK, EXIT_REFUSED, EXIT_USAGE, CliError, add_config_argument, config_from_args

VARIANT_NAMES = ("unhedged", "alvh_weekly", "alvh_daily", "alvh_no_harvest", "vxth_style")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _variants(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in VARIANT_NAMES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(VARIANT_NAMES)}")
    return names


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "backtest",
        help="evaluate the hedge on historical data; writes summary.json, report.html and plots",
        description="Run the planner day by day on Cboe history (VIX, SPX, VX futures, VVIX, ...) with modelled "
        "VIX options and a standard SPX iron condor book, for several hedge variants side by side, and answer "
        "whether the layered hedge offsets volatility spikes without intraday tweaks.",
    )
    parser.add_argument("--data", type=Path, required=True, metavar="DIR", help="directory with the Cboe CSV files")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory (created)")
    parser.add_argument("--start", type=_date, default=None, metavar="D", help="first day (default: earliest)")
    parser.add_argument("--end", type=_date, default=None, metavar="D", help="last day (default: latest)")
    add_config_argument(parser)
    parser.add_argument(
        "--settings", type=Path, default=None, metavar="FILE", help="TOML overriding the backtest's model settings"
    )
    parser.add_argument(
        "--variants",
        type=_variants,
        nargs="+",
        default=None,
        metavar="NAME",
        help=f"variants to run (default: all): {', '.join(VARIANT_NAMES)}",
    )
    parser.add_argument("--workers", type=int, default=None, metavar="N", help="processes (default: one per core)")
    parser.add_argument("--json", action="store_true", help="print summary.json on stdout")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_backtest)


def _backtest(args: argparse.Namespace) -> int:
    from bot.backtest.loaders import DataError
    from bot.backtest.pipeline import BacktestRequest, run_backtest
    from bot.backtest.settings import load_settings
    from bot.config import ConfigError

    config = config_from_args(args)
    try:
        settings = load_settings(args.settings)
    except ConfigError as error:
        raise CliError(error.render(), EXIT_USAGE) from None
    variants = tuple(dict.fromkeys(name for group in (args.variants or [list(VARIANT_NAMES)]) for name in group))
    if args.workers is not None and args.workers < 1:
        raise CliError("--workers must be at least 1", EXIT_USAGE)
    if args.out.exists() and not args.out.is_dir():
        raise CliError(f"--out {args.out} exists and is not a directory", EXIT_USAGE)
    request = BacktestRequest(
        data_dir=args.data,
        out_dir=args.out,
        start=args.start,
        end=args.end,
        strategy=config.strategy,
        settings=settings,
        variants=variants,  # type: ignore[arg-type]
        workers=args.workers,
    )
    hooks = _RichHooks() if not (args.quiet or args.json) else None
    try:
        if hooks is not None:
            with hooks:
                outcome = run_backtest(request, hooks)
        else:
            outcome = run_backtest(request)
    except DataError as error:
        raise CliError(f"backtest stopped: {error}", EXIT_REFUSED) from None
    except OSError as error:
        raise CliError(f"cannot write the outputs: {error}", EXIT_REFUSED) from None
    if args.json:
        sys.stdout.write(json.dumps(outcome.summary, indent=2) + "\n")
        return EXIT_OK
    _print_summary(outcome)
    return EXIT_OK


class _RichHooks:
    """A rich progress bar on stderr: one line per stage, one bar per variant."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("{task.description:<18}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("days"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> _RichHooks:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def stage(self, text: str) -> None:
        self.progress.console.print(f"[dim]{text}[/dim]")

    def start_variants(self, names: list[str], days: int) -> None:
        for name in names:
            self.tasks[name] = self.progress.add_task(name, total=days)

    def advance(self, name: str, days: int) -> None:
        task = self.tasks.get(name)
        if task is not None:
            self.progress.advance(task, days)


SHORT_NAMES = {
    "unhedged": "unhedged",
    "alvh_weekly": "weekly",
    "alvh_daily": "daily",
    "alvh_no_harvest": "no_harvest",
    "vxth_style": "vxth",
}


def _print_summary(outcome: Any) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=140)  # a file or a pipe: full figures rather than an 80-column squeeze
    summary = outcome.summary
    period = summary["period"]
    console.print(f"Backtest {period['start']} to {period['end']} ({period['evaluation_days']} evaluation days)")
    table = Table(title="Variants (P&L in thousand $, cost and net in % of condor credit)", box=box.SIMPLE)
    for column in ("variant", "P&L", "max DD", "worst wk", "Sharpe", "cost %", "net %", "breaches", "reb/wk"):
        table.add_column(column, justify="right", no_wrap=True)
    for name, values in summary["variants"].items():
        table.add_row(
            name,
            _thousands(values["total_pnl"]),
            _thousands(values["max_drawdown"]),
            _thousands(values["worst_week"]),
            "n/a" if values["sharpe"] is None else f"{values['sharpe']:.2f}",
            "n/a" if values["hedge_cost_pct_of_credit"] is None else f"{values['hedge_cost_pct_of_credit']:.1f}",
            "n/a" if values["hedge_net_pct_of_credit"] is None else f"{values['hedge_net_pct_of_credit']:+.1f}",
            str(values["cap_breaches"]),
            str(values["rebalances_per_week_max"]),
        )
    console.print(table)
    if summary["episodes"]:
        names = [n for n in summary["variants"] if n != "unhedged"]
        episodes = Table(title="Spike episodes: offset = hedge gain / condor loss", box=box.SIMPLE)
        for column in ("start", "peak", "VIX", "loss $k", *(SHORT_NAMES.get(n, n) for n in names)):
            episodes.add_column(column, justify="right", no_wrap=True)
        for row in summary["episodes"]:
            first = next(iter(row["variants"].values()))
            ratios = [row["variants"][n]["offset_ratio"] for n in names]
            episodes.add_row(
                row["start"],
                row["peak_date"],
                f"{row['vix_start']:.1f}-{row['vix_peak']:.1f}",
                _thousands(first["condor_loss"]),
                *("n/a" if r is None else f"{r:.0%}" for r in ratios),
            )
        console.print(episodes)
    console.print(f"Wrote {', '.join(path.name for path in outcome.written)} to {outcome.request.out_dir}")


def _thousands(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value / 1000.0:,.1f}"
