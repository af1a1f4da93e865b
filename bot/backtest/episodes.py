"""Volatility spike episodes, detected from the VIX closes, and each variant's figures in them.

Detection (issue 7): a day whose VIX close is at most 25 starts a spike when, within the next 10
trading days, VIX closes at or above 1.5 x that level and at or above 25. Each such day spans from
itself to its highest close in those 10 days; spans that overlap (or touch) are merged into one
episode. The episode starts on its earliest qualifying day; its peak is the highest close of the
merged span.

Figures, per variant, on the evaluation days:

- ``condor_loss``: the largest drop of the condor book's mark (its equity: realised plus marked
  P&L) from the start's close to its lowest close within the next ``window`` trading days (0 when
  it never falls below the start);
- ``hedge_gain``: the hedge's P&L, realised plus marked, from the start's close to that trough day;
- ``offset_ratio``: hedge_gain / condor_loss (None when there is no loss).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

START_LEVEL_MAX = 25.0
SPIKE_MULTIPLE = 1.5
SPIKE_LEVEL_MIN = 25.0
LOOKAHEAD_DAYS = 10


@dataclass(frozen=True)
class Episode:
    start_index: int
    peak_index: int
    start: dt.date
    peak_date: dt.date
    vix_start: float
    vix_peak: float


@dataclass(frozen=True)
class EpisodeFigures:
    condor_loss: float
    hedge_gain: float
    offset_ratio: float | None
    trough_index: int
    truncated: bool  # the window ran past the last evaluation day


def _date(value: np.datetime64) -> dt.date:
    return dt.date.fromisoformat(str(value)[:10])


def detect_episodes(dates: np.ndarray, vix_close: np.ndarray) -> list[Episode]:
    """Spike episodes in ``vix_close`` (one value per trading day, oldest first)."""
    spans: list[tuple[int, int]] = []
    count = len(vix_close)
    for start in range(count):
        level = vix_close[start]
        if not np.isfinite(level) or level > START_LEVEL_MAX:
            continue
        ahead = vix_close[start + 1 : start + 1 + LOOKAHEAD_DAYS]
        threshold = max(SPIKE_MULTIPLE * level, SPIKE_LEVEL_MIN)
        if len(ahead) == 0 or not np.any(ahead >= threshold):
            continue
        peak = start + 1 + int(np.nanargmax(ahead))
        spans.append((start, peak))
    merged: list[list[int]] = []
    for start, peak in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], peak)
        else:
            merged.append([start, peak])
    episodes = []
    for start, end in merged:
        peak = start + int(np.nanargmax(vix_close[start : end + 1]))
        episodes.append(
            Episode(
                start_index=start,
                peak_index=peak,
                start=_date(dates[start]),
                peak_date=_date(dates[peak]),
                vix_start=float(vix_close[start]),
                vix_peak=float(vix_close[peak]),
            )
        )
    return episodes


def episode_figures(
    episode: Episode, condor_equity: np.ndarray, hedge_equity: np.ndarray, window: int
) -> EpisodeFigures:
    """The episode's condor loss, the hedge's gain to the condor trough, and their ratio."""
    start = episode.start_index
    stop = min(start + window + 1, len(condor_equity))
    truncated = start + window + 1 > len(condor_equity)
    marks = condor_equity[start:stop]
    trough = start + int(np.argmin(marks))
    condor_loss = max(float(condor_equity[start] - condor_equity[trough]), 0.0)
    if condor_loss == 0.0:
        trough = start
    hedge_gain = float(hedge_equity[trough] - hedge_equity[start])
    ratio = hedge_gain / condor_loss if condor_loss > 0.0 else None
    return EpisodeFigures(condor_loss, hedge_gain, ratio, trough, truncated)
