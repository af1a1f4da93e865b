"""Option pricing: Black-76 for VIX options, Black-Scholes for SPX options.

VIX options are priced on the VIX future of the same expiry (Black-76), never on spot VIX: spot VIX
is not tradable and the option settles to the same number the future does.

Conventions (chosen to match IB's model greeks, so our numbers and IB's are interchangeable):
- ``years`` is calendar time to expiry in years (calendar days / 365).
- ``vega`` is the price change for +1 vol point (0.01 of volatility).
- ``theta`` is the price change for one calendar day passing (negative for a long option).
- ``delta`` is with respect to the forward (Black-76) or the spot (Black-Scholes).

Every function is vectorised: scalars and numpy arrays broadcast together. Degenerate inputs (expiry
reached, zero volatility) give the intrinsic value and zero time-value greeks instead of NaN noise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr

FloatArray = NDArray[np.float64]
Right = Literal["C", "P"]

DAYS_PER_YEAR = 365.0
VOL_POINT = 0.01
MIN_IMPLIED_VOL = 1e-4
MAX_IMPLIED_VOL = 10.0
_IV_PRICE_TOLERANCE = 1e-10
_IV_MAX_ITERATIONS = 100


@dataclass(frozen=True)
class OptionValues:
    """Price and greeks of options, one array element per option."""

    price: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray


def _as_float(values: ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


def _is_call(right: Right | ArrayLike) -> NDArray[np.bool_]:
    """Accepts "C"/"P", an array of those letters, or booleans (True = call)."""
    rights = np.asarray(right)
    if rights.dtype.kind in ("U", "S", "O"):
        upper = np.char.upper(rights.astype(str))
        if not np.all(np.isin(upper, ["C", "P"])):
            raise ValueError("option right must be 'C' or 'P'")
        return np.asarray(upper == "C")
    return rights.astype(bool)


def _normal_pdf(x: FloatArray) -> FloatArray:
    return np.asarray(np.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi), dtype=np.float64)


def _normal_cdf(x: FloatArray) -> FloatArray:
    return np.asarray(ndtr(x), dtype=np.float64)


def black76(
    right: Right | ArrayLike,
    forward: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    vol: ArrayLike,
    rate: ArrayLike = 0.0,
) -> OptionValues:
    """Black-76 price and greeks of European options on a future (VIX options on the VIX future)."""
    is_call, fwd, k, t, sigma, r = np.broadcast_arrays(
        _is_call(right),
        _as_float(forward),
        _as_float(strike),
        _as_float(years),
        _as_float(vol),
        _as_float(rate),
    )
    discount = np.exp(-r * np.maximum(t, 0.0))
    intrinsic = np.where(is_call, np.maximum(fwd - k, 0.0), np.maximum(k - fwd, 0.0))
    live = (t > 0.0) & (sigma > 0.0) & (fwd > 0.0) & (k > 0.0)

    with np.errstate(divide="ignore", invalid="ignore"):
        safe_t = np.where(live, t, 1.0)
        safe_sigma = np.where(live, sigma, 1.0)
        safe_fwd = np.where(live, fwd, 1.0)
        safe_k = np.where(live, k, 1.0)
        sqrt_t = np.sqrt(safe_t)
        d1 = (np.log(safe_fwd / safe_k) + 0.5 * safe_sigma**2 * safe_t) / (safe_sigma * sqrt_t)
        d2 = d1 - safe_sigma * sqrt_t
        sign = np.where(is_call, 1.0, -1.0)
        price_live = discount * sign * (safe_fwd * _normal_cdf(sign * d1) - safe_k * _normal_cdf(sign * d2))
        delta_live = discount * sign * _normal_cdf(sign * d1)
        pdf = _normal_pdf(d1)
        gamma_live = discount * pdf / (safe_fwd * safe_sigma * sqrt_t)
        vega_live = discount * safe_fwd * pdf * sqrt_t * VOL_POINT
        decay = -discount * safe_fwd * pdf * safe_sigma / (2.0 * sqrt_t)
        theta_live = (r * price_live + decay) / DAYS_PER_YEAR

    expired_delta = discount * np.where(is_call, (fwd > k).astype(float), -(fwd < k).astype(float))
    return OptionValues(
        price=np.where(live, price_live, discount * intrinsic),
        delta=np.where(live, delta_live, expired_delta),
        gamma=np.where(live, gamma_live, 0.0),
        vega=np.where(live, vega_live, 0.0),
        theta=np.where(live, theta_live, 0.0),
    )


def black_scholes(
    right: Right | ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    vol: ArrayLike,
    rate: ArrayLike = 0.0,
    dividend_yield: ArrayLike = 0.0,
) -> OptionValues:
    """Black-Scholes price and greeks of European options on an index paying a continuous yield."""
    is_call, s, k, t, sigma, r, q = np.broadcast_arrays(
        _is_call(right),
        _as_float(spot),
        _as_float(strike),
        _as_float(years),
        _as_float(vol),
        _as_float(rate),
        _as_float(dividend_yield),
    )
    t_pos = np.maximum(t, 0.0)
    rate_discount = np.exp(-r * t_pos)
    yield_discount = np.exp(-q * t_pos)
    intrinsic = np.where(is_call, np.maximum(s - k, 0.0), np.maximum(k - s, 0.0))
    live = (t > 0.0) & (sigma > 0.0) & (s > 0.0) & (k > 0.0)

    with np.errstate(divide="ignore", invalid="ignore"):
        safe_t = np.where(live, t, 1.0)
        safe_sigma = np.where(live, sigma, 1.0)
        safe_s = np.where(live, s, 1.0)
        safe_k = np.where(live, k, 1.0)
        sqrt_t = np.sqrt(safe_t)
        d1 = (np.log(safe_s / safe_k) + (r - q + 0.5 * safe_sigma**2) * safe_t) / (safe_sigma * sqrt_t)
        d2 = d1 - safe_sigma * sqrt_t
        sign = np.where(is_call, 1.0, -1.0)
        spot_leg = safe_s * yield_discount * _normal_cdf(sign * d1)
        strike_leg = safe_k * rate_discount * _normal_cdf(sign * d2)
        price_live = sign * (spot_leg - strike_leg)
        delta_live = sign * yield_discount * _normal_cdf(sign * d1)
        pdf = _normal_pdf(d1)
        gamma_live = yield_discount * pdf / (safe_s * safe_sigma * sqrt_t)
        vega_live = safe_s * yield_discount * pdf * sqrt_t * VOL_POINT
        decay = -safe_s * yield_discount * pdf * safe_sigma / (2.0 * sqrt_t)
        theta_annual = decay - sign * r * strike_leg + sign * q * spot_leg
        theta_live = theta_annual / DAYS_PER_YEAR

    expired_delta = np.where(is_call, (s > k).astype(float), -(s < k).astype(float))
    return OptionValues(
        price=np.where(live, price_live, intrinsic),
        delta=np.where(live, delta_live, expired_delta),
        gamma=np.where(live, gamma_live, 0.0),
        vega=np.where(live, vega_live, 0.0),
        theta=np.where(live, theta_live, 0.0),
    )


def _solve_implied_vol(
    price: FloatArray,
    lower_bound: FloatArray,
    upper_bound: FloatArray,
    price_at: Callable[[FloatArray], OptionValues],
) -> FloatArray:
    """Bracketed Newton: each step is Newton's when it stays inside the bracket, else bisection.

    Returns NaN where the price is not strictly inside the no-arbitrage bounds or no volatility in
    [MIN_IMPLIED_VOL, MAX_IMPLIED_VOL] reproduces it: "no solution", never a made-up number.
    """
    target = price
    solvable = np.isfinite(target) & (target > lower_bound) & (target < upper_bound)
    low = np.full(target.shape, MIN_IMPLIED_VOL)
    high = np.full(target.shape, MAX_IMPLIED_VOL)
    price_low = price_at(low).price
    price_high = price_at(high).price
    solvable &= (target >= price_low) & (target <= price_high)

    vol = np.full(target.shape, 0.5)
    for _ in range(_IV_MAX_ITERATIONS):
        values = price_at(vol)
        error = values.price - target
        converged = np.abs(error) <= _IV_PRICE_TOLERANCE
        if np.all(converged | ~solvable):
            break
        low = np.where(error < 0.0, vol, low)
        high = np.where(error > 0.0, vol, high)
        vega_per_unit = values.vega / VOL_POINT
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = vol - error / vega_per_unit
        inside = np.isfinite(newton) & (newton > low) & (newton < high)
        vol = np.where(converged, vol, np.where(inside, newton, 0.5 * (low + high)))
    final_error = np.abs(price_at(vol).price - target)
    ok = solvable & (final_error <= max(_IV_PRICE_TOLERANCE * 1e3, 1e-8))
    return np.where(ok, vol, np.nan)


def implied_vol_black76(
    right: Right | ArrayLike,
    price: ArrayLike,
    forward: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    rate: ArrayLike = 0.0,
) -> FloatArray:
    """Black-76 implied volatility; NaN where the price is outside the no-arbitrage bounds."""
    is_call, target, fwd, k, t, r = np.broadcast_arrays(
        _is_call(right),
        _as_float(price),
        _as_float(forward),
        _as_float(strike),
        _as_float(years),
        _as_float(rate),
    )
    discount = np.exp(-r * np.maximum(t, 0.0))
    lower = discount * np.where(is_call, np.maximum(fwd - k, 0.0), np.maximum(k - fwd, 0.0))
    upper = discount * np.where(is_call, fwd, k)
    result = _solve_implied_vol(target, lower, upper, lambda vol: black76(is_call, fwd, k, t, vol, r))
    return np.where(t > 0.0, result, np.nan)


def implied_vol_black_scholes(
    right: Right | ArrayLike,
    price: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    rate: ArrayLike = 0.0,
    dividend_yield: ArrayLike = 0.0,
) -> FloatArray:
    """Black-Scholes implied volatility; NaN where the price is outside the no-arbitrage bounds."""
    is_call, target, s, k, t, r, q = np.broadcast_arrays(
        _is_call(right),
        _as_float(price),
        _as_float(spot),
        _as_float(strike),
        _as_float(years),
        _as_float(rate),
        _as_float(dividend_yield),
    )
    t_pos = np.maximum(t, 0.0)
    spot_pv = s * np.exp(-q * t_pos)
    strike_pv = k * np.exp(-r * t_pos)
    lower = np.where(is_call, np.maximum(spot_pv - strike_pv, 0.0), np.maximum(strike_pv - spot_pv, 0.0))
    upper = np.where(is_call, spot_pv, strike_pv)
    result = _solve_implied_vol(target, lower, upper, lambda vol: black_scholes(is_call, s, k, t, vol, r, q))
    return np.where(t > 0.0, result, np.nan)


def years_from_days(calendar_days: ArrayLike) -> FloatArray:
    """Calendar days to expiry as a year fraction, the convention every function here uses."""
    return _as_float(calendar_days) / DAYS_PER_YEAR
