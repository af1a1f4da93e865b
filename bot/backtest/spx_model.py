"""SPX option model for the condor book: Black-Scholes on an implied vol built from the VIX indices.

- ATM vol term structure: the Cboe indices VIX9D (9 days), VIX (30), VIX3M (93) and VIX6M (182),
  whichever exist that day (VIX alone before 2008), each scaled by ``atm_ratio`` (the VIX indices are
  variance-swap rates, above at-the-money vol because of the skew); total variance is linear in
  time between them, vol flat beyond the shortest and longest.
- Put skew: IV(K) = ATM x max(min_ratio, 1 - slope*z + curvature*z^2), z = ln(K/F) / (ATM sqrt(T)):
  puts (z < 0) are dearer, calls cheaper. With ``skew_index_scaling`` the slope is scaled by
  (SKEW - 100) / 20 (clipped to 0.5..2), so the Cboe SKEW index moves it.
- Rates and dividends are zero (forward = spot): condor marks over 3-7 weeks barely depend on them.
- Quotes: bid/ask around the model price with width base + share x price (capped), on the SPX tick
  grid (0.05 below $3, 0.10 from $3).
"""

from __future__ import annotations

import math

import numpy as np

from bot.backtest.settings import CondorBookSettings, SpxVolSettings
from strategies.pricing import OptionValues, black_scholes, years_from_days

INDEX_TENORS = (9.0, 30.0, 93.0, 182.0)
SKEW_NEUTRAL = 120.0


def atm_vol(tenor_days: float, index_values: tuple[float, float, float, float], atm_ratio: float) -> float:
    """ATM vol at ``tenor_days`` from (VIX9D, VIX, VIX3M, VIX6M); NaN entries are left out."""
    points = [(t, v / 100.0) for t, v in zip(INDEX_TENORS, index_values, strict=True) if math.isfinite(v) and v > 0]
    if not points:
        raise ValueError("no VIX index value to build SPX vol from")
    tenors = np.array([p[0] for p in points])
    vols = np.array([p[1] for p in points])
    t = min(max(tenor_days, tenors[0]), tenors[-1])
    total_variance = np.interp(t, tenors, vols * vols * tenors)
    return float(math.sqrt(total_variance / t) * atm_ratio)


def skew_slope(settings: SpxVolSettings, skew_index: float) -> float:
    if settings.skew_index_scaling and math.isfinite(skew_index) and skew_index > 0:
        factor = min(max((skew_index - 100.0) / (SKEW_NEUTRAL - 100.0), 0.5), 2.0)
        return settings.skew_slope * factor
    return settings.skew_slope


def smile_vol(
    settings: SpxVolSettings, atm: float, slope: float, spot: float, strike: np.ndarray, years: float
) -> np.ndarray:
    z = np.log(np.asarray(strike, dtype=float) / spot) / (atm * math.sqrt(max(years, 1e-6)))
    ratio = 1.0 - slope * z + settings.skew_curvature * z * z
    return atm * np.maximum(ratio, settings.min_ratio)


def price_options(
    settings: SpxVolSettings,
    rights: np.ndarray,
    strikes: np.ndarray,
    spot: float,
    dte: float,
    atm: float,
    slope: float,
) -> tuple[OptionValues, np.ndarray]:
    years = float(years_from_days(dte))
    vol = smile_vol(settings, atm, slope, spot, strikes, years)
    return black_scholes(rights, spot, strikes, years, vol), vol


def spx_ticks(prices: np.ndarray, up: bool) -> np.ndarray:
    step = np.where(prices >= 3.0, 0.10, 0.05)
    scaled = prices / step
    rounded = np.ceil(scaled - 1e-7) if up else np.floor(scaled + 1e-7)
    return np.round(rounded * step, 2)


def bid_ask(book: CondorBookSettings, price: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    width = np.minimum(book.spread_base + book.spread_per_price * price, book.spread_max)
    bid = np.maximum(spx_ticks(price - width / 2.0, up=False), 0.0)
    ask = np.maximum(spx_ticks(price + width / 2.0, up=True), 0.05)
    return bid, ask
