"""The open/roll signals of strategy.md §3: contango, backwardation, VX trend, SPX RSI, events ahead.

Each signal is ``None`` when its inputs are missing or unusable; the reason is kept so the decision
record can say why. Unknown never counts as true.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from dataclasses import dataclass

from strategies.alvh.config import EventDate, SignalsConfig
from strategies.alvh.models import DailyClose, FutureQuote, TradingSession


@dataclass(frozen=True)
class SeriesResult:
    values: list[float]
    note: str


def clean_history(history: list[DailyClose], today: dt.date) -> SeriesResult:
    """Closes up to ``today`` (no look-ahead), in date order; non-finite closes are dropped and counted."""
    dates = [row.date for row in history]
    if any(later <= earlier for earlier, later in itertools.pairwise(dates)):
        return SeriesResult([], "history is not in strictly increasing date order")
    usable = [row for row in history if row.date <= today]
    finite = [row.close for row in usable if math.isfinite(row.close) and row.close > 0.0]
    dropped = len(usable) - len(finite)
    note = f"{len(finite)} closes" + (f", {dropped} non-finite or non-positive dropped" if dropped else "")
    return SeriesResult(finite, note)


def ema(values: list[float], span: int) -> list[float]:
    """Exponential moving average, alpha = 2/(span+1), seeded with the first value."""
    alpha = 2.0 / (span + 1.0)
    result: list[float] = []
    for value in values:
        result.append(value if not result else alpha * value + (1.0 - alpha) * result[-1])
    return result


def macd(values: list[float], fast: int, slow: int, signal: int) -> tuple[float, float] | None:
    """(MACD line, signal line) at the last value; None with fewer than slow + signal values."""
    if len(values) < slow + signal:
        return None
    fast_ema, slow_ema = ema(values, fast), ema(values, slow)
    line = [f - s for f, s in zip(fast_ema, slow_ema, strict=True)]
    signal_line = ema(line, signal)
    return line[-1], signal_line[-1]


def rsi(values: list[float], period: int) -> float | None:
    """Wilder's RSI at the last value; None with fewer than period + 1 values."""
    if len(values) < period + 1:
        return None
    changes = [later - earlier for earlier, later in itertools.pairwise(values)]
    average_gain = sum(max(c, 0.0) for c in changes[:period]) / period
    average_loss = sum(max(-c, 0.0) for c in changes[:period]) / period
    for change in changes[period:]:
        average_gain = (average_gain * (period - 1) + max(change, 0.0)) / period
        average_loss = (average_loss * (period - 1) + max(-change, 0.0)) / period
    if average_loss == 0.0:
        return 100.0 if average_gain > 0.0 else 50.0
    relative_strength = average_gain / average_loss
    return 100.0 - 100.0 / (1.0 + relative_strength)


def front_monthly_futures(futures: list[FutureQuote], today: dt.date) -> tuple[FutureQuote | None, FutureQuote | None]:
    """VX1 and VX2: the first two monthly futures expiring after today (they roll on the expiry day)."""
    monthly = sorted((f for f in futures if f.monthly and f.expiry > today), key=lambda f: f.expiry)
    first = monthly[0] if monthly else None
    second = monthly[1] if len(monthly) > 1 else None
    return first, second


def usable_price(future: FutureQuote | None) -> float | None:
    if future is None or future.price is None or not math.isfinite(future.price) or future.price <= 0.0:
        return None
    return future.price


def events_ahead(
    events: list[EventDate], today: dt.date, sessions: list[TradingSession], lookahead: int
) -> tuple[list[str], str]:
    """Events dated from today through the ``lookahead``-th trading session after today."""
    upcoming = sorted(s.date for s in sessions if s.date > today)
    if len(upcoming) >= lookahead:
        horizon = upcoming[lookahead - 1]
        note = f"through {horizon.isoformat()} ({lookahead} trading days)"
    elif upcoming:
        horizon = upcoming[-1]
        note = f"through {horizon.isoformat()} (calendar covers only {len(upcoming)} trading days)"
    else:
        horizon = today
        note = "no trading calendar ahead: only today's events counted"
    found = sorted({f"{e.date.isoformat()} {e.kind}" for e in events if today <= e.date <= horizon})
    return found, note


def describe_opens(
    contango: float | None,
    extreme: bool | None,
    trend_up: bool | None,
    overextended: bool | None,
    event_ahead: bool,
    config: SignalsConfig,
) -> tuple[bool, str]:
    """Whether empty slots may be opened (§3), with the rule in words."""
    if contango is None or extreme is None:
        return False, "contango unknown (VX1/VX2 missing): opens refused"
    if not extreme:
        return True, f"contango {contango:.2%} <= {config.contango_extreme:.0%}: opens allowed"
    reasons = []
    if trend_up:
        reasons.append("VX trend up (MACD > signal)")
    if overextended:
        reasons.append(f"SPX overextended (RSI >= {config.rsi_overextended:g})")
    if event_ahead:
        reasons.append("event ahead")
    if reasons:
        return True, f"contango {contango:.2%} extreme, but {', '.join(reasons)}: opens allowed, near first"
    unknown = [name for name, value in (("VX trend", trend_up), ("SPX RSI", overextended)) if value is None]
    suffix = f" ({', '.join(unknown)} unknown)" if unknown else ""
    return False, (
        f"contango {contango:.2%} > {config.contango_extreme:.0%} with no VX uptrend, SPX not overextended "
        f"and no event ahead{suffix}: opens refused"
    )
