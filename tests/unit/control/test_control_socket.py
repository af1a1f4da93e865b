"""The control socket: answers its owner, refuses malformed requests and other users, clearly."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from bot.control.client import BotNotRunningError, send
from bot.control.protocol import ControlRequest, ControlResponse
from bot.control.server import ControlServer, Peer


async def _echo(request: ControlRequest, peer: Peer) -> ControlResponse:
    return ControlResponse(
        ok=True,
        exit_code=0,
        message=f"{request.command} by {peer.user}",
        data={"force": request.force, "reason": request.reason},
    )


async def _raw(path: Path, payload: bytes) -> dict[str, object]:
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(payload)
    await writer.drain()
    line = await reader.readline()
    writer.close()
    return json.loads(line)  # type: ignore[no-any-return]


@pytest.fixture
def short_tmp() -> Path:
    # Unix socket paths are limited to ~107 bytes; pytest's tmp_path can be longer.
    import tempfile

    with tempfile.TemporaryDirectory(prefix="alvh-") as directory:
        yield Path(directory)


async def test_owner_gets_answers_and_socket_is_private(short_tmp: Path) -> None:
    server = ControlServer(short_tmp / "control.sock", _echo)
    await server.start()
    try:
        assert stat.S_IMODE(server.path.stat().st_mode) == 0o600
        request = ControlRequest(command="rebalance", force=True, reason="spike coming")
        response = await asyncio.to_thread(send, short_tmp, request, 5.0)
        assert response.ok and response.message.startswith("rebalance by ")
        assert response.data == {"force": True, "reason": "spike coming"}
    finally:
        await server.stop()
    assert not server.path.exists()


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b"not json\n", "not JSON"),
        (b'{"command": "explode"}\n', "command"),
        (b'{"command": "rebalance", "force": true}\n', "needs a reason"),
        (b'{"command": "halt"}\n', "halt needs a reason"),
        (b'{"command": "status", "extra": 1}\n', "extra"),
    ],
)
async def test_malformed_requests_get_a_clear_answer(short_tmp: Path, payload: bytes, fragment: str) -> None:
    server = ControlServer(short_tmp / "control.sock", _echo)
    await server.start()
    try:
        answer = await _raw(server.path, payload)
        assert answer["ok"] is False and answer["exit_code"] == 2
        assert fragment in str(answer["message"])
    finally:
        await server.stop()


def _python_for_nobody() -> str | None:
    """A Python the user nobody may run (the project's venv may sit in root's home)."""
    import shutil

    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3", shutil.which("python3")):
        if candidate and Path(candidate).exists():
            probe = subprocess.run([candidate, "-c", "pass"], user=65534, capture_output=True, check=False)
            if probe.returncode == 0:
                return candidate
    return None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as another user")
async def test_other_users_are_refused(short_tmp: Path) -> None:
    python = _python_for_nobody()
    if python is None:
        pytest.skip("no Python executable by the user nobody on this machine")
    server = ControlServer(short_tmp / "control.sock", _echo)
    await server.start()
    short_tmp.chmod(0o755)
    try:
        script = (
            "import socket,sys\n"
            "s=socket.socket(socket.AF_UNIX)\n"
            "try:\n s.connect(sys.argv[1])\nexcept PermissionError:\n print('EACCES'); sys.exit(0)\n"
            's.sendall(b\'{"command":"status"}\\n\'); print(s.recv(4096).decode())\n'
        )
        result = await asyncio.to_thread(
            subprocess.run,
            [python, "-c", script, str(server.path)],
            capture_output=True,
            text=True,
            timeout=20,
            user=65534,  # nobody
        )
        assert "EACCES" in result.stdout, result.stdout + result.stderr
        # Even with the file opened up, the peer check refuses a foreign user.
        server.path.chmod(0o666)
        result = await asyncio.to_thread(
            subprocess.run,
            [python, "-c", script, str(server.path)],
            capture_output=True,
            text=True,
            timeout=20,
            user=65534,
        )
        assert "does not own this bot" in result.stdout, result.stdout + result.stderr
    finally:
        await server.stop()


def test_client_reports_a_missing_bot(short_tmp: Path) -> None:
    with pytest.raises(BotNotRunningError, match="no control socket"):
        send(short_tmp, ControlRequest(command="status"))
    stale = short_tmp / "control.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(stale))  # a socket file nobody listens on
    with pytest.raises(BotNotRunningError, match="no running bot answers"):
        send(short_tmp, ControlRequest(command="status"))
