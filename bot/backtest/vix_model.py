"""The VIX option model: Black-76 on the same-expiry VIX future, vol from VVIX by tenor, call skew, spread.

- Forward: a monthly expiry's future is its VX settlement; any other expiry (weeklies) takes the
  curve through spot VIX at 0 days and the monthly settlements, linear in DTE (flat beyond the last).
- ATM implied vol = VVIX/100 x ratio(tenor), the ratio linear between calibrated tenor nodes
  (flat outside them). VVIX is the 30-day implied vol of VIX options, so the ratio carries the term
  structure. A missing VVIX takes the last value up to a few days old, else the estimate
  ``VVIX_FALLBACK_INTERCEPT + VVIX_FALLBACK_SLOPE x VIX`` (the 2007-2019 least-squares line).
- Call skew: IV = ATM x max(min_smile, 1 + a*y + b*y^2), y = ln(K/F) / (DTE/30)^q, y capped where the
  parabola peaks (so very far strikes never see a falling smile).
- Quotes: full spread = base + slope x model price (fitted separately for monthly and weekly
  expiries), bid rounded down and ask up onto the tick grid (0.05 below $3, 0.10 from $3); a bid
  under one tick is no bid (0.0).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from bot.backtest.listing import vix_ticks_down, vix_ticks_up
from strategies.pricing import black76, years_from_days

VVIX_FALLBACK_INTERCEPT = 81.8
VVIX_FALLBACK_SLOPE = 0.385
MIN_TICK = 0.05


@dataclass(frozen=True)
class VixVolParams:
    """Parameters of the VIX option surface and spread (see module docstring)."""

    tenor_days: tuple[float, ...]
    atm_ratio: tuple[float, ...]
    skew_linear: float
    skew_quadratic: float
    skew_tenor_power: float
    min_smile: float
    spread_base_monthly: float
    spread_slope_monthly: float
    spread_base_weekly: float
    spread_slope_weekly: float
    source: str
    fit_report: dict[str, object] = field(default_factory=dict, compare=False)

    @property
    def y_cap(self) -> float:
        if self.skew_quadratic < 0.0:
            return -self.skew_linear / (2.0 * self.skew_quadratic)
        return np.inf


# Fitted to the Cboe chain of 2016-06-01 by calibration.calibrate(); used when no chain file is given.
BUILTIN_PARAMS = VixVolParams(
    tenor_days=(7.0, 14.0, 30.0, 60.0, 90.0, 180.0),
    atm_ratio=(0.7794, 0.8618, 0.9296, 0.9678, 0.9110, 0.7674),
    skew_linear=1.2211,
    skew_quadratic=-0.1417,
    skew_tenor_power=0.8329,
    min_smile=0.3,
    spread_base_monthly=0.0533,
    spread_slope_monthly=0.0377,
    spread_base_weekly=0.1068,
    spread_slope_weekly=0.0720,
    source="built-in parameters (fitted to the Cboe VIX chain of 2016-06-01)",
)


def fill_vvix(vvix: np.ndarray, vix: np.ndarray, max_stale_days: int) -> tuple[np.ndarray, np.ndarray]:
    """VVIX with the fallback rule applied, and a flag per day: 0 actual, 1 carried forward, 2 estimated.

    Only past values are carried forward, so no day sees a later VVIX.
    """
    filled = vvix.astype(float).copy()
    source = np.zeros(len(vvix), dtype=np.int8)
    last_value = np.nan
    last_index = -(10**9)
    for index, value in enumerate(vvix):
        if np.isfinite(value) and value > 0.0:
            last_value, last_index = value, index
            continue
        if np.isfinite(last_value) and index - last_index <= max_stale_days:
            filled[index] = last_value
            source[index] = 1
        else:
            filled[index] = VVIX_FALLBACK_INTERCEPT + VVIX_FALLBACK_SLOPE * vix[index]
            source[index] = 2
    return filled, source


@dataclass(frozen=True)
class ForwardCurve:
    """Spot VIX at 0 days and the monthly futures by DTE, for one day."""

    day: dt.date
    dtes: np.ndarray
    prices: np.ndarray
    monthly_expiries: tuple[dt.date, ...]
    monthly_prices: tuple[float, ...]

    def at(self, dte: np.ndarray | float) -> np.ndarray:
        return np.interp(np.asarray(dte, dtype=float), self.dtes, self.prices)

    def for_expiry(self, expiry: dt.date) -> float:
        """The same-expiry future: the settlement for a monthly, the curve for any other expiry."""
        for monthly, price in zip(self.monthly_expiries, self.monthly_prices, strict=True):
            if monthly == expiry:
                return price
        return float(self.at((expiry - self.day).days))


def build_curve(day: dt.date, vix_spot: float, vx_prices: np.ndarray, vx_expiries: np.ndarray) -> ForwardCurve:
    valid = np.isfinite(vx_prices) & ~np.isnat(vx_expiries)
    expiries = [dt.date.fromisoformat(str(e)) for e in vx_expiries[valid]]
    prices = [float(p) for p in vx_prices[valid]]
    dtes = np.array([0.0] + [float((e - day).days) for e in expiries])
    values = np.array([vix_spot, *prices])
    order = np.argsort(dtes, kind="stable")
    return ForwardCurve(day, dtes[order], values[order], tuple(expiries), tuple(prices))


def atm_vol(params: VixVolParams, vvix: float | np.ndarray, dte: np.ndarray | float) -> np.ndarray:
    ratio = np.interp(np.asarray(dte, dtype=float), params.tenor_days, params.atm_ratio)
    return np.asarray(vvix, dtype=float) / 100.0 * ratio


def implied_vol(
    params: VixVolParams, vvix: float | np.ndarray, dte: np.ndarray, forward: np.ndarray, strike: np.ndarray
) -> np.ndarray:
    dte = np.asarray(dte, dtype=float)
    scaled_tenor = (np.maximum(dte, 1.0) / 30.0) ** params.skew_tenor_power
    moneyness = np.minimum(np.log(np.asarray(strike) / np.asarray(forward)) / scaled_tenor, params.y_cap)
    smile = 1.0 + params.skew_linear * moneyness + params.skew_quadratic * moneyness * moneyness
    return atm_vol(params, vvix, dte) * np.maximum(smile, params.min_smile)


@dataclass(frozen=True)
class VixQuotes:
    """Modelled quotes of calls, one element per option."""

    mid: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    delta: np.ndarray
    vega: np.ndarray
    iv: np.ndarray


def spread(params: VixVolParams, price: np.ndarray, weekly: np.ndarray | bool) -> np.ndarray:
    base = np.where(weekly, params.spread_base_weekly, params.spread_base_monthly)
    slope = np.where(weekly, params.spread_slope_weekly, params.spread_slope_monthly)
    return np.maximum(base + slope * price, MIN_TICK)


def quote_calls(
    params: VixVolParams,
    vvix: float,
    dte: np.ndarray,
    forward: np.ndarray,
    strike: np.ndarray,
    weekly: np.ndarray | bool,
    rate: float = 0.0,
) -> VixQuotes:
    """Model price, greeks and bid/ask of VIX calls (``dte`` in calendar days, >= 1 while they trade)."""
    dte = np.asarray(dte, dtype=float)
    vol = implied_vol(params, vvix, dte, forward, strike)
    with np.errstate(all="ignore"):
        values = black76("C", forward, strike, years_from_days(dte), vol, rate)
    price = values.price
    half = spread(params, price, weekly) / 2.0
    bid = vix_ticks_down(np.maximum(price - half, 0.0))
    bid = np.where(bid < MIN_TICK - 1e-9, 0.0, bid)
    ask = np.maximum(vix_ticks_up(price + half), MIN_TICK)
    return VixQuotes(mid=price, bid=bid, ask=ask, delta=values.delta, vega=values.vega, iv=vol)
