"""Injected time: one ``Clock`` feeds the scheduler, timeouts, decision timestamps and the paper gateway.

``RealClock`` is the wall clock. ``SimulatedClock`` runs from a chosen start at ``speed`` times wall time
while the market is open (plus a margin around each session) and jumps instantly over closed periods
(nights, weekends, holidays) to shortly before the next session opens. Everyone holding the same
``SimulatedClock`` instance sees the same time, whichever thread asks: the embedded gateway and the bot
share one instance in ``alvh run --sim``.

Clock time is a pure function of the wall clock (``time.monotonic``) and the construction arguments:
nothing advances it but the passing of wall time, so two readers can never disagree, and a sleep that
targets a moment inside a closed period wakes right after the jump across it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bot.calendar import ExchangeCalendar

UTC = dt.UTC

# A sleep never waits longer than this in wall seconds before re-reading the clock, so a clock whose
# speed is changed while someone sleeps is followed promptly.
_MAX_WALL_NAP = 0.5
_MIN_WALL_NAP = 0.0005


@runtime_checkable
class Clock(Protocol):
    """What every time-dependent component asks for: the time, and ways to wait for it."""

    def now(self) -> dt.datetime:
        """The current time, timezone-aware UTC."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of clock time."""
        ...

    async def sleep_until(self, moment: dt.datetime) -> None:
        """Wait until the clock reads ``moment`` or later (returns at once if it already does)."""
        ...


def _require_aware(moment: dt.datetime, name: str) -> dt.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment!r}")
    return moment.astimezone(UTC)


class RealClock:
    """The wall clock."""

    speed = 1.0

    def now(self) -> dt.datetime:
        return dt.datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    async def sleep_until(self, moment: dt.datetime) -> None:
        target = _require_aware(moment, "moment")
        while True:
            remaining = (target - self.now()).total_seconds()
            if remaining <= 0:
                return
            await asyncio.sleep(remaining)


@dataclass(frozen=True)
class ClockJump:
    """One instantaneous jump of a simulated clock over a closed period."""

    left: dt.datetime
    landed: dt.datetime


class _DefaultCalendar:
    """Sentinel: construct ``ExchangeCalendar()`` (CBOE index options) when the clock is created."""


DEFAULT_CALENDAR = _DefaultCalendar()


class SimulatedClock:
    """Accelerated time from ``start`` that skips the hours the market is closed.

    Args:
        start: clock time at construction (timezone-aware). If it falls in a closed period the clock
            starts at the next active window instead.
        speed: clock seconds per wall second while active (> 0).
        calendar: trading sessions; ``None`` means no jumps (time runs continuously at ``speed``).
        pre_open_minutes: the active window starts this long before each session's open.
        post_close_minutes: and ends this long after its close.
        wall: a monotonic wall-clock source in seconds (tests inject a fake one).
    """

    def __init__(
        self,
        start: dt.datetime,
        speed: float = 1.0,
        calendar: ExchangeCalendar | _DefaultCalendar | None = DEFAULT_CALENDAR,
        pre_open_minutes: float = 15.0,
        post_close_minutes: float = 10.0,
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be > 0, got {speed!r}")
        if pre_open_minutes < 0 or post_close_minutes < 0:
            raise ValueError("pre_open_minutes and post_close_minutes must be >= 0")
        self._calendar: ExchangeCalendar | None = (
            ExchangeCalendar() if isinstance(calendar, _DefaultCalendar) else calendar
        )
        self._pre_open = dt.timedelta(minutes=pre_open_minutes)
        self._post_close = dt.timedelta(minutes=post_close_minutes)
        self._wall = wall
        self._lock = threading.Lock()
        self._speed = float(speed)
        self._jumps: list[ClockJump] = []
        self._jump_count = 0
        begin = _require_aware(start, "start")
        window_start, window_end = self._window_at_or_after(begin)
        if window_start > begin:
            self._record_jump(begin, window_start)
            begin = window_start
        self._anchor_clock = begin
        self._anchor_wall = wall()
        self._window_end = window_end

    # -- public API -----------------------------------------------------------------------------

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def calendar(self) -> ExchangeCalendar | None:
        return self._calendar

    @property
    def jump_count(self) -> int:
        """How many jumps the clock has made so far (including one at construction, if any)."""
        with self._lock:
            self._advance_locked()
            return self._jump_count

    def recent_jumps(self) -> list[ClockJump]:
        """The last few jumps, oldest first (bounded history)."""
        with self._lock:
            self._advance_locked()
            return list(self._jumps)

    def set_speed(self, speed: float) -> None:
        """Change the speed from now on; clock time stays continuous."""
        if not speed > 0:
            raise ValueError(f"speed must be > 0, got {speed!r}")
        with self._lock:
            current = self._advance_locked()
            self._anchor_clock = current
            self._anchor_wall = self._wall()
            self._speed = float(speed)

    def now(self) -> dt.datetime:
        with self._lock:
            return self._advance_locked()

    def active_until(self) -> dt.datetime | None:
        """When the current active window ends (the next jump), or None without a calendar."""
        with self._lock:
            self._advance_locked()
            return self._window_end

    def is_active(self, moment: dt.datetime) -> bool:
        """Whether ``moment`` lies in an active window (a session plus its margins)."""
        moment = _require_aware(moment, "moment")
        window_start, _ = self._window_at_or_after(moment)
        return window_start <= moment

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self.now() + dt.timedelta(seconds=max(0.0, seconds)))

    async def sleep_until(self, moment: dt.datetime) -> None:
        target = _require_aware(moment, "moment")
        while True:
            with self._lock:
                current = self._advance_locked()
                if current >= target:
                    return
                horizon = target if self._window_end is None else min(target, self._window_end)
                wall_wait = (horizon - current).total_seconds() / self._speed
            await asyncio.sleep(min(_MAX_WALL_NAP, max(_MIN_WALL_NAP, wall_wait)))

    # -- internals --------------------------------------------------------------------------------

    def _advance_locked(self) -> dt.datetime:
        """Clock time now; performs any jumps that wall time has carried the clock into."""
        wall_now = self._wall()
        while True:
            elapsed = (wall_now - self._anchor_wall) * self._speed
            current = self._anchor_clock + dt.timedelta(seconds=elapsed)
            if self._window_end is None or current < self._window_end:
                return current
            # The window ended at some wall instant before now: jump from there and continue.
            wall_at_end = self._anchor_wall + (self._window_end - self._anchor_clock).total_seconds() / self._speed
            next_start, next_end = self._window_at_or_after(self._window_end + dt.timedelta(microseconds=1))
            self._record_jump(self._window_end, next_start)
            self._anchor_clock = next_start
            self._anchor_wall = wall_at_end
            self._window_end = next_end

    def _record_jump(self, left: dt.datetime, landed: dt.datetime) -> None:
        self._jump_count += 1
        self._jumps.append(ClockJump(left=left, landed=landed))
        if len(self._jumps) > 64:
            del self._jumps[0]

    def _window_at_or_after(self, moment: dt.datetime) -> tuple[dt.datetime, dt.datetime | None]:
        """The active window containing ``moment``, else the next one: (start, end)."""
        if self._calendar is None:
            return moment, None
        probe = moment - self._post_close
        while True:
            session = self._calendar.next_session(probe)
            start = session.open - self._pre_open
            end = session.close + self._post_close
            if end > moment:
                return start, end
            probe = session.close + dt.timedelta(seconds=1)


def crosses_daily_reset(previous: dt.datetime, current: dt.datetime) -> bool:
    """Whether the interval (previous, current] touches IB's nightly reset window (00:15–01:45 New York).

    Used by the gateway to drop connections like a real gateway's daily restart when time passes
    through that window, including by a simulated clock's jump over a night or weekend.
    """
    if current <= previous:
        return False
    from zoneinfo import ZoneInfo

    new_york = ZoneInfo("America/New_York")
    start_local = previous.astimezone(new_york)
    end_local = current.astimezone(new_york)
    day = start_local.date()
    while day <= end_local.date():
        window_start = dt.datetime.combine(day, dt.time(0, 15), new_york)
        window_end = dt.datetime.combine(day, dt.time(1, 45), new_york)
        if window_start < end_local and window_end > start_local:
            return True
        day += dt.timedelta(days=1)
    return False
