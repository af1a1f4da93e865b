"""When the bot evaluates: the configured New York times on every trading day of the exchange calendar."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bot.calendar import ExchangeCalendar
from strategies.alvh.config import ScheduleConfig


def evaluation_times(day: dt.date, config: ScheduleConfig) -> list[dt.datetime]:
    """The day's evaluation instants (UTC), whether or not the day trades."""
    zone = ZoneInfo(config.timezone)
    return [dt.datetime.combine(day, moment, zone).astimezone(dt.UTC) for moment in config.evaluation_times]


def next_evaluation(after: dt.datetime, calendar: ExchangeCalendar, config: ScheduleConfig) -> dt.datetime:
    """The first scheduled evaluation strictly after ``after``, on a trading day (half days included)."""
    zone = ZoneInfo(config.timezone)
    day = after.astimezone(zone).date()
    for _ in range(30):
        if calendar.is_trading_day(day):
            for moment in evaluation_times(day, config):
                if moment > after:
                    return moment
        day += dt.timedelta(days=1)
    raise RuntimeError(f"no trading day within 30 days after {after.isoformat()}")


def evaluations_between(
    start: dt.datetime, end: dt.datetime, calendar: ExchangeCalendar, config: ScheduleConfig
) -> list[dt.datetime]:
    """All scheduled evaluations in (start, end]: what a run over that period must have recorded."""
    found = []
    moment = start
    while True:
        moment = next_evaluation(moment, calendar, config)
        if moment > end:
            return found
        found.append(moment)
