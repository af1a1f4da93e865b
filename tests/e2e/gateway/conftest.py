"""Fixtures: a real paper gateway on a free loopback port and the unmodified ib_async client over TCP."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from ib_async import IB

from bot.sim.gateway import GatewayServer

NY = ZoneInfo("America/New_York")
MONDAY = dt.datetime(2025, 11, 24, 10, 30, tzinfo=NY)
SPEED = 60.0  # one clock minute per wall second


async def wait_until(predicate: Callable[[], object], timeout: float = 5.0, interval: float = 0.02) -> None:
    """Poll until ``predicate()`` is truthy; fail the test with a clear message after ``timeout``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


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


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[GatewayServer]:
    server = GatewayServer(
        port=0, scenario="default", seed=1, start=MONDAY, speed=SPEED, state_path=tmp_path / "gateway.json"
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def ib(gateway: GatewayServer) -> AsyncIterator[IB]:
    client = await connect(gateway.port)
    try:
        yield client
    finally:
        client.disconnect()
