"""The real bot against the real embedded gateway, over TCP, on one accelerated clock — for e2e tests.

``running_bot`` starts a ``GatewayServer`` and a ``BotService`` in the test's event loop, sharing one
``SimulatedClock`` (as ``alvh run --sim`` does); the bot talks to the gateway through ib_async over a
loopback socket. ``BotProcess`` runs the bot as a separate ``alvh run --clock gateway`` process for the
tests that kill it. Helpers read what happened from the journal, the store and the gateway's order book.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.cli.main import main as alvh
from bot.clock import SimulatedClock
from bot.config import BotConfig, parse_config
from bot.control.client import send
from bot.control.protocol import ControlRequest, ControlResponse
from bot.engine.service import BotService
from bot.journal import journal_dir
from bot.journal.reader import JournalReader
from bot.sim.gateway import GatewayServer
from tests.support.waiting import wait_until

NY = ZoneInfo("America/New_York")
REPO = Path(__file__).resolve().parents[2]
# A Monday in a plain week; the gateway opens shortly before the 10:00 evaluation.
MONDAY = dt.datetime(2027, 1, 4, 9, 40, tzinfo=NY)

FAST_EXECUTION = {"walk_seconds": 60.0, "walk_steps": 3, "ack_timeout_seconds": 10.0}


@contextlib.contextmanager
def short_tmp_dir() -> Iterator[Path]:
    """Unix socket paths are limited to ~107 bytes; pytest's tmp_path can be longer."""
    with tempfile.TemporaryDirectory(prefix="alvh-") as directory:
        yield Path(directory)


def bot_config(port: int, state_dir: Path, **sections: dict[str, Any]) -> BotConfig:
    data: dict[str, Any] = {
        "connection": {"host": "127.0.0.1", "port": port, "client_id": 17, "request_timeout_seconds": 10.0},
        "state": {"dir": str(state_dir)},
        "execution": dict(FAST_EXECUTION),
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return parse_config(data, "test")


@dataclass
class Harness:
    clock: SimulatedClock
    gateway: GatewayServer
    service: BotService
    config: BotConfig
    state_dir: Path

    async def until(self, moment: dt.datetime) -> None:
        await self.clock.sleep_until(moment)

    async def fast_forward(self, moment: dt.datetime, speed: float = 20_000.0) -> None:
        """Skip idle clock time quickly, then return to the test's speed."""
        normal = self.clock.speed
        self.clock.set_speed(speed)
        try:
            await self.clock.sleep_until(moment)
        finally:
            self.clock.set_speed(normal)

    async def wait_for(self, predicate: Callable[[], object], wall_timeout: float = 60.0) -> None:
        """``wait_until`` with a default of 60 wall seconds; a timeout also names the simulated clock time."""
        try:
            await wait_until(predicate, wall_timeout)
        except AssertionError as error:
            raise AssertionError(f"{error} (clock {self.clock.now()})") from None

    async def control(self, request: ControlRequest) -> ControlResponse:
        return await asyncio.to_thread(send, self.state_dir, request, 300.0)

    def records(self, kind: str | None = None) -> list[Any]:
        return journal_records(self.state_dir, kind)

    def orders_per_intent(self) -> Counter[str]:
        return gateway_orders_per_ref(self.gateway)


def journal_records(state_dir: Path, kind: str | None = None) -> list[Any]:
    from bot.journal.index import Query

    with JournalReader.open(journal_dir(state_dir)) as reader:
        return [loaded.record for loaded in reader.records(Query(kinds=[kind] if kind else ()))]


def gateway_orders_per_ref(gateway: GatewayServer) -> Counter[str]:
    """How many distinct orders (perm ids) the gateway holds for each of the bot's orderRefs."""
    counts: Counter[str] = Counter()
    for order in gateway.exchange.book.orders.values():
        if order.order_ref.startswith("alvh-"):
            counts[order.order_ref] += 1
    return counts


def audit(*args: str) -> int:
    return alvh(["audit", *args])


@contextlib.asynccontextmanager
async def running_bot(
    state_dir: Path,
    *,
    scenario: str = "default",
    start: dt.datetime = MONDAY,
    speed: float = 300.0,
    seed: int = 1,
    **sections: dict[str, Any],
) -> AsyncIterator[Harness]:
    clock = SimulatedClock(start, speed=speed)
    gateway = GatewayServer(scenario=scenario, seed=seed, clock=clock, state_path=state_dir / "gateway.json")
    await gateway.start()
    config = bot_config(gateway.port, state_dir / "state", **sections)
    service = BotService(config, clock)
    task = asyncio.create_task(service.run(), name="bot")
    try:
        started = asyncio.ensure_future(service.started.wait())
        await asyncio.wait({started, task}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()  # startup failed: raise its error
        yield Harness(clock, gateway, service, config, Path(config.state.dir))
    finally:
        service.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=60)
        await gateway.stop()


class BotProcess:
    """``alvh run --clock gateway`` as a child process, so a test can SIGKILL it mid-flight."""

    def __init__(self, state_dir: Path, port: int, env: dict[str, str] | None = None) -> None:
        self.state_dir = state_dir
        self.config_path = state_dir.parent / "bot.toml"
        self.config_path.write_text(
            "[connection]\n"
            f"port = {port}\nclient_id = 17\n"
            "[execution]\n"
            f"walk_seconds = {FAST_EXECUTION['walk_seconds']}\nwalk_steps = {FAST_EXECUTION['walk_steps']}\n"
            f'[state]\ndir = "{state_dir}"\n'
        )
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "bot.cli.main", "run", "--clock", "gateway", "--config", str(self.config_path)]
        log = (self.state_dir.parent / "bot-process.log").open("ab")
        self.process = subprocess.Popen(command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def terminate(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        return self.process.returncode

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        path = self.state_dir.parent / "bot-process.log"
        return path.read_text(errors="replace") if path.exists() else ""
