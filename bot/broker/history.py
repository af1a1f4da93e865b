"""Daily history for the signals: SPX closes (RSI) and VX1 settlements (MACD), cached per trading day.

VX1 is the continuous front-month VIX future (IB's CONTFUT), i.e. each day's settlement of the monthly
contract that was first to expire on that day, as the strategy's MACD expects. Requests are few (two a
day) and cached, far inside IB's 60-per-10-minutes historical pacing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math

import structlog
from ib_async import IB, ContFuture, Contract

from bot.broker.errors import BrokerError
from strategies.alvh.models import DailyClose

log = structlog.get_logger(__name__)


class DailyHistory:
    def __init__(self, ib: IB, timeout: float) -> None:
        self.ib = ib
        self.timeout = timeout
        self._cache: dict[tuple[str, dt.date], list[DailyClose]] = {}
        self.requests = 0

    async def closes(self, contract: Contract, name: str, today: dt.date, duration: str = "9 M") -> list[DailyClose]:
        """Daily closes before ``today`` (today's bar is not final until the close)."""
        key = (name, today)
        if key in self._cache:
            return self._cache[key]
        what = "TRADES"
        try:
            self.requests += 1
            bars = await asyncio.wait_for(
                self.ib.reqHistoricalDataAsync(
                    contract,
                    endDateTime="",
                    durationStr=duration,
                    barSizeSetting="1 day",
                    whatToShow=what,
                    useRTH=True,
                    formatDate=1,
                ),
                timeout=self.timeout * 3,
            )
        except TimeoutError:
            raise BrokerError(f"daily history of {name} timed out") from None
        if not bars:
            raise BrokerError(f"the gateway returned no daily history for {name}")
        closes = []
        for bar in bars:
            day = bar.date if isinstance(bar.date, dt.date) and not isinstance(bar.date, dt.datetime) else None
            if isinstance(bar.date, dt.datetime):
                day = bar.date.date()
            if day is None or day >= today or not math.isfinite(bar.close) or bar.close <= 0:
                continue
            closes.append(DailyClose(date=day, close=float(bar.close)))
        closes.sort(key=lambda row: row.date)
        deduplicated = {row.date: row for row in closes}
        result = list(deduplicated.values())
        self._cache = {k: v for k, v in self._cache.items() if k[1] == today}
        self._cache[key] = result
        return result

    @staticmethod
    def vx1_contract() -> Contract:
        return ContFuture(symbol="VIX", exchange="CFE", currency="USD")
