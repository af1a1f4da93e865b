"""The same connect-trade-reconnect flow with ib_insync 0.9.86 (protocol version 176), in its own venv.

ib_insync and ib_async both install a top-level ``eventkit`` module, so ib_insync must never be installed
into the project's environment: this test creates (once, then reuses) ``<repo>/.venv-ib-insync`` and runs
the client there as a subprocess.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.sim.gateway import GatewayServer
from tests.e2e.gateway.gateway_support import MONDAY, SPEED

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[3]
VENV = REPO / ".venv-ib-insync"
READY = VENV / ".alvh-ready-0.9.86"
CLIENT = Path(__file__).with_name("ib_insync_client.py")


def ib_insync_python() -> Path:
    """The interpreter of the cached ib_insync venv, created on first use."""
    python = VENV / "bin" / "python"
    if READY.exists() and python.exists():
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True, capture_output=True)
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", "ib_insync==0.9.86"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if install.returncode != 0:
        raise AssertionError(f"pip install ib_insync==0.9.86 failed:\n{install.stdout}\n{install.stderr}")
    READY.write_text("ib_insync==0.9.86\n")
    return python


async def test_ib_insync_connects_trades_and_reconnects() -> None:
    python = await asyncio.to_thread(ib_insync_python)
    server = GatewayServer(port=0, start=MONDAY, speed=SPEED)
    await server.start()
    try:
        process = await asyncio.create_subprocess_exec(
            str(python),
            str(CLIENT),
            str(server.port),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": ""},
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=90)
    finally:
        await server.stop()
    assert process.returncode == 0, stderr.decode()[-3000:]
    seen = json.loads(stdout.decode().strip().splitlines()[-1])
    assert seen["server_version"] == 176
    assert seen["accounts"] == ["DU1234567"]
    assert seen["positions"] == 8
    bid, ask, delta = seen["quote"]
    assert 0 < bid < ask and 0 < delta < 1
    assert seen["fill"][1] == "insync-buy" and seen["fill"][0] <= ask
    assert seen["dropped"] is True
    assert seen["open_orders"] == [[True, "insync-gtc", "Submitted"]]
    assert seen["vix_position"] == [1.0]
    assert seen["executions"] == ["insync-buy"]
    assert seen["cancelled"] is True
