"""Historical bars (reqHistoricalData) computed from the market model.

Daily bars cover the sessions in ``[end - duration, end]`` that had started by ``end`` (today's bar is
the session so far, as at IB). Indices use the model's intraday path; futures, continuous futures and
options sample the model at the open, three interior points and the close. A contract only has bars
from the day it was listed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import OrderedDict
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.sim.listings import Listings
from bot.sim.market import MarketModel
from bot.sim.messages import ib_datetime
from bot.sim.records import Instrument
from strategies.alvh.models import TradingSession

NEW_YORK = ZoneInfo("America/New_York")
MAX_BARS = 20_000
_DURATION = re.compile(r"^\s*(\d+)\s*([SDWMY])\s*$", re.IGNORECASE)
_BAR_SIZE = re.compile(r"^\s*(\d+)\s*(secs?|mins?|hours?|days?|weeks?|months?)\s*$", re.IGNORECASE)
SUPPORTED_WHAT_TO_SHOW = ("TRADES", "MIDPOINT", "BID", "ASK", "BID_ASK", "ADJUSTED_LAST")


class HistoricalDataError(ValueError):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Bar:
    start: dt.datetime | dt.date
    open: float
    high: float
    low: float
    close: float


@dataclass(frozen=True)
class Duration:
    """How far back: a number of trading sessions (``D``, ``W`` = 5 sessions) or a span of time."""

    sessions: int | None = None
    span: dt.timedelta | None = None


def parse_duration(text: str) -> Duration:
    match = _DURATION.match(text)
    if not match:
        raise HistoricalDataError(321, f"Error validating request.-'bP' : cause - Invalid duration {text!r}")
    count, unit = int(match.group(1)), match.group(2).upper()
    if count <= 0:
        raise HistoricalDataError(321, f"Error validating request.-'bP' : cause - Invalid duration {text!r}")
    if unit == "D":
        return Duration(sessions=count)
    if unit == "W":
        return Duration(sessions=5 * count)
    days = {"S": count / 86400, "M": 31 * count, "Y": 366 * count}[unit]
    return Duration(span=dt.timedelta(days=days))


def parse_bar_size(text: str) -> dt.timedelta | None:
    """A bar length; None for one bar per session ('1 day')."""
    match = _BAR_SIZE.match(text)
    if not match:
        raise HistoricalDataError(321, f"Error validating request.-'bP' : cause - Invalid bar size {text!r}")
    count, unit = int(match.group(1)), match.group(2).lower()
    if unit.startswith("day"):
        if count != 1:
            raise HistoricalDataError(321, f"Error validating request.-'bP' : cause - Invalid bar size {text!r}")
        return None
    if unit.startswith(("week", "month")):
        raise HistoricalDataError(162, f"Historical Market Data Service error message:{text} bars are not available")
    seconds = {"sec": 1, "min": 60, "hou": 3600}[unit[:3]] * count
    return dt.timedelta(seconds=seconds)


def parse_end(text: str, now: dt.datetime) -> dt.datetime:
    """endDateTime: '' (now), 'yyyymmdd hh:mm:ss [zone]' or 'yyyymmdd-hh:mm:ss' (UTC)."""
    text = text.strip()
    if not text:
        return now
    try:
        if "-" in text and len(text.split("-")[0]) == 8:
            return dt.datetime.strptime(text, "%Y%m%d-%H:%M:%S").replace(tzinfo=dt.UTC)
        parts = text.split()
        moment = dt.datetime.strptime(" ".join(parts[:2]), "%Y%m%d %H:%M:%S")
        zone = ZoneInfo(parts[2]) if len(parts) > 2 else NEW_YORK
        return moment.replace(tzinfo=zone).astimezone(dt.UTC)
    except (ValueError, KeyError) as error:
        raise HistoricalDataError(321, f"Error validating request.-'bP' : cause - Invalid end date {text!r}") from error


class BarBuilder:
    def __init__(self, model: MarketModel, listings: Listings) -> None:
        self.model = model
        self.listings = listings
        self._daily_cache: OrderedDict[tuple[int, str, dt.date], Bar] = OrderedDict()

    def _price(self, instrument: Instrument, moment: dt.datetime, continuous: bool) -> float:
        if continuous and instrument.sec_type != "IND":
            day = moment.astimezone(NEW_YORK).date()
            front = self.listings.front_vx_future(day)
            assert front.expiry is not None
            return self.model.futures_price(front.expiry, moment)
        return self.model.theoretical_price(instrument, moment)

    def _listed_on(self, instrument: Instrument, day: dt.date, continuous: bool) -> bool:
        if instrument.sec_type == "IND" or continuous:
            return True
        return self.listings.is_listed(instrument, day)

    def begin(self, end: dt.datetime, duration: Duration) -> dt.datetime:
        if duration.span is not None:
            return end - duration.span
        started = [s for s in self.model.sessions if s.open <= end]
        count = duration.sessions or 1
        first = started[-count] if len(started) >= count else started[0]
        return first.open - dt.timedelta(microseconds=1)

    def bars(
        self, instrument: Instrument, end: dt.datetime, duration: Duration, size: dt.timedelta | None, continuous: bool
    ) -> list[Bar]:
        begin = self.begin(end, duration)
        sessions = [
            s
            for s in self.model.sessions
            if s.open <= end and s.close > begin and s.date >= (begin.date() - dt.timedelta(days=1))
        ]
        if size is None:
            first_day = begin.astimezone(NEW_YORK).date()
            daily = [
                self._daily(instrument, session, end, continuous) for session in sessions if session.date > first_day
            ]
            return [bar for bar in daily if bar is not None]
        estimated = (
            sum((min(s.close, end) - max(s.open, begin)).total_seconds() for s in sessions) / size.total_seconds()
        )
        if estimated > MAX_BARS:
            raise HistoricalDataError(162, "Historical Market Data Service error message:Time length exceed max.")
        bars: list[Bar] = []
        for session in sessions:
            if not self._listed_on(instrument, session.date, continuous):
                continue
            start = session.open
            while start < min(session.close, end):
                stop = min(start + size, session.close, end)
                if stop > begin:
                    bars.append(self._bar(instrument, start, start, stop, continuous))
                start += size
        return bars

    def last_bar(
        self, instrument: Instrument, now: dt.datetime, size: dt.timedelta | None, continuous: bool
    ) -> Bar | None:
        """The bar in progress: the last of ``bars(instrument, now, Duration(sessions=1), size, continuous)``
        (None when that is empty), building only that bar."""
        begin = self.begin(now, Duration(sessions=1))
        session = next(s for s in reversed(self.model.sessions) if s.open <= now)
        if not (session.close > begin and session.date >= begin.date() - dt.timedelta(days=1)):
            return None
        if size is None:
            if session.date <= begin.astimezone(NEW_YORK).date():
                return None
            return self._daily(instrument, session, now, continuous)
        limit = min(session.close, now)
        elapsed = limit - max(session.open, begin)
        if elapsed.total_seconds() / size.total_seconds() > MAX_BARS:  # as bars() refuses the session
            raise HistoricalDataError(162, "Historical Market Data Service error message:Time length exceed max.")
        if not self._listed_on(instrument, session.date, continuous) or limit <= session.open:
            return None
        start = session.open + ((limit - session.open - dt.timedelta(microseconds=1)) // size) * size
        return self._bar(instrument, start, start, min(start + size, limit), continuous)

    def _daily(self, instrument: Instrument, session: TradingSession, end: dt.datetime, continuous: bool) -> Bar | None:
        day = session.date
        if not self._listed_on(instrument, day, continuous):
            return None
        final = session.close <= end
        closed = min(session.close, end)
        key = (instrument.con_id, "C" if continuous else instrument.sec_type, day)
        cached = self._daily_cache.get(key) if final else None
        if cached is not None:
            return cached
        if instrument.sec_type == "IND":
            [(_, daily)] = self.model.daily_bars(instrument.symbol, day, day, closed)
            bar = Bar(day, daily.open, daily.high, daily.low, daily.close)
        else:
            bar = self._bar(instrument, day, session.open, closed, continuous)
        if final:
            self._daily_cache[key] = bar
            if len(self._daily_cache) > 20_000:
                self._daily_cache.popitem(last=False)
        return bar

    def _bar(
        self,
        instrument: Instrument,
        label: dt.datetime | dt.date,
        start: dt.datetime,
        stop: dt.datetime,
        continuous: bool,
    ) -> Bar:
        span = stop - start
        last_instant = stop - dt.timedelta(microseconds=1) if span > dt.timedelta(0) else stop
        points = [start + span * fraction for fraction in (0.0, 0.25, 0.5, 0.75)] + [last_instant]
        prices = [self._price(instrument, point, continuous) for point in points]
        return Bar(label, round(prices[0], 4), round(max(prices), 4), round(min(prices), 4), round(prices[-1], 4))


def format_bar_time(start: dt.datetime | dt.date, format_date: int) -> str:
    if not isinstance(start, dt.datetime):
        return start.strftime("%Y%m%d")
    if format_date == 2:
        return str(int(start.timestamp()))
    return ib_datetime(start)
