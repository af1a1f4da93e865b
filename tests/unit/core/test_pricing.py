"""Black-76 and Black-Scholes: known values, put-call parity, greeks vs finite differences, IV round trip."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.pricing import (
    black76,
    black_scholes,
    implied_vol_black76,
    implied_vol_black_scholes,
)


def test_black_scholes_known_values() -> None:
    # Hull, Options Futures and Other Derivatives, example 15.6: S=42, K=40, r=10 %, sigma=20 %, T=0.5.
    call = black_scholes("C", 42.0, 40.0, 0.5, 0.2, rate=0.1)
    put = black_scholes("P", 42.0, 40.0, 0.5, 0.2, rate=0.1)
    assert float(call.price) == pytest.approx(4.76, abs=0.005)
    assert float(put.price) == pytest.approx(0.81, abs=0.005)
    assert float(call.delta) == pytest.approx(0.7791, abs=1e-4)


def test_black76_known_value() -> None:
    # Hull example 18.6 (Black's model): F=20, K=20, r=9 %, sigma=25 %, T=4/12: put = 1.12.
    put = black76("P", 20.0, 20.0, 4.0 / 12.0, 0.25, rate=0.09)
    assert float(put.price) == pytest.approx(1.12, abs=0.005)


def test_black76_at_the_money_closed_form() -> None:
    forward, years, vol = 18.0, 30 / 365, 0.9
    expected = forward * (2 * _normal_cdf(0.5 * vol * math.sqrt(years)) - 1)
    assert float(black76("C", forward, forward, years, vol).price) == pytest.approx(expected, rel=1e-12)


def _normal_cdf(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


positive = st.floats(0.5, 200.0)
vols = st.floats(0.05, 3.0)
years = st.floats(1 / 365, 2.0)
rates = st.floats(-0.01, 0.08)


@settings(max_examples=200, deadline=None)
@given(forward=positive, strike=positive, t=years, vol=vols, r=rates)
def test_black76_put_call_parity(forward: float, strike: float, t: float, vol: float, r: float) -> None:
    call = float(black76("C", forward, strike, t, vol, r).price)
    put = float(black76("P", forward, strike, t, vol, r).price)
    assert call - put == pytest.approx(math.exp(-r * t) * (forward - strike), abs=1e-9 * max(forward, strike))


@settings(max_examples=200, deadline=None)
@given(spot=positive, strike=positive, t=years, vol=vols, r=rates, q=st.floats(0.0, 0.04))
def test_black_scholes_put_call_parity(spot: float, strike: float, t: float, vol: float, r: float, q: float) -> None:
    call = float(black_scholes("C", spot, strike, t, vol, r, q).price)
    put = float(black_scholes("P", spot, strike, t, vol, r, q).price)
    parity = spot * math.exp(-q * t) - strike * math.exp(-r * t)
    assert call - put == pytest.approx(parity, abs=1e-9 * max(spot, strike))


@pytest.mark.parametrize("model", ["black76", "black_scholes"])
@pytest.mark.parametrize("right", ["C", "P"])
@pytest.mark.parametrize("moneyness", [0.8, 1.0, 1.25])
def test_greeks_match_finite_differences(model: str, right: str, moneyness: float) -> None:
    underlying, strike, t, vol, r = 20.0, 20.0 * moneyness, 45 / 365, 0.8, 0.03

    def price(u: float = underlying, s: float = vol, tt: float = t) -> float:
        if model == "black76":
            return float(black76(right, u, strike, tt, s, r).price)
        return float(black_scholes(right, u, strike, tt, s, r, 0.01).price)

    values = (
        black76(right, underlying, strike, t, vol, r)
        if model == "black76"
        else black_scholes(right, underlying, strike, t, vol, r, 0.01)
    )
    h = 1e-3
    delta = (price(underlying + h) - price(underlying - h)) / (2 * h)
    gamma = (price(underlying + h) - 2 * price() + price(underlying - h)) / h**2
    vega_per_point = (price(s=vol + 1e-4) - price(s=vol - 1e-4)) / (2e-4) * 0.01
    theta_per_day = (price(tt=t - 1 / 365) - price(tt=t + 1 / 365)) / 2
    assert float(values.delta) == pytest.approx(delta, abs=1e-6)
    assert float(values.gamma) == pytest.approx(gamma, rel=1e-4, abs=1e-6)
    assert float(values.vega) == pytest.approx(vega_per_point, rel=1e-6)
    assert float(values.theta) == pytest.approx(theta_per_day, rel=1e-3, abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(forward=st.floats(8.0, 80.0), moneyness=st.floats(0.6, 2.5), t=years, vol=st.floats(0.1, 2.5))
def test_black76_implied_vol_round_trip(forward: float, moneyness: float, t: float, vol: float) -> None:
    strike = forward * moneyness
    for right in ("C", "P"):
        price = float(black76(right, forward, strike, t, vol).price)
        intrinsic = max(forward - strike, 0) if right == "C" else max(strike - forward, 0)
        if price - intrinsic < 1e-6:  # no time value left to invert
            continue
        solved = float(implied_vol_black76(right, price, forward, strike, t))
        assert solved == pytest.approx(vol, rel=1e-5, abs=1e-5)


@settings(max_examples=100, deadline=None)
@given(spot=st.floats(1000.0, 8000.0), moneyness=st.floats(0.7, 1.3), t=years, vol=st.floats(0.05, 1.0))
def test_black_scholes_implied_vol_round_trip(spot: float, moneyness: float, t: float, vol: float) -> None:
    strike = spot * moneyness
    price = float(black_scholes("P", spot, strike, t, vol, 0.03, 0.01).price)
    if price - max(strike * math.exp(-0.03 * t) - spot * math.exp(-0.01 * t), 0) < 1e-6:
        return
    solved = float(implied_vol_black_scholes("P", price, spot, strike, t, 0.03, 0.01))
    assert solved == pytest.approx(vol, rel=1e-5, abs=1e-5)


def test_implied_vol_has_no_solution_outside_bounds() -> None:
    forward, strike, t = 20.0, 22.0, 30 / 365
    prices = np.array([0.0, -1.0, 20.5, float("nan")])
    solved = implied_vol_black76("C", prices, forward, strike, t)
    assert np.isnan(solved).all()  # below intrinsic-ish, negative, above the forward, NaN: no solution
    in_the_money_below_intrinsic = implied_vol_black76("C", 1.5, 22.0, 20.0, t)
    assert math.isnan(float(in_the_money_below_intrinsic))
    assert math.isnan(float(implied_vol_black76("C", 1.0, forward, strike, 0.0)))  # expired


def test_vectorised_and_degenerate_inputs() -> None:
    strikes = np.array([15.0, 20.0, 25.0])
    values = black76(np.array(["C", "P", "C"]), 20.0, strikes, np.array([0.1, 0.0, 0.1]), 0.9)
    assert values.price.shape == (3,)
    assert float(values.price[1]) == 0.0 and float(values.delta[1]) == 0.0  # expired at the money
    expired_call = black_scholes("C", 105.0, 100.0, 0.0, 0.2)
    assert float(expired_call.price) == 5.0 and float(expired_call.delta) == 1.0
    with pytest.raises(ValueError):
        black76("X", 20.0, 20.0, 0.1, 0.5)
