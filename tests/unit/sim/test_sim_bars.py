"""Historical bars: the keep-up-to-date bar in progress is the last bar of a one-session request."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest

from bot.sim.bars import BarBuilder, Duration, HistoricalDataError
from bot.sim.listings import Listings
from bot.sim.market import MarketModel, MarketParameters
from bot.sim.records import Instrument

NY = ZoneInfo("America/New_York")
START = dt.datetime(2025, 11, 24, 10, 30, tzinfo=NY)
FIVE_SECONDS = dt.timedelta(seconds=5)
SIZES = [
    FIVE_SECONDS,
    dt.timedelta(minutes=1),
    dt.timedelta(minutes=7),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=1),
    None,
]
MOMENTS = [
    dt.datetime(2025, 11, 24, 9, 30, tzinfo=NY),  # at the open: no bar yet
    dt.datetime(2025, 11, 24, 9, 30, 0, 1, tzinfo=NY),
    dt.datetime(2025, 11, 24, 10, 30, tzinfo=NY),  # on a bar boundary
    dt.datetime(2025, 11, 24, 10, 31, 2, 500_000, tzinfo=NY),  # mid-bar
    dt.datetime(2025, 11, 24, 15, 59, 59, tzinfo=NY),
    dt.datetime(2025, 11, 24, 16, 0, tzinfo=NY),  # at the close
    dt.datetime(2025, 11, 24, 20, 15, tzinfo=NY),  # after the close
    dt.datetime(2025, 11, 25, 8, 0, tzinfo=NY),  # before the next open
    dt.datetime(2025, 11, 29, 12, 0, tzinfo=NY),  # a weekend
    dt.datetime(2025, 12, 2, 11, 17, 41, tzinfo=NY),
]


@pytest.fixture(scope="module")
def builder() -> BarBuilder:
    return BarBuilder(MarketModel(MarketParameters(), seed=1, start=START), Listings(spx_reference=5800.0))


def _instruments(listings: Listings) -> list[tuple[Instrument, bool]]:
    today = START.date()
    front = listings.front_vx_future(today)
    monthly = listings.vix_monthly_expiries(today)
    spx_expiry = listings.spx_option_expiries(today)["SPX"][1]
    return [
        (listings.vix_index, False),
        (listings.spx_index, False),
        (front, False),
        (replace(front, sec_type="CONTFUT"), True),
        (listings.vix_option(monthly[1], 20.0, "C"), False),
        (listings.spx_option(spx_expiry, 5800.0, "P", "SPX"), False),
        (listings.vix_option(dt.date(2025, 10, 22), 20.0, "C"), False),  # expired: not listed
    ]


def test_last_bar_is_the_last_of_a_one_session_request(builder: BarBuilder) -> None:
    checked = empty = 0
    for instrument, continuous in _instruments(builder.listings):
        for size in SIZES:
            # A whole session of 5-second bars takes a while to build: compare those early in the session.
            for now in MOMENTS[:4] if size == FIVE_SECONDS else MOMENTS:
                bars = builder.bars(instrument, now, Duration(sessions=1), size, continuous)
                expected = bars[-1] if bars else None
                assert builder.last_bar(instrument, now, size, continuous) == expected, (
                    instrument.describe(),
                    continuous,
                    size,
                    now,
                )
                checked += 1
                empty += expected is None
    assert empty and checked - empty > empty  # both cases (no bar yet, not listed) and real bars were compared


def test_last_bar_refuses_what_a_one_session_request_refuses(builder: BarBuilder) -> None:
    instrument = builder.listings.vix_index
    now = dt.datetime(2025, 11, 24, 15, 30, tzinfo=NY)
    size = dt.timedelta(seconds=1)
    with pytest.raises(HistoricalDataError):
        builder.bars(instrument, now, Duration(sessions=1), size, False)
    with pytest.raises(HistoricalDataError):
        builder.last_bar(instrument, now, size, False)
