"""The pricing models: calibration error against the real chain, quotes, the SPX vol and the condor book."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from bot.backtest.calibration import calibrate
from bot.backtest.condor_book import SIGNS, simulate_condors
from bot.backtest.loaders import MarketHistory, load_history
from bot.backtest.settings import BacktestSettings
from bot.backtest.spx_model import atm_vol, price_options
from bot.backtest.vix_model import BUILTIN_PARAMS, build_curve, fill_vvix, quote_calls
from bot.backtest.vix_model import atm_vol as vix_atm_vol
from bot.backtest.vxth import vxth_weight

# The error the report states for the VIX option model on the 2016-06-01 chain must stay within these.
MAX_IV_RMSE_POINTS = 4.0
MAX_PRICE_RMSE = 0.08
MAX_TENOR_IV_RMSE_POINTS = 10.0


@pytest.fixture(scope="module")
def full_history(data_dir: Path) -> tuple[MarketHistory, int]:
    return load_history(data_dir)


def test_calibration_error_is_within_the_stated_bounds(full_history: tuple[MarketHistory, int]) -> None:
    history, _ = full_history
    params = calibrate(history, [])
    report = params.fit_report
    assert params.source == "calibrated to VIX_EOD_2016-06-01.csv"
    assert report["options"] >= 150
    assert report["iv_rmse_points"] <= MAX_IV_RMSE_POINTS
    assert report["price_rmse"] <= MAX_PRICE_RMSE
    for tenor in report["by_tenor"]:  # type: ignore[attr-defined]
        assert tenor["iv_rmse_points"] <= MAX_TENOR_IV_RMSE_POINTS, tenor
    # The built-in fallback is this very fit.
    assert params.atm_ratio == pytest.approx(BUILTIN_PARAMS.atm_ratio, abs=2e-3)
    assert params.skew_slope == pytest.approx(BUILTIN_PARAMS.skew_slope, abs=2e-3)
    assert params.skew_tenor_power == pytest.approx(BUILTIN_PARAMS.skew_tenor_power, abs=2e-3)
    assert params.spread_base_monthly == pytest.approx(BUILTIN_PARAMS.spread_base_monthly, abs=1e-3)


def test_without_a_chain_the_builtin_parameters_are_used(full_history: tuple[MarketHistory, int]) -> None:
    history, _ = full_history
    notes: list = []  # type: ignore[type-arg]
    params = calibrate(dataclasses.replace(history, chain_files=[]), notes)
    assert params is BUILTIN_PARAMS
    assert any("no chain to calibrate on" in note.message for note in notes)


def test_quotes_are_on_tick_and_ordered() -> None:
    strikes = np.arange(10.0, 60.0, 1.0)
    quotes = quote_calls(BUILTIN_PARAMS, 90.0, np.full(len(strikes), 30.0), np.full(len(strikes), 17.0), strikes, False)
    assert np.all(quotes.bid <= quotes.mid + 1e-9) and np.all(quotes.mid <= quotes.ask + 1e-9)
    assert np.all(np.diff(quotes.mid) < 0) and np.all(np.diff(quotes.delta) < 0)
    for bid, ask in zip(quotes.bid, quotes.ask, strict=True):
        tick = 0.10 if bid >= 3.0 else 0.05
        assert round(bid / tick, 6) == pytest.approx(round(bid / tick)), bid
        tick = 0.10 if ask >= 3.0 else 0.05
        assert round(ask / tick, 6) == pytest.approx(round(ask / tick)), ask
    assert quotes.ask.min() >= 0.05
    assert (quotes.bid == 0.0).any()  # far strikes have no bid


def test_the_smile_flattens_in_a_spike() -> None:
    """With VVIX at 180 (5 Feb 2018) a 15-delta 9-day call is a plausible strike, not a 200 strike."""
    strikes = np.arange(20.0, 200.0, 2.5)
    quotes = quote_calls(BUILTIN_PARAMS, 180.0, np.full(len(strikes), 9.0), np.full(len(strikes), 33.2), strikes, False)
    strike = strikes[int(np.argmin(np.abs(quotes.delta - 0.15)))]
    assert 40.0 <= strike <= 70.0
    atm = vix_atm_vol(BUILTIN_PARAMS, 180.0, 9.0)
    assert quotes.iv.max() <= 2.0 * float(atm) + 1e-9  # bounded: at most twice the ATM vol


def test_curve_and_vvix_fallback() -> None:
    curve = build_curve(
        dt.date(2016, 6, 1),
        14.2,
        np.array([15.275, 17.525, np.nan]),
        np.array(["2016-06-15", "2016-07-20", "NaT"], dtype="datetime64[D]"),
    )
    assert curve.for_expiry(dt.date(2016, 6, 15)) == 15.275
    assert curve.for_expiry(dt.date(2016, 6, 8)) == pytest.approx(14.2 + 7 / 14 * 1.075)
    assert curve.for_expiry(dt.date(2016, 9, 21)) == pytest.approx(17.525)  # flat beyond the last
    filled, source = fill_vvix(np.array([80.0, np.nan, np.nan, np.nan]), np.array([15.0, 16.0, 17.0, 20.0]), 2)
    assert list(source) == [0, 1, 1, 2]
    assert filled[:3].tolist() == [80.0, 80.0, 80.0]
    assert filled[3] == pytest.approx(81.8 + 0.385 * 20.0)


def test_spx_vol_from_the_index_term_structure() -> None:
    values = (12.0, 15.0, 17.0, 18.0)
    assert atm_vol(30.0, values, 1.0) == pytest.approx(0.15)
    between = atm_vol(60.0, values, 1.0) ** 2 * 60.0
    assert between == pytest.approx(np.interp(60.0, [30.0, 93.0], [0.15**2 * 30, 0.17**2 * 93]))
    assert atm_vol(45.0, (np.nan, 20.0, np.nan, np.nan), 0.9) == pytest.approx(0.18)  # VIX alone
    settings = BacktestSettings().spx_vol
    _values_put, vol_put = price_options(settings, np.array(["P"]), np.array([2500.0]), 2700.0, 45.0, 0.15, 0.18)
    _values_call, vol_call = price_options(settings, np.array(["C"]), np.array([2900.0]), 2700.0, 45.0, 0.15, 0.18)
    assert vol_put[0] > 0.15 > vol_call[0]  # put skew


def test_condor_book_is_never_empty_and_shorts_sit_near_16_delta(full_history: tuple[MarketHistory, int]) -> None:
    history, warmup = full_history
    start = history.index_of(dt.date(2018, 1, 2))
    window = history.window(start - warmup, history.index_of(dt.date(2018, 12, 31)) + 1)
    settings = BacktestSettings()
    book = simulate_condors(window, warmup, settings.condors, settings.spx_vol)
    assert (book.position_index >= 0).all()
    for position in book.positions:
        assert position.credit > 0
        long_put, short_put, short_call, long_call = position.strikes
        assert short_put - long_put == long_call - short_call == settings.condors.wing_width
        held = (position.closed or dt.date(2019, 1, 31)) - position.opened
        assert 20 <= held.days <= 40
        assert 45 <= (position.expiry - position.opened).days <= 60
    first_day_deltas = book.leg_delta[0]
    assert first_day_deltas[1] == pytest.approx(-0.16, abs=0.03)
    assert first_day_deltas[2] == pytest.approx(0.16, abs=0.03)
    # Short vega: the condor loses when implied vol rises.
    assert float(np.dot(SIGNS, book.leg_vega[0])) < 0
    assert book.vega_dollars[0] > 0


@pytest.mark.parametrize(
    ("forward", "weight"),
    [(12.0, 0.0), (15.0, 0.0), (15.01, 0.01), (30.0, 0.01), (30.5, 0.005), (50.0, 0.005), (51, 0.0)],
)
def test_vxth_weights(forward: float, weight: float) -> None:
    assert vxth_weight(forward) == weight
