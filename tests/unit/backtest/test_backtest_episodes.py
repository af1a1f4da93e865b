"""Spike episodes and summary metrics against figures computed by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from bot.backtest.episodes import detect_episodes, episode_figures
from bot.backtest.metrics import max_drawdown, rebalances_per_week_max, sharpe, worst_week

# Twelve trading days (a Monday start, so days 0-4 and 5-9 are ISO weeks) with one spike and a later bump.
DATES = np.array(
    [
        "2018-01-08", "2018-01-09", "2018-01-10", "2018-01-11", "2018-01-12",
        "2018-01-15", "2018-01-16", "2018-01-17", "2018-01-18", "2018-01-19",
        "2018-01-22", "2018-01-23",
    ],
    dtype="datetime64[D]",
)  # fmt: skip
VIX = np.array([20.0, 20.0, 19.0, 22.0, 26.0, 31.0, 35.0, 30.0, 24.0, 20.0, 18.0, 18.0])
CONDOR = np.array([0.0, -1000.0, -3000.0, -2000.0, -8000.0, -15000.0, -12000.0, -20000.0, -9000.0, -5000.0, 0.0, 1e3])
HEDGE = np.array([0.0, 100.0, 500.0, 200.0, 3000.0, 9000.0, 12000.0, 8000.0, 6000.0, 4000.0, 3000.0, 3000.0])


def test_one_episode_by_hand() -> None:
    # Qualifying starts: day 0 (20 -> needs 30: day 5 has 31), day 1 (20), day 2 (19 -> 28.5), day 3 (22 -> 33:
    # day 6 has 35). Day 4 (26) is above 25; days 8-11 never see 1.5x again. Spans end at the highest close of
    # each start's 10 days (day 6): they overlap, one episode from day 0 to the peak on day 6.
    episodes = detect_episodes(DATES, VIX)
    assert len(episodes) == 1
    episode = episodes[0]
    assert episode.start == dt.date(2018, 1, 8)
    assert episode.peak_date == dt.date(2018, 1, 16)
    assert (episode.vix_start, episode.vix_peak) == (20.0, 35.0)

    # Window 20 runs past the data: trough on day 7 (-20000), loss 20000; hedge 0 -> 8000; offset 0.4.
    figures = episode_figures(episode, CONDOR, HEDGE, window=20)
    assert figures.trough_index == 7
    assert figures.condor_loss == 20000.0
    assert figures.hedge_gain == 8000.0
    assert figures.offset_ratio == pytest.approx(0.4)
    assert figures.truncated

    # Window 5: days 0-5 only, trough day 5 (-15000), hedge 9000, offset 0.6.
    figures = episode_figures(episode, CONDOR, HEDGE, window=5)
    assert (figures.trough_index, figures.condor_loss, figures.hedge_gain) == (5, 15000.0, 9000.0)
    assert figures.offset_ratio == pytest.approx(0.6)
    assert not figures.truncated


def test_no_loss_means_no_ratio() -> None:
    episode = detect_episodes(DATES, VIX)[0]
    figures = episode_figures(episode, np.arange(12, dtype=float), HEDGE, window=5)
    assert figures.condor_loss == 0.0
    assert figures.offset_ratio is None
    assert figures.hedge_gain == 0.0


def test_separate_spikes_stay_separate_and_the_25_floor_holds() -> None:
    vix = np.array([12.0] * 30)
    vix[3] = 19.0  # 1.58x of 12 but below 25: no spike
    vix[10:13] = [20.0, 26.0, 30.0]  # spike from day 7 (12 -> 26 >= 25 and >= 18)
    vix[25:27] = [25.0, 27.0]  # a second one, far enough to stay apart
    dates = np.arange(np.datetime64("2018-01-01"), np.datetime64("2018-01-31"))
    episodes = detect_episodes(dates, vix)
    assert [(e.start_index, e.peak_index) for e in episodes] == [(1, 12), (15, 26)]
    assert all(e.vix_start == 12.0 for e in episodes)


def test_summary_metrics_by_hand() -> None:
    equity = np.array([100.0, 50.0, 120.0, 60.0, 80.0, 150.0, 140.0, 90.0, 100.0, 130.0, 125.0, 135.0])
    # Peaks 100, 100, 120, 120, 120, 150, ... lowest after 150 is 90: drawdown 60.
    assert max_drawdown(equity) == 60.0
    assert max_drawdown(np.array([-10.0, -30.0, -5.0])) == 30.0  # from the starting 0
    # Week closes: 80 (day 4), 130 (day 9), 135 (day 11): changes +80, +50, +5.
    assert worst_week(DATES, equity) == 5.0
    assert worst_week(DATES, -equity) == -80.0
    daily = np.diff(np.concatenate([[0.0], equity]))
    assert sharpe(equity) == pytest.approx(daily.mean() / daily.std(ddof=1) * np.sqrt(252))
    assert sharpe(np.zeros(5)) is None


def test_rebalances_are_counted_per_iso_week_in_new_york() -> None:
    utc = dt.UTC
    moments = [
        dt.datetime(2018, 1, 8, 20, 30, tzinfo=utc),
        dt.datetime(2018, 1, 12, 20, 30, tzinfo=utc),
        dt.datetime(2018, 1, 15, 3, 0, tzinfo=utc),  # Sunday 22:00 in New York: still the first week
        dt.datetime(2018, 1, 16, 20, 30, tzinfo=utc),
    ]
    assert rebalances_per_week_max(moments) == 3
    assert rebalances_per_week_max([]) == 0
