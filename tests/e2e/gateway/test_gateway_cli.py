"""`alvh gateway` as users run it: the README's demo script, the admin command, a restart with --state."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[3]
ALVH = Path(sys.executable).with_name("alvh")


def start_gateway(state: Path, start: str | None = "2025-11-24T10:30") -> tuple[subprocess.Popen[str], int]:
    command = [str(ALVH), "gateway", "--port", "0", "--seed", "1", "--speed", "30", "--state", str(state)]
    command += ["--log-level", "WARNING"] + (["--start", start] if start else [])
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"on 127\.0\.0\.1:(\d+)", line)
    if not match:
        process.kill()
        raise AssertionError(
            f"no listening line from alvh gateway: {line!r} {process.stderr.read() if process.stderr else ''}"
        )
    return process, int(match.group(1))


def stop_gateway(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()


def admin(port: int, *command: str) -> dict[str, object]:
    result = subprocess.run(
        [str(ALVH), "gateway", "admin", "--port", str(port), "--json", *command],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert isinstance(document, dict)
    return document


def test_demo_script_admin_and_restart_with_state(tmp_path: Path) -> None:
    state = tmp_path / "gateway.json"
    process, port = start_gateway(state)
    try:
        demo = subprocess.run(
            [sys.executable, str(REPO / "scripts" / "gateway_demo.py"), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert "account DU1234567" in demo.stdout
        assert demo.stdout.count("SPXW") == 8  # the scenario's two iron condors
        assert re.search(r"qualified VIX {3}\d{6}C\d{8}", demo.stdout)
        assert "Filled, filled 1" in demo.stdout and "commission 1.05 USD" in demo.stdout
        status = admin(port, "status")["result"]
        assert isinstance(status, dict) and status["positions"] == 9
        assert admin(port, "duplicate-executions", "--count", "1")["command"] == "duplicate_executions"
        assert admin(port, "status")["result"]["faults"]["duplicate_executions"] == 1  # type: ignore[index]
        refused = subprocess.run(
            [str(ALVH), "gateway", "admin", "--port", str(port), "withhold", "nonsense"], capture_output=True, text=True
        )
        assert refused.returncode == 1 and "unknown request type" in refused.stderr
    finally:
        stop_gateway(process)

    saved = json.loads(state.read_text())
    assert [e["order_ref"] for e in saved["executions"]] == ["gateway-demo"]
    process, port = start_gateway(state, start=None)  # resumes at the saved clock time
    try:
        status = admin(port, "status")["result"]
        assert isinstance(status, dict) and status["positions"] == 9
        assert status["clock"]["now"] >= saved["clock_time"]  # type: ignore[index]
    finally:
        stop_gateway(process)
    # Starting the clock before the saved time is refused: the paper account's history would be wrong.
    refused = subprocess.run(
        [str(ALVH), "gateway", "--port", "0", "--state", str(state), "--start", "2025-11-20T10:00"],
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2 and "does not run backwards" in refused.stderr


def test_gateway_refuses_a_non_loopback_host() -> None:
    result = subprocess.run(
        [str(ALVH), "gateway", "--host", "192.0.2.1", "--port", "0"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "not a loopback address" in result.stderr
