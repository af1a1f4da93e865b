"""Summary figures of a run: per variant and per episode, in the shape of ``summary.json``.

Money is in dollars of cumulative P&L since the first evaluation (condor book plus hedge); the
Sharpe ratio is on daily dollar P&L (mean / standard deviation x sqrt(252)), which does not need a
capital base. Percentages of credit are in percent (9.5 means 9.5 %): the credit is what the condors
opened over the period collected.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from bot.backtest.condor_book import CondorBookResult
from bot.backtest.episodes import Episode, EpisodeFigures, detect_episodes, episode_figures
from bot.backtest.variants import VariantResult

TRADING_DAYS_PER_YEAR = 252


@dataclass
class RunFigures:
    summary: dict[str, Any]
    equity: dict[str, np.ndarray]
    episodes: list[Episode]
    figures: dict[int, dict[str, EpisodeFigures]]


def _iso_weeks(dates: np.ndarray) -> np.ndarray:
    days = [dt.date.fromisoformat(str(d)) for d in dates]
    return np.array([d.isocalendar()[0] * 100 + d.isocalendar()[1] for d in days])


def max_drawdown(equity: np.ndarray) -> float:
    peaks = np.maximum.accumulate(np.concatenate([[0.0], equity]))[1:]
    return float(np.max(peaks - equity)) if len(equity) else 0.0


def drawdown_series(equity: np.ndarray) -> np.ndarray:
    peaks = np.maximum.accumulate(np.concatenate([[0.0], equity]))[1:]
    return equity - peaks


def worst_week(dates: np.ndarray, equity: np.ndarray) -> float:
    weeks = _iso_weeks(dates)
    last_of_week = np.flatnonzero(np.append(weeks[1:] != weeks[:-1], True))
    closes = equity[last_of_week]
    changes = np.diff(np.concatenate([[0.0], closes]))
    return float(np.min(changes)) if len(changes) else 0.0


def sharpe(equity: np.ndarray) -> float | None:
    daily = np.diff(np.concatenate([[0.0], equity]))
    deviation = float(np.std(daily, ddof=1)) if len(daily) > 1 else 0.0
    if deviation == 0.0:
        return None
    return float(np.mean(daily) / deviation * math.sqrt(TRADING_DAYS_PER_YEAR))


def rebalances_per_week_max(rebalances: list[dt.datetime], timezone: str = "America/New_York") -> int:
    """Most rebalances in one ISO week (weeks of the schedule's time zone, as the weekly cap counts them)."""
    zone = ZoneInfo(timezone)
    counts: dict[tuple[int, int], int] = {}
    for moment in rebalances:
        key = moment.astimezone(zone).isocalendar()[:2]
        counts[key] = counts.get(key, 0) + 1
    return max(counts.values(), default=0)


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, digits)


def compute(
    dates: np.ndarray,
    vix_close: np.ndarray,
    condors: CondorBookResult,
    results: dict[str, VariantResult],
    window: int,
) -> RunFigures:
    condor_equity = condors.equity[-len(dates) :]
    credit = condors.credit_collected
    equity = {name: condor_equity + result.hedge_equity for name, result in results.items()}
    variants: dict[str, Any] = {}
    for name, result in results.items():
        total = equity[name]
        hedge_pnl = float(result.hedge_equity[-1])
        variants[name] = {
            "total_pnl": _round(float(total[-1])),
            "max_drawdown": _round(max_drawdown(total)),
            "worst_week": _round(worst_week(dates, total)),
            "sharpe": _round(sharpe(total), 3),
            "hedge_cost_pct_of_credit": _round(100.0 * result.premium_paid / credit if credit > 0 else None, 3),
            "hedge_net_pct_of_credit": _round(100.0 * hedge_pnl / credit if credit > 0 else None, 3),
            "cap_breaches": len(result.cap_breaches),
            "rebalances_per_week_max": rebalances_per_week_max(result.rebalances),
        }
    episodes = detect_episodes(dates, vix_close)
    figures: dict[int, dict[str, EpisodeFigures]] = {}
    episode_rows = []
    for number, episode in enumerate(episodes):
        figures[number] = {
            name: episode_figures(episode, condor_equity, result.hedge_equity, window)
            for name, result in results.items()
        }
        episode_rows.append(
            {
                "start": episode.start.isoformat(),
                "peak_date": episode.peak_date.isoformat(),
                "vix_start": round(episode.vix_start, 2),
                "vix_peak": round(episode.vix_peak, 2),
                "variants": {
                    name: {
                        "condor_loss": _round(fig.condor_loss),
                        "hedge_gain": _round(fig.hedge_gain),
                        "offset_ratio": _round(fig.offset_ratio, 4),
                    }
                    for name, fig in figures[number].items()
                },
            }
        )
    summary = {
        "period": {
            "start": str(np.datetime64(dates[0], "D")),
            "end": str(np.datetime64(dates[-1], "D")),
            "evaluation_days": len(dates),
        },
        "variants": variants,
        "episodes": episode_rows,
    }
    return RunFigures(summary, equity, episodes, figures)
