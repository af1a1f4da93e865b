"""Exchange trading sessions from pandas_market_calendars (CBOE index options by default).

One place that answers "is the market open", "when is the next session" and "which sessions lie
ahead" for the scheduler, the simulated clock, the snapshot builder and the backtest. Schedules are
computed a year at a time and cached, so asking about a single instant stays cheap.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, bisect_right
from functools import lru_cache
from zoneinfo import ZoneInfo

import pandas as pd
import pandas_market_calendars as mcal

from strategies.alvh.models import TradingSession

DEFAULT_CALENDAR = "CBOE_Index_Options"
UTC = dt.UTC


class UnknownCalendarError(ValueError):
    pass


@lru_cache(maxsize=8)
def _calendar(name: str) -> mcal.MarketCalendar:
    if name not in mcal.get_calendar_names():
        raise UnknownCalendarError(f"unknown exchange calendar {name!r}")
    return mcal.get_calendar(name)


@lru_cache(maxsize=128)
def _year_sessions(name: str, year: int) -> tuple[TradingSession, ...]:
    schedule = _calendar(name).schedule(start_date=f"{year}-01-01", end_date=f"{year}-12-31")
    sessions = []
    for label, row in schedule.iterrows():
        opened = pd.Timestamp(row["market_open"]).to_pydatetime().astimezone(UTC)
        closed = pd.Timestamp(row["market_close"]).to_pydatetime().astimezone(UTC)
        sessions.append(TradingSession(date=pd.Timestamp(label).date(), open=opened, close=closed))
    return tuple(sessions)


class ExchangeCalendar:
    """Trading sessions of one exchange calendar; all datetimes are timezone-aware (UTC)."""

    def __init__(self, name: str = DEFAULT_CALENDAR) -> None:
        _calendar(name)
        self.name = name

    def sessions_between(self, start: dt.date, end: dt.date) -> list[TradingSession]:
        """Sessions whose date lies in [start, end]."""
        found: list[TradingSession] = []
        for year in range(start.year, end.year + 1):
            found.extend(s for s in _year_sessions(self.name, year) if start <= s.date <= end)
        return found

    def session_on(self, day: dt.date) -> TradingSession | None:
        sessions = _year_sessions(self.name, day.year)
        dates = [s.date for s in sessions]
        index = bisect_left(dates, day)
        if index < len(sessions) and sessions[index].date == day:
            return sessions[index]
        return None

    def is_trading_day(self, day: dt.date) -> bool:
        return self.session_on(day) is not None

    def is_open(self, moment: dt.datetime) -> bool:
        session = self.session_on(_new_york_date(moment))
        return session is not None and session.open <= moment < session.close

    def next_session(self, moment: dt.datetime) -> TradingSession:
        """The session in progress at ``moment``, else the next one to open."""
        day = _new_york_date(moment)
        for year in (day.year, day.year + 1, day.year + 2):
            sessions = _year_sessions(self.name, year)
            closes = [s.close for s in sessions]
            index = bisect_right(closes, moment)
            if index < len(sessions):
                return sessions[index]
        raise UnknownCalendarError(f"no session of {self.name} after {moment.isoformat()}")

    def trading_days_after(self, day: dt.date, count: int) -> list[dt.date]:
        """The next ``count`` trading days strictly after ``day``."""
        found: list[dt.date] = []
        year = day.year
        while len(found) < count:
            found.extend(s.date for s in _year_sessions(self.name, year) if s.date > day)
            year += 1
            if year > day.year + 5:
                break
        return found[:count]

    def sessions_ahead(self, moment: dt.datetime, calendar_days: int) -> list[TradingSession]:
        """Today's session (if any) and those of the next ``calendar_days`` days: the planner's horizon."""
        today = _new_york_date(moment)
        return self.sessions_between(today, today + dt.timedelta(days=calendar_days))


def _new_york_date(moment: dt.datetime) -> dt.date:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass a timezone-aware time")
    return moment.astimezone(ZoneInfo("America/New_York")).date()
