"""SimulatedClock: accelerated time that jumps over closed periods, shared by everyone holding it."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest

from bot.calendar import ExchangeCalendar
from bot.clock import Clock, RealClock, SimulatedClock, crosses_daily_reset

NY = ZoneInfo("America/New_York")


class FakeWall:
    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += seconds


def ny(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=NY)


def test_clocks_satisfy_the_protocol() -> None:
    assert isinstance(RealClock(), Clock)
    assert isinstance(SimulatedClock(ny(2025, 11, 24, 10, 30)), Clock)


def test_runs_at_speed_inside_a_session() -> None:
    wall = FakeWall()
    clock = SimulatedClock(ny(2025, 11, 24, 10, 30), speed=60, wall=wall)
    assert clock.now() == ny(2025, 11, 24, 10, 30)
    wall.advance(10)
    assert clock.now() == ny(2025, 11, 24, 10, 40)
    assert clock.now().tzinfo == dt.UTC


def test_jumps_over_the_night_to_shortly_before_the_next_open() -> None:
    wall = FakeWall()
    clock = SimulatedClock(ny(2025, 11, 24, 16, 0), speed=60, wall=wall, pre_open_minutes=30, post_close_minutes=15)
    # CBOE index options close 16:15 New York; the active window ends 16:30.
    wall.advance(29 * 60 / 60)
    assert clock.now() == ny(2025, 11, 24, 16, 29)
    wall.advance(2)  # two clock minutes later: one minute to the window's end, then one after the jump
    assert clock.now() == ny(2025, 11, 25, 9, 1)
    assert clock.jump_count == 1
    jump = clock.recent_jumps()[-1]
    assert jump.left == ny(2025, 11, 24, 16, 30)
    assert jump.landed == ny(2025, 11, 25, 9, 0)


def test_jumps_over_weekends_and_holidays() -> None:
    wall = FakeWall()
    # Wednesday before Thanksgiving 2025: Thursday is closed, Friday a half day.
    clock = SimulatedClock(ny(2025, 11, 26, 16, 24), speed=60, wall=wall)  # defaults: 15 min before, 10 after
    wall.advance(2)
    assert clock.now() == ny(2025, 11, 28, 9, 16)
    # Friday 28 Nov closes early (13:15 New York for index options); next is Monday.
    clock = SimulatedClock(ny(2025, 11, 28, 13, 24), speed=60, wall=wall)
    wall.advance(2)
    assert clock.now() == ny(2025, 12, 1, 9, 16)


def test_start_in_a_closed_period_moves_to_the_next_window() -> None:
    clock = SimulatedClock(ny(2025, 11, 22, 12, 0), speed=1, wall=FakeWall())  # a Saturday
    assert clock.now() == ny(2025, 11, 24, 9, 15)
    assert clock.jump_count == 1


def test_without_a_calendar_time_is_continuous() -> None:
    wall = FakeWall()
    clock = SimulatedClock(ny(2025, 11, 22, 12, 0), speed=3600, calendar=None, wall=wall)
    wall.advance(24)
    assert clock.now() == ny(2025, 11, 23, 12, 0)
    assert clock.active_until() is None


def test_one_instance_is_one_time_for_every_thread() -> None:
    wall = FakeWall()
    clock = SimulatedClock(ny(2025, 11, 24, 10, 0), speed=100, wall=wall)
    seen: list[dt.datetime] = []
    thread = threading.Thread(target=lambda: seen.append(clock.now()))
    thread.start()
    thread.join()
    assert seen == [clock.now()]


def test_set_speed_keeps_time_continuous() -> None:
    wall = FakeWall()
    clock = SimulatedClock(ny(2025, 11, 24, 10, 0), speed=10, wall=wall)
    wall.advance(6)
    clock.set_speed(100)
    assert clock.now() == ny(2025, 11, 24, 10, 1)
    wall.advance(6)
    assert clock.now() == ny(2025, 11, 24, 10, 11)
    with pytest.raises(ValueError):
        clock.set_speed(0)


def test_rejects_naive_start_and_bad_speed() -> None:
    with pytest.raises(ValueError):
        SimulatedClock(dt.datetime(2025, 11, 24, 10, 0))
    with pytest.raises(ValueError):
        SimulatedClock(ny(2025, 11, 24, 10, 0), speed=0)


async def test_sleep_wakes_at_the_right_clock_time() -> None:
    clock = SimulatedClock(ny(2025, 11, 24, 10, 0), speed=3600)
    before = clock.now()
    await clock.sleep(120)  # two clock minutes = 1/30 wall second
    elapsed = (clock.now() - before).total_seconds()
    assert 120 <= elapsed < 120 + 3600 * 0.2


async def test_sleep_until_a_moment_inside_the_night_wakes_after_the_jump() -> None:
    clock = SimulatedClock(ny(2025, 11, 24, 16, 24, 50), speed=600)
    target = ny(2025, 11, 25, 3, 0)  # inside the closed period
    await asyncio.wait_for(clock.sleep_until(target), timeout=5)
    now = clock.now()
    assert now >= ny(2025, 11, 25, 9, 15)
    assert now < ny(2025, 11, 25, 9, 20)


async def test_concurrent_sleepers_wake_in_clock_order() -> None:
    clock = SimulatedClock(ny(2025, 11, 24, 10, 0), speed=6000)
    order: list[int] = []

    async def sleeper(minutes: int) -> None:
        await clock.sleep(minutes * 60)
        order.append(minutes)

    await asyncio.gather(sleeper(30), sleeper(10), sleeper(20))
    assert order == [10, 20, 30]


def test_daily_reset_window_detection() -> None:
    assert crosses_daily_reset(ny(2025, 11, 24, 16, 30), ny(2025, 11, 25, 9, 0))
    assert not crosses_daily_reset(ny(2025, 11, 24, 10, 0), ny(2025, 11, 24, 16, 0))
    assert crosses_daily_reset(ny(2025, 11, 25, 0, 10), ny(2025, 11, 25, 0, 20))
    assert not crosses_daily_reset(ny(2025, 11, 25, 1, 50), ny(2025, 11, 25, 9, 0))


def test_calendar_sessions_are_what_the_clock_uses() -> None:
    session = ExchangeCalendar().session_on(dt.date(2025, 11, 24))
    assert session is not None
    assert session.open.astimezone(NY).time() == dt.time(9, 30)
