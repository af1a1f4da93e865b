"""Talk to a running bot over its control socket (used by `alvh rebalance/status/halt/resume`)."""

from __future__ import annotations

import contextlib
import json
import socket
from pathlib import Path

from bot.control.protocol import SOCKET_NAME, ControlRequest, ControlResponse


class BotNotRunningError(Exception):
    pass


def socket_path(state_dir: Path) -> Path:
    return state_dir / SOCKET_NAME


def send(state_dir: Path, request: ControlRequest, timeout: float = 600.0) -> ControlResponse:
    path = socket_path(state_dir)
    if not path.exists():
        raise BotNotRunningError(f"no running bot: no control socket at {path}")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(timeout)
        try:
            connection.connect(str(path))
        except (ConnectionRefusedError, FileNotFoundError) as error:
            raise BotNotRunningError(f"no running bot answers at {path} ({error.strerror})") from None
        except PermissionError:
            raise BotNotRunningError(f"permission denied on {path}: the bot runs as another user") from None
        # The bot may have answered (a refusal) and closed already: then read what it said.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.sendall(request.model_dump_json().encode() + b"\n")
        buffer = b""
        while not buffer.endswith(b"\n"):
            chunk = connection.recv(65536)
            if not chunk:
                break
            buffer += chunk
    if not buffer:
        raise BotNotRunningError(f"the bot at {path} closed the connection without answering")
    return ControlResponse.model_validate(json.loads(buffer))
