"""The market model: deterministic per seed, pinned at the start, believable past, spikes, curve, quotes."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from bot.sim.history import HistoryError, load_replay_data
from bot.sim.listings import Listings, is_on_tick
from bot.sim.market import MarketModel, MarketParameters, Shock, SpikeSpec
from strategies.pricing import black76

NY = ZoneInfo("America/New_York")
START = dt.datetime(2025, 11, 24, 10, 30, tzinfo=NY)
DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"


@pytest.fixture(scope="module")
def listings() -> Listings:
    return Listings(spx_reference=5800.0)


@pytest.fixture(scope="module")
def calm() -> MarketModel:
    return MarketModel(MarketParameters(), seed=1, start=START)


def test_start_levels_are_pinned(calm: MarketModel) -> None:
    state = calm.state(START)
    assert state.vix == pytest.approx(15.0)
    assert state.spx == pytest.approx(5800.0)
    assert state.in_session


def test_same_seed_same_market_whatever_the_order_of_questions() -> None:
    later = START + dt.timedelta(days=9, hours=2)
    first = MarketModel(MarketParameters(), seed=7, start=START)
    second = MarketModel(MarketParameters(), seed=7, start=START)
    a = first.state(later).vix
    second.state(START + dt.timedelta(days=3))
    second.daily_bars("SPX", dt.date(2025, 1, 1), dt.date(2025, 12, 31), later)
    assert second.state(later).vix == a
    assert MarketModel(MarketParameters(), seed=8, start=START).state(later).vix != a


def test_market_is_frozen_outside_sessions(calm: MarketModel) -> None:
    close = dt.datetime(2025, 11, 24, 16, 15, tzinfo=NY)
    evening = dt.datetime(2025, 11, 24, 20, 0, tzinfo=NY)
    next_morning = dt.datetime(2025, 11, 25, 9, 0, tzinfo=NY)
    assert calm.state(evening).vix == calm.state(close).vix == calm.state(next_morning).vix
    assert not calm.state(evening).in_session
    opened = dt.datetime(2025, 11, 25, 9, 30, 1, tzinfo=NY)
    assert calm.state(opened).vix != calm.state(close).vix  # the overnight gap


def test_history_is_believable(calm: MarketModel) -> None:
    bars = calm.daily_bars("VIX", dt.date(2024, 11, 1), dt.date(2025, 11, 21), START)
    closes = np.array([bar.close for _, bar in bars])
    assert len(bars) > 240
    assert closes.min() > 9 and closes.max() < 60 and 12 < closes.mean() < 22
    assert all(bar.low <= min(bar.open, bar.close) and bar.high >= max(bar.open, bar.close) for _, bar in bars)
    spx = np.array([bar.close for _, bar in calm.daily_bars("SPX", dt.date(2025, 6, 1), dt.date(2025, 11, 21), START)])
    returns = np.diff(np.log(spx))
    assert 0.003 < returns.std() < 0.025
    vix_changes = np.diff(np.log(closes[-len(spx) :]))
    assert np.corrcoef(returns, vix_changes[-len(returns) :])[0, 1] < -0.3


def test_spike_scenario_reaches_forty(listings: Listings) -> None:
    model = MarketModel(MarketParameters(spikes=(SpikeSpec(after_sessions=5, peak=42.0),)), seed=1, start=START)
    bars = model.daily_bars("VIX", START.date(), dt.date(2025, 12, 31), dt.datetime(2026, 1, 2, tzinfo=NY))
    peak_day, peak = max(bars, key=lambda item: item[1].high)
    assert peak.high >= 40
    assert (peak_day - START.date()).days < 20
    # Backwardation in the spike, contango before it.
    calm_front = listings.vix_monthly_expiries(START.date())[:2]
    assert model.futures_price(calm_front[1], START) > model.futures_price(calm_front[0], START) > 15.0
    top = dt.datetime.combine(peak_day, dt.time(15, 0), NY)
    front = listings.vix_monthly_expiries(peak_day)[:2]
    assert model.futures_price(front[0], top) > model.futures_price(front[1], top)
    spx = model.daily_bars("SPX", START.date(), peak_day, top)
    assert spx[-1][1].close < 0.95 * 5800


def test_option_quotes_are_consistent_with_black76(calm: MarketModel, listings: Listings) -> None:
    expiry = listings.vix_monthly_expiries(START.date())[1]
    strikes = listings.vix_strikes("VIX", expiry, START.date())
    options = [listings.vix_option(expiry, strike, "C") for strike in strikes if 12 <= strike <= 40]
    quotes = calm.quotes(options, START)
    forward = calm.futures_price(expiry, START)
    previous_delta = 1.0
    for option, quote in zip(options, quotes, strict=True):
        greeks = quote.greeks
        assert greeks is not None
        assert greeks.underlying == pytest.approx(forward)
        years = (calm.settlement_moment(option) - START).total_seconds() / (365 * 86400)
        model = black76("C", forward, option.strike, years, greeks.implied_vol, 0.04)
        assert greeks.price == pytest.approx(float(model.price))
        assert greeks.delta == pytest.approx(float(model.delta))
        assert 0 <= quote.bid < quote.ask
        assert quote.bid <= greeks.price <= quote.ask
        assert is_on_tick(110, quote.ask) and is_on_tick(110, quote.bid)
        assert greeks.delta < previous_delta
        previous_delta = greeks.delta
    # The smile rises on the call side.
    vols = [q.greeks.implied_vol for q in quotes if q.greeks]
    assert vols[-1] > vols[len(vols) // 2]


def test_spx_put_skew(calm: MarketModel, listings: Listings) -> None:
    expiry = next(e for e in listings.spx_option_expiries(START.date())["SPXW"] if (e - START.date()).days >= 40)
    low_put = calm.quote(listings.spx_option(expiry, 5300, "P", "SPXW"), START)
    atm_put = calm.quote(listings.spx_option(expiry, 5800, "P", "SPXW"), START)
    assert low_put.greeks and atm_put.greeks
    assert low_put.greeks.implied_vol > atm_put.greeks.implied_vol
    assert atm_put.greeks.underlying == pytest.approx(5800.0)
    assert is_on_tick(111, low_put.bid) and is_on_tick(111, atm_put.ask)


def test_shock_moves_vix_and_decays(listings: Listings) -> None:
    model = MarketModel(MarketParameters(), seed=3, start=START)
    at = START + dt.timedelta(minutes=5)
    before = model.state(at).vix
    model.add_shock(Shock(at=at, log_shift=math.log(40 / before), half_life_days=2))
    assert model.state(at + dt.timedelta(seconds=1)).vix == pytest.approx(40.0, rel=0.02)
    later = at + dt.timedelta(days=4)
    assert model.state(later).vix < 25


def test_settlement_values(calm: MarketModel, listings: Listings) -> None:
    expiry = listings.vix_monthly_expiries(START.date())[0]
    call = listings.vix_option(expiry, 10.0, "C")
    value = calm.settlement_value(call)
    spot = calm.state(calm.settlement_moment(call)).vix
    assert value == pytest.approx(max(0.0, spot - 10.0), abs=0.01)
    assert calm.settlement_moment(call).astimezone(NY).time() == dt.time(9, 30)


def test_replay_follows_the_history_files(listings: Listings) -> None:
    if not DATA.is_dir():
        pytest.skip(f"shared history data not found at {DATA}")
    data = load_replay_data(DATA)
    model = MarketModel(MarketParameters(), seed=1, start=dt.datetime(2018, 1, 22, 10, 30, tzinfo=NY), replay=data)
    [(day, bar)] = model.daily_bars("VIX", dt.date(2018, 2, 5), dt.date(2018, 2, 5), dt.datetime(2018, 2, 6, tzinfo=NY))
    assert (day, round(bar.close, 2), round(bar.high, 2)) == (dt.date(2018, 2, 5), 37.32, 38.8)
    [(_, spx)] = model.daily_bars("SPX", dt.date(2018, 2, 5), dt.date(2018, 2, 5), dt.datetime(2018, 2, 6, tzinfo=NY))
    assert round(spx.close, 2) == 2648.94
    close = dt.datetime(2018, 2, 5, 16, 15, tzinfo=NY)
    front, second = listings.vix_monthly_expiries(close.date())[:2]
    assert model.futures_price(front, close) == pytest.approx(33.225)
    assert model.futures_price(second, close) == pytest.approx(27.975)


def test_bad_history_directory_is_reported(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match=r"VIX_History\.csv: file not found"):
        load_replay_data(tmp_path)
    (tmp_path / "VIX_History.csv").write_text("DATE,OPEN\n01/02/2018,1\n")
    with pytest.raises(HistoryError, match="missing columns"):
        load_replay_data(tmp_path)
