"""Gateway helpers, the admin protocol and fault argument checks (no client library involved)."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.calendar import ExchangeCalendar
from bot.sim.admin import AdminError, admin_request
from bot.sim.faults import FaultError
from bot.sim.gateway import GatewayConfigError, GatewayServer, default_start, effective_data_type, require_loopback

NY = ZoneInfo("America/New_York")
MONDAY = dt.datetime(2025, 11, 24, 10, 30, tzinfo=NY)


def test_loopback_only() -> None:
    assert require_loopback("127.0.0.1") == "127.0.0.1"
    assert require_loopback("localhost") == "localhost"
    with pytest.raises(GatewayConfigError, match="loopback"):
        require_loopback("192.0.2.10")


def test_default_start_is_inside_a_session() -> None:
    calendar = ExchangeCalendar()
    assert default_start(calendar, MONDAY) == MONDAY
    saturday = dt.datetime(2025, 11, 22, 12, 0, tzinfo=NY)
    assert default_start(calendar, saturday) == dt.datetime(2025, 11, 24, 9, 35, tzinfo=NY)


def test_frozen_types_follow_the_session() -> None:
    assert [effective_data_type(t, True) for t in (1, 2, 3, 4)] == [1, 1, 3, 3]
    assert [effective_data_type(t, False) for t in (1, 2, 3, 4)] == [1, 2, 3, 4]


def test_state_file_guards(tmp_path: Path) -> None:
    state = tmp_path / "gw.json"
    server = GatewayServer(port=0, start=MONDAY, state_path=state)
    server.state_changed()
    assert state.exists()
    with pytest.raises(GatewayConfigError, match="does not run backwards"):
        GatewayServer(port=0, start=MONDAY - dt.timedelta(days=1), state_path=state)
    with pytest.raises(GatewayConfigError, match="scenario 'default' seed 1"):
        GatewayServer(port=0, scenario="empty", start=MONDAY, state_path=state)


async def test_admin_protocol_and_fault_arguments() -> None:
    server = GatewayServer(port=0, start=MONDAY)
    await server.start()
    try:
        status = await admin_request("127.0.0.1", server.port, "status")
        assert status["account"] == "DU1234567" and status["positions"] == 8
        clock = await admin_request("127.0.0.1", server.port, "clock")
        assert clock["in_session"] is True and clock["speed"] == 1.0
        await admin_request("127.0.0.1", server.port, "lines", {"limit": 5})
        assert server.faults.state.market_data_lines == 5
        with pytest.raises(AdminError, match="unknown command"):
            await admin_request("127.0.0.1", server.port, "explode")
        with pytest.raises(AdminError, match="missing argument"):
            await admin_request("127.0.0.1", server.port, "refuse")
        with pytest.raises(AdminError, match="mode must be one of"):
            await admin_request("127.0.0.1", server.port, "bad_quotes", {"con_id": 1, "mode": "purple"})
        await admin_request("127.0.0.1", server.port, "clear")
        assert server.faults.state.market_data_lines == 100
        with pytest.raises(FaultError):
            server.faults.refuse_connections(0)
        with pytest.raises(FaultError):
            server.faults.withhold_responses("reqNothing")
        with pytest.raises(FaultError):
            server.faults.shock_vix(1000)
        # Anything that is neither the TWS API nor the admin greeting is closed.
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET / HTTP/1.0\r\n\r\n")
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
    finally:
        await server.stop()
    with pytest.raises(AdminError, match="cannot reach"):
        await admin_request("127.0.0.1", server.port, "status", timeout=1)
