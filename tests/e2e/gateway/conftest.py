"""Fixtures: a real paper gateway on a free loopback port and the unmodified ib_async client over TCP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from ib_async import IB

from bot.sim.gateway import GatewayServer
from tests.e2e.gateway.gateway_support import MONDAY, SPEED, connect


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
