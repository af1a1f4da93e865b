"""Which contracts were listed on a day: VIX and VIXW expiries, SPX monthly expiries, strike grids, ticks.

- Monthly VIX expiry (futures and options): the Wednesday 30 days before the third Friday of the
  following month; if that Friday is not a trading day, 30 days before the session preceding it;
  if the result is not a trading day, the session before it (Cboe's rule).
- Weekly VIX options (trading class VIXW) expire on the other Wednesdays (the session before when a
  Wednesday is a holiday); they are listed only from ``weeklies_from`` (October 2015) and only a few
  weeks ahead, as in the 2016-06-01 chain.
- SPX monthly options (trading class SPX, AM-settled) expire on the third Friday (the Thursday before
  when that Friday is a holiday).
- VIX strikes: 1-point steps to 30, 2.5 to 50, 5 to 100, 10 beyond (the modelled chain leaves out the
  half-point strikes some expiries had). VIX option ticks: 0.05 below $3, 0.10 from $3.
"""

from __future__ import annotations

import datetime as dt
import math
from functools import lru_cache

import numpy as np

from bot.calendar import ExchangeCalendar

VIX_TICK_BREAK = 3.0
_DEFAULT_CALENDAR: ExchangeCalendar | None = None


def _calendar(calendar: ExchangeCalendar | None) -> ExchangeCalendar:
    global _DEFAULT_CALENDAR
    if calendar is not None:
        return calendar
    if _DEFAULT_CALENDAR is None:
        _DEFAULT_CALENDAR = ExchangeCalendar()
    return _DEFAULT_CALENDAR


def third_friday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    offset = (4 - first.weekday()) % 7
    return first + dt.timedelta(days=offset + 14)


def _previous_session(day: dt.date, calendar: ExchangeCalendar) -> dt.date:
    candidate = day - dt.timedelta(days=1)
    while not calendar.is_trading_day(candidate):
        candidate -= dt.timedelta(days=1)
    return candidate


@lru_cache(maxsize=2048)
def _monthly_vix_expiry(year: int, month: int, calendar_name: str) -> dt.date:
    calendar = ExchangeCalendar(calendar_name)
    next_year, next_month = (year + 1, 1) if month == 12 else (year, month + 1)
    friday = third_friday(next_year, next_month)
    if not calendar.is_trading_day(friday):
        friday = _previous_session(friday, calendar)
    expiry = friday - dt.timedelta(days=30)
    if not calendar.is_trading_day(expiry):
        expiry = _previous_session(expiry, calendar)
    return expiry


def monthly_vix_expiry_for_month(year: int, month: int, calendar: ExchangeCalendar | None = None) -> dt.date:
    """The monthly VIX expiry in calendar month (year, month)."""
    return _monthly_vix_expiry(year, month, _calendar(calendar).name)


@lru_cache(maxsize=512)
def _monthly_vix_expiries_of_year(year: int, calendar_name: str) -> tuple[dt.date, ...]:
    return tuple(_monthly_vix_expiry(year, month, calendar_name) for month in range(1, 13))


def monthly_vix_expiries_after(day: dt.date, count: int, calendar: ExchangeCalendar | None = None) -> list[dt.date]:
    """The next ``count`` monthly VIX expiries strictly after ``day``."""
    name = _calendar(calendar).name
    found: list[dt.date] = []
    year = day.year
    while len(found) < count:
        found.extend(e for e in _monthly_vix_expiries_of_year(year, name) if e > day)
        year += 1
    return found[:count]


@lru_cache(maxsize=4096)
def _weekly_expiry_of_week(wednesday: dt.date, calendar_name: str) -> dt.date | None:
    calendar = ExchangeCalendar(calendar_name)
    monthly = _monthly_vix_expiry(wednesday.year, wednesday.month, calendar_name)
    if wednesday - dt.timedelta(days=wednesday.weekday()) == monthly - dt.timedelta(days=monthly.weekday()):
        return None  # the monthly expires this week
    return wednesday if calendar.is_trading_day(wednesday) else _previous_session(wednesday, calendar)


def weekly_vix_expiries(
    day: dt.date, horizon_days: int, listed_from: dt.date, calendar: ExchangeCalendar | None = None
) -> list[dt.date]:
    """Weekly (VIXW) expiries in (day, day + horizon_days], none before ``listed_from``."""
    if day < listed_from:
        return []
    name = _calendar(calendar).name
    wednesday = day + dt.timedelta(days=(2 - day.weekday()) % 7)
    found = []
    while wednesday <= day + dt.timedelta(days=horizon_days + 7):
        expiry = _weekly_expiry_of_week(wednesday, name)
        if expiry is not None and day < expiry <= day + dt.timedelta(days=horizon_days):
            found.append(expiry)
        wednesday += dt.timedelta(days=7)
    return found


@lru_cache(maxsize=1024)
def spx_monthly_expiry(year: int, month: int, calendar_name: str = "CBOE_Index_Options") -> dt.date:
    """The third Friday of the month, or the session before it when that Friday is a holiday."""
    calendar = ExchangeCalendar(calendar_name)
    friday = third_friday(year, month)
    return friday if calendar.is_trading_day(friday) else _previous_session(friday, calendar)


def spx_monthly_expiries_after(day: dt.date, count: int, calendar: ExchangeCalendar | None = None) -> list[dt.date]:
    name = _calendar(calendar).name
    found: list[dt.date] = []
    year, month = day.year, day.month
    while len(found) < count:
        expiry = spx_monthly_expiry(year, month, name)
        if expiry > day:
            found.append(expiry)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def _vix_strike_grid() -> np.ndarray:
    parts = [
        np.arange(1.0, 30.0, 1.0),
        np.arange(30.0, 50.0, 2.5),
        np.arange(50.0, 100.0, 5.0),
        np.arange(100.0, 500.0 + 1e-9, 10.0),
    ]
    return np.concatenate(parts)


VIX_STRIKES = _vix_strike_grid()


def vix_strikes_between(low: float, high: float) -> np.ndarray:
    """Listed VIX strikes in [low, high]; at least the nearest strike when the interval holds none."""
    grid = VIX_STRIKES
    selected = grid[(grid >= low) & (grid <= high)]
    if len(selected) == 0:
        selected = grid[[int(np.argmin(np.abs(grid - (low + high) / 2.0)))]]
    return selected


def vix_tick(price: float) -> float:
    return 0.10 if price >= VIX_TICK_BREAK else 0.05


def vix_ticks_down(prices: np.ndarray) -> np.ndarray:
    """Prices rounded down onto the VIX option tick grid (0.05 below $3, 0.10 from $3)."""
    small = np.floor(prices / 0.05 + 1e-7) * 0.05
    large = np.floor(prices / 0.10 + 1e-7) * 0.10
    return np.round(np.where(prices >= VIX_TICK_BREAK, large, small), 2)


def vix_ticks_up(prices: np.ndarray) -> np.ndarray:
    small = np.ceil(prices / 0.05 - 1e-7) * 0.05
    large = np.ceil(prices / 0.10 - 1e-7) * 0.10
    rounded = np.where(prices >= VIX_TICK_BREAK, large, small)
    # Rounding up from just below $3 lands on the fine grid at 3.00, which is on both grids.
    return np.round(rounded, 2)


def spx_strike_nearest(value: float, step: float) -> float:
    return float(step * math.floor(value / step + 0.5))
