"""Calibration of the VIX option model to real Cboe end-of-day chains.

For every chain file the quote date's forward curve (VX settlements, spot VIX) and VVIX come from the
history files, exactly as the backtest builds them, so the reported error includes the forward
interpolation for weeklies, not only the smile. Fitted on calls with a two-sided 15:45 quote and a
delta between 0.03 and 0.85 (the strikes the hedge trades and holds):

- the ATM ratio at tenor nodes, the skew (a, b, q) by least squares on implied vol, with a small
  penalty on the ratio's curvature so that nodes without nearby expiries stay smooth;
- the spread model (base + slope x price, monthly and weekly apart) by non-negative least squares.

The report gives RMSE of implied vol (vol points) and of price (dollars per share), overall and by
tenor, the bias, and the share of model prices inside the quoted bid/ask.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.optimize import least_squares, nnls

from bot.backtest.listing import monthly_vix_expiries_after
from bot.backtest.loaders import LoadNote, MarketHistory, load_option_chain
from bot.backtest.vix_model import BUILTIN_PARAMS, VixVolParams, build_curve, fill_vvix, implied_vol, quote_calls
from strategies.pricing import black76, implied_vol_black76, years_from_days

TENOR_NODES = (7.0, 14.0, 30.0, 60.0, 90.0, 180.0)
MIN_DELTA = 0.03
MAX_DELTA = 0.85
SMOOTHNESS = 0.02
MAX_SKEW_LIFT = 1.0  # the smile may at most double the ATM vol


@dataclass(frozen=True)
class ChainPoints:
    """Calls usable for calibration, one element per option."""

    quote_date: np.ndarray
    dte: np.ndarray
    forward: np.ndarray
    strike: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    vvix: np.ndarray
    weekly: np.ndarray
    market_iv: np.ndarray

    @property
    def mid(self) -> np.ndarray:
        return (self.bid + self.ask) / 2.0


def chain_points(chain: pd.DataFrame, history: MarketHistory, max_stale_days: int = 5) -> ChainPoints | None:
    """The chain's calls priced against the backtest's own forward curve and VVIX for that date."""
    quote_date = chain["quote_date"].iloc[0]
    try:
        index = history.index_of(quote_date)
    except KeyError:
        return None
    vvix_filled, _ = fill_vvix(history.vvix[: index + 1], history.vix_close[: index + 1], max_stale_days)
    curve = build_curve(
        quote_date, float(history.vix_close[index]), history.vx_prices[index], history.vx_expiries[index]
    )
    calls = chain[chain["right"] == "C"]
    dte = np.array([(e - quote_date).days for e in calls["expiration"]], dtype=float)
    forward = np.array([curve.for_expiry(e) for e in calls["expiration"]])
    monthly = set(monthly_vix_expiries_after(quote_date - dt.timedelta(days=1), 12))
    weekly = np.array([e not in monthly for e in calls["expiration"]])
    strike = calls["strike"].to_numpy(float)
    bid = calls["bid"].to_numpy(float)
    ask = calls["ask"].to_numpy(float)
    mid = (bid + ask) / 2.0
    with np.errstate(all="ignore"):
        market_iv = implied_vol_black76("C", mid, forward, strike, years_from_days(dte))
    usable = np.isfinite(market_iv) & (dte >= 1)
    delta = black76("C", forward, strike, years_from_days(dte), np.where(usable, market_iv, 1.0)).delta
    usable &= (delta >= MIN_DELTA) & (delta <= MAX_DELTA)
    if not usable.any():
        return None
    count = int(usable.sum())
    return ChainPoints(
        quote_date=np.array([quote_date] * count, dtype=object),
        dte=dte[usable],
        forward=forward[usable],
        strike=strike[usable],
        bid=bid[usable],
        ask=ask[usable],
        vvix=np.full(count, float(vvix_filled[index])),
        weekly=weekly[usable],
        market_iv=market_iv[usable],
    )


def _concat(parts: list[ChainPoints]) -> ChainPoints:
    return ChainPoints(
        **{name: np.concatenate([getattr(p, name) for p in parts]) for name in ChainPoints.__dataclass_fields__}
    )


def fit(points: ChainPoints, source: str) -> VixVolParams:
    """Least squares on implied vol; the skew's lift M = A x S is bounded by ``MAX_SKEW_LIFT``."""
    nodes = np.array(TENOR_NODES)
    count = len(nodes)
    reference = float(np.mean(points.vvix)) / 100.0
    start = np.concatenate([np.full(count, 0.9), [1.2, 0.8, 0.8]])

    def params_of(vector: np.ndarray) -> VixVolParams:
        return replace(
            BUILTIN_PARAMS,
            tenor_days=TENOR_NODES,
            atm_ratio=tuple(float(v) for v in vector[:count]),
            vvix_reference=reference,
            skew_slope=float(vector[count]),
            skew_max_lift=float(vector[count + 1]),
            skew_tenor_power=float(vector[count + 2]),
        )

    def residuals(vector: np.ndarray) -> np.ndarray:
        model = implied_vol(params_of(vector), points.vvix, points.dte, points.forward, points.strike)
        smooth = SMOOTHNESS * np.diff(vector[:count], 2)
        return np.concatenate([model - points.market_iv, smooth])

    lower = np.concatenate([np.full(count, 0.1), [0.05, 0.05, 0.0]])
    upper = np.concatenate([np.full(count, 3.0), [5.0, MAX_SKEW_LIFT, 1.5]])
    solution = least_squares(residuals, start, bounds=(lower, upper))
    spread = _fit_spread(points)
    params = replace(
        params_of(solution.x),
        spread_base_monthly=spread["spread_base_monthly"],
        spread_slope_monthly=spread["spread_slope_monthly"],
        spread_base_weekly=spread["spread_base_weekly"],
        spread_slope_weekly=spread["spread_slope_weekly"],
        source=source,
    )
    return replace(params, fit_report=calibration_report(points, params))


def _fit_spread(points: ChainPoints) -> dict[str, float]:
    """Quoted width regressed on the market mid (the option's value), monthly and weekly apart."""
    result: dict[str, float] = {}
    for label, mask in (("monthly", ~points.weekly), ("weekly", points.weekly)):
        if mask.sum() >= 3:
            design = np.column_stack([np.ones(int(mask.sum())), points.mid[mask]])
            coefficients, _ = nnls(design, (points.ask - points.bid)[mask])
            base, slope = float(coefficients[0]), float(coefficients[1])
        else:
            base = getattr(BUILTIN_PARAMS, f"spread_base_{label}")
            slope = getattr(BUILTIN_PARAMS, f"spread_slope_{label}")
        result[f"spread_base_{label}"] = round(base, 4)
        result[f"spread_slope_{label}"] = round(slope, 4)
    return result


def calibration_report(points: ChainPoints, params: VixVolParams) -> dict[str, object]:
    """Errors of the model against the chain: overall and by tenor (DTE)."""
    quotes = quote_calls(params, points.vvix, points.dte, points.forward, points.strike, points.weekly)
    iv_error = quotes.iv - points.market_iv
    price_error = quotes.mid - points.mid
    inside = (quotes.mid >= points.bid - 1e-9) & (quotes.mid <= points.ask + 1e-9)
    by_tenor = []
    for dte in np.unique(points.dte):
        mask = points.dte == dte
        by_tenor.append(
            {
                "dte": int(dte),
                "weekly": bool(points.weekly[mask][0]),
                "options": int(mask.sum()),
                "iv_rmse_points": _points(np.sqrt(np.mean(iv_error[mask] ** 2))),
                "iv_bias_points": _points(np.mean(iv_error[mask])),
                "price_rmse": round(float(np.sqrt(np.mean(price_error[mask] ** 2))), 4),
                "inside_bid_ask": round(float(np.mean(inside[mask])), 3),
            }
        )
    return {
        "options": len(points.dte),
        "quote_dates": sorted({str(d) for d in points.quote_date}),
        "iv_rmse_points": _points(np.sqrt(np.mean(iv_error**2))),
        "price_rmse": round(float(np.sqrt(np.mean(price_error**2))), 4),
        "bid_rmse": round(float(np.sqrt(np.mean((quotes.bid - points.bid) ** 2))), 4),
        "ask_rmse": round(float(np.sqrt(np.mean((quotes.ask - points.ask) ** 2))), 4),
        "inside_bid_ask": round(float(np.mean(inside)), 3),
        "by_tenor": by_tenor,
    }


def _points(value: float) -> float:
    """A vol difference in vol points (0.01 = 1 point), two decimals."""
    return round(float(value) * 100.0, 2)


def calibrate(history: MarketHistory, notes: list[LoadNote]) -> VixVolParams:
    """Parameters fitted to every chain file in the data directory, or the built-in ones when none fits."""
    parts = []
    used = []
    source = history.full or history  # a chain may date from outside the backtest's range
    for path in history.chain_files:
        chain = load_option_chain(path, notes)
        points = chain_points(chain, source)
        if points is None:
            notes.append(
                LoadNote(
                    path.name,
                    "info",
                    "quote date outside the history files or no usable call: not used for calibration",
                )
            )
            continue
        parts.append(points)
        used.append(path.name)
    if not parts:
        notes.append(LoadNote("vix_option_chains", "info", f"no chain to calibrate on: {BUILTIN_PARAMS.source}"))
        return BUILTIN_PARAMS
    points = _concat(parts)
    return fit(points, source=f"calibrated to {', '.join(used)}")
