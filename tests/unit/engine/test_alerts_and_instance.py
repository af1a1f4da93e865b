"""Webhook alerts against a local HTTP server; the single-instance lock and the heartbeat."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from bot.config import AlertsConfig
from bot.engine.alerts import Alert, Alerter
from bot.engine.instance import AlreadyRunningError, InstanceLock, read_heartbeat, write_heartbeat

NOW = dt.datetime(2026, 11, 23, 15, 30, tzinfo=dt.UTC)


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, object]], list[int]]]:
    received: list[dict[str, object]] = []
    statuses = [500]  # the first delivery fails: the alerter retries

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = statuses.pop(0) if statuses else 200
            if status == 200:
                received.append(json.loads(body))
            self.send_response(status)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received, statuses
    server.shutdown()


async def test_webhook_receives_alert_after_a_retry(webhook: tuple[str, list[dict[str, object]], list[int]]) -> None:
    url, received, _ = webhook
    alerter = Alerter(AlertsConfig(webhook_url=url))
    alerter.raise_alert(Alert("halt", "bot halted: reconciliation mismatch", NOW, {"slot": "mid-1"}))
    await alerter.drain()
    assert received == [
        {
            "source": "alvh",
            "kind": "halt",
            "message": "bot halted: reconciliation mismatch",
            "at": NOW.isoformat(),
            "details": {"slot": "mid-1"},
        }
    ]


async def test_dead_webhook_never_raises() -> None:
    alerter = Alerter(AlertsConfig(webhook_url="http://127.0.0.1:9/nothing", webhook_timeout_seconds=0.5))
    alerter.raise_alert(Alert("coverage", "coverage low", NOW))
    await asyncio.wait_for(alerter.drain(), timeout=20)
    assert alerter.sent[0].kind == "coverage"


def test_second_instance_is_refused(tmp_path: Path) -> None:
    with InstanceLock(tmp_path), pytest.raises(AlreadyRunningError, match="already runs"):
        InstanceLock(tmp_path).acquire()
    with InstanceLock(tmp_path):  # released: a new run may start
        pass


def test_heartbeat_round_trip(tmp_path: Path) -> None:
    assert read_heartbeat(tmp_path) is None
    write_heartbeat(tmp_path, NOW, {"connected": True})
    beat = read_heartbeat(tmp_path)
    assert beat is not None and beat["connected"] is True and beat["clock_time"] == NOW.isoformat()
