"""The VIX option model: Black-76 on the same-expiry VIX future, vol from VVIX by tenor, call skew, spread.

- Forward: a monthly expiry's future is its VX settlement; any other expiry (weeklies) takes the
  curve through spot VIX at 0 days and the monthly settlements, linear in DTE (flat beyond the last).
- ATM implied vol: VVIX is the 30-day implied vol of VIX options. ATM(τ) = ratio(τ) x (v_ref +
  (VVIX/100 - v_ref) x m(τ)): ratio(τ) is calibrated at tenor nodes (linear between, flat outside),
  v_ref is the calibration day's VVIX/100, and m(τ) = 1 up to 30 days, (30/τ)^κ beyond (κ = 1, an
  assumption: vol of vol mean-reverts, so a VVIX far from normal moves long tenors less).
  A missing VVIX takes the last value up to a few days old, else the estimate
  ``VVIX_FALLBACK_INTERCEPT + VVIX_FALLBACK_SLOPE x VIX`` (the 2007-2019 least-squares line).
- Call skew: IV = ATM x max(min_smile, 1 + M tanh(y/S)), M = A x S <= 1 (the smile at most doubles
  the ATM vol), y = ln(K/F) / ((DTE/30)^q x ATM/ATM_ref): moneyness in units that widen when vol is
  above the calibration day's, so the skew flattens in a spike instead of multiplying a high ATM vol.
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
    vvix_reference: float
    mean_reversion_power: float
    skew_slope: float
    skew_max_lift: float
    skew_tenor_power: float
    min_smile: float
    spread_base_monthly: float
    spread_slope_monthly: float
    spread_base_weekly: float
    spread_slope_weekly: float
    source: str
    fit_report: dict[str, object] = field(default_factory=dict, compare=False)

    @property
    def skew_saturation(self) -> float:
        return self.skew_max_lift / self.skew_slope if self.skew_slope > 0 else 1.0


# Fitted to the Cboe chain of 2016-06-01 by calibration.calibrate(); used when no chain file is given.
BUILTIN_PARAMS = VixVolParams(
    tenor_days=(7.0, 14.0, 30.0, 60.0, 90.0, 180.0),
    atm_ratio=(0.791, 0.904, 0.931, 0.965, 0.903, 0.762),
    vvix_reference=0.7893,
    mean_reversion_power=1.0,
    skew_slope=1.272,
    skew_max_lift=1.0,
    skew_tenor_power=0.817,
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
    dte = np.asarray(dte, dtype=float)
    ratio = np.interp(dte, params.tenor_days, params.atm_ratio)
    reversion = np.where(dte > 30.0, (30.0 / np.maximum(dte, 1.0)) ** params.mean_reversion_power, 1.0)
    level = params.vvix_reference + (np.asarray(vvix, dtype=float) / 100.0 - params.vvix_reference) * reversion
    return np.asarray(ratio * np.maximum(level, 0.05), dtype=float)


def implied_vol(
    params: VixVolParams, vvix: float | np.ndarray, dte: np.ndarray, forward: np.ndarray, strike: np.ndarray
) -> np.ndarray:
    dte = np.asarray(dte, dtype=float)
    atm = atm_vol(params, vvix, dte)
    reference = params.vvix_reference * np.interp(dte, params.tenor_days, params.atm_ratio)
    scale = (np.maximum(dte, 1.0) / 30.0) ** params.skew_tenor_power * (atm / reference)
    moneyness = np.log(np.asarray(strike, dtype=float) / np.asarray(forward, dtype=float)) / scale
    saturation = params.skew_saturation
    smile = 1.0 + params.skew_max_lift * np.tanh(moneyness / saturation)
    return np.asarray(atm * np.maximum(smile, params.min_smile), dtype=float)


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
    vvix: float | np.ndarray,
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
