"""The running bot's control socket: a Unix socket in the state directory, mode 0600.

Only the bot's own OS user may talk to it: the file mode keeps others from connecting and the peer's
credentials (SO_PEERCRED) are checked again on every connection. Each request is one JSON line; the
peer's user name goes into the request's record so manual actions are attributed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import socket
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import structlog
from pydantic import ValidationError

from bot.control.protocol import MAX_REQUEST_BYTES, ControlRequest, ControlResponse

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Peer:
    pid: int
    uid: int
    user: str


Handler = Callable[[ControlRequest, Peer], Awaitable[ControlResponse]]


def peer_of(writer: asyncio.StreamWriter) -> Peer:
    sock = writer.get_extra_info("socket")
    if sock is None or not hasattr(socket, "SO_PEERCRED"):
        raise PermissionError("cannot read the peer's credentials on this system")
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, _ = struct.unpack("3i", raw)
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = f"uid {uid}"
    return Peer(pid=pid, uid=uid, user=user)


class ControlServer:
    def __init__(self, path: Path, handler: Handler) -> None:
        self.path = path
        self._handler = handler
        self._server: asyncio.AbstractServer | None = None
        self._owner_uid = os.geteuid()

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # a stale socket of a crashed run; the instance lock guards a live one
        previous = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(self._serve, path=str(self.path), limit=MAX_REQUEST_BYTES)
        finally:
            os.umask(previous)
        self.path.chmod(0o600)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            response = await self._answer(reader, writer)
            writer.write(response.model_dump_json().encode() + b"\n")
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError) as error:
            log.warning("control_connection_lost", error=str(error))
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> ControlResponse:
        # Read the request first (bounded) so that even a refusal reaches a client that is still sending.
        try:
            line = await asyncio.wait_for(reader.readline(), timeout=10.0)
        except (ValueError, asyncio.LimitOverrunError):
            return ControlResponse(ok=False, exit_code=2, message=f"request longer than {MAX_REQUEST_BYTES} bytes")
        except TimeoutError:
            return ControlResponse(ok=False, exit_code=2, message="no request received within 10 s")
        try:
            peer = peer_of(writer)
        except (OSError, PermissionError) as error:
            return ControlResponse(ok=False, exit_code=1, message=f"refused: {error}")
        if peer.uid != self._owner_uid:
            log.warning("control_refused_user", peer_user=peer.user, peer_uid=peer.uid)
            return ControlResponse(ok=False, exit_code=1, message=f"refused: user {peer.user} does not own this bot")
        try:
            request = ControlRequest.model_validate(json.loads(line))
        except json.JSONDecodeError as error:
            return ControlResponse(ok=False, exit_code=2, message=f"malformed request: not JSON ({error.msg})")
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'request'}: {str(e['msg']).removeprefix('Value error, ')}"
                for e in error.errors(include_url=False)
            )
            return ControlResponse(ok=False, exit_code=2, message=f"malformed request: {problems}")
        try:
            return await self._handler(request, peer)
        except Exception as error:  # the bot keeps running; the operator gets the reason
            log.exception("control_handler_failed", command=request.command)
            return ControlResponse(ok=False, exit_code=1, message=f"{request.command} failed: {error}")
