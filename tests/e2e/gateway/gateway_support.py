"""Helpers for the gateway end-to-end tests: waiting, error capture, connecting, picking VIX calls."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from ib_async import IB, Option

from tests.support import waiting

NY = ZoneInfo("America/New_York")
MONDAY = dt.datetime(2025, 11, 24, 10, 30, tzinfo=NY)
SPEED = 60.0  # one clock minute per wall second


async def wait_until(predicate: Callable[[], object], timeout: float = 5.0, what: str = "condition") -> None:
    """The shared wait, with the gateway tests' default of 5 wall seconds."""
    await waiting.wait_until(predicate, timeout, what)


class ErrorLog:
    """Every error/warning the client sees: (reqId, code, message)."""

    def __init__(self, ib: IB) -> None:
        self.entries: list[tuple[int, int, str]] = []
        ib.errorEvent += self._on_error

    def _on_error(self, req_id: int, code: int, message: str, contract: object) -> None:
        self.entries.append((req_id, code, message))

    def codes(self) -> list[int]:
        return [code for _, code, _ in self.entries]


async def connect(port: int, client_id: int = 1, timeout: float = 10.0) -> IB:
    ib = IB()
    await ib.connectAsync("127.0.0.1", port, clientId=client_id, timeout=timeout)
    return ib


async def vix_call(ib: IB, index: int = 1, strike: float = 20.0) -> Option:
    """A qualified monthly VIX call: the ``index``-th listed monthly expiry, ``strike``."""
    chains = await ib.reqSecDefOptParamsAsync("VIX", "", "IND", 13455763)
    monthly = next(c for c in chains if c.tradingClass == "VIX" and c.exchange == "SMART")
    option = Option("VIX", sorted(monthly.expirations)[index], strike, "C", "SMART", tradingClass="VIX")
    await ib.qualifyContractsAsync(option)
    assert option.conId
    return option


async def quote(ib: IB, contract: Option) -> tuple[float, float]:
    """A snapshot's bid and ask (both present)."""
    [ticker] = await ib.reqTickersAsync(contract)
    assert ticker.bid > 0 and ticker.ask > ticker.bid
    return ticker.bid, ticker.ask
