"""A clock that follows a separately started paper gateway's simulated time (`alvh run --clock gateway`).

It asks the gateway for its current time (``reqCurrentTime``) every ``interval`` wall seconds and
extrapolates between answers at the measured speed. Ratios spoiled by a jump over closed hours are
ignored when estimating the speed, and the clock never runs backwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import statistics
import time
from collections import deque

import structlog
from ib_async import IB

log = structlog.get_logger(__name__)


class GatewayClock:
    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self._ib: IB | None = None
        self._anchor_clock: dt.datetime | None = None
        self._anchor_wall = time.monotonic()
        self._ratios: deque[float] = deque(maxlen=15)
        self._last_returned: dt.datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self.speed = 1.0

    def attach(self, ib: IB) -> None:
        self._ib = ib

    async def sync(self) -> None:
        if self._ib is None or not self._ib.isConnected():
            return
        reported = await asyncio.wait_for(self._ib.reqCurrentTimeAsync(), timeout=10)
        wall = time.monotonic()
        reported = reported if reported.tzinfo else reported.replace(tzinfo=dt.UTC)
        if self._anchor_clock is not None and wall > self._anchor_wall:
            ratio = (reported - self._anchor_clock).total_seconds() / (wall - self._anchor_wall)
            if ratio > 0:
                typical = statistics.median(self._ratios) if self._ratios else ratio
                if ratio < typical * 3 or len(self._ratios) < 3:  # a jump over closed hours is not a speed
                    self._ratios.append(ratio)
                    self.speed = max(1.0, statistics.median(self._ratios))
        self._anchor_clock, self._anchor_wall = reported, wall

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._keep_synced(), name="gateway-clock")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _keep_synced(self) -> None:
        while True:
            try:
                await self.sync()
            except (TimeoutError, ConnectionError) as error:
                log.warning("gateway_clock_sync_failed", error=str(error))
            await asyncio.sleep(self.interval)

    def now(self) -> dt.datetime:
        if self._anchor_clock is None:
            return dt.datetime.now(dt.UTC)
        # Between syncs the gateway second counter has 1 s resolution: extrapolate at the measured speed.
        current = self._anchor_clock + dt.timedelta(seconds=(time.monotonic() - self._anchor_wall) * self.speed)
        if self._last_returned is not None and current < self._last_returned:
            current = self._last_returned
        self._last_returned = current
        return current

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self.now() + dt.timedelta(seconds=max(0.0, seconds)))

    async def sleep_until(self, moment: dt.datetime) -> None:
        while True:
            remaining = (moment - self.now()).total_seconds()
            if remaining <= 0:
                return
            await asyncio.sleep(min(0.5, max(0.001, remaining / self.speed)))
