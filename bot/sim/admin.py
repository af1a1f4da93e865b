"""The gateway's admin channel: switch faults and read status from a terminal or another process.

It shares the API port: a connection that starts with ``ALVH-ADMIN 1\\n`` instead of the TWS API's
``API\\0`` speaks JSON lines. Each request is ``{"command": NAME, "args": {...}}``; each answer is
``{"ok": true, "result": ...}`` or ``{"ok": false, "error": TEXT}``. Loopback only, like the gateway.

``alvh gateway admin --port P COMMAND [ARGS]`` is the command-line client.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog

from bot.sim.faults import FaultError

if TYPE_CHECKING:
    from bot.sim.gateway import GatewayServer

ADMIN_GREETING = b"ALVH-ADMIN 1\n"
log = structlog.get_logger(__name__)


class AdminError(RuntimeError):
    """The admin request failed (connection, protocol, or the gateway refused it)."""


def _optional_int(args: dict[str, Any], key: str) -> int | None:
    value = args.get(key)
    return None if value is None else int(value)


class AdminHandler:
    def __init__(self, server: GatewayServer) -> None:
        self.server = server
        faults = server.faults
        self.commands: dict[str, Callable[[dict[str, Any]], Any]] = {
            "status": lambda args: self.status(),
            "clock": lambda args: self.clock(),
            "drop": lambda args: {"dropped": faults.drop_connections(_optional_int(args, "client_id"))},
            "refuse": lambda args: faults.refuse_connections(float(args["seconds"])),
            "restart": lambda args: faults.restart(
                float(args.get("downtime", 1.0)), _optional_int(args, "next_valid_id")
            ),
            "outage": lambda args: faults.connectivity_lost(
                None if args.get("restore_after") is None else float(args["restore_after"]),
                bool(args.get("data_lost", False)),
            ),
            "restore": lambda args: faults.connectivity_restored(bool(args.get("data_lost", False))),
            "withhold": lambda args: faults.withhold_responses(str(args["request"]), _optional_int(args, "count")),
            "delay": lambda args: faults.delay_responses(
                str(args["request"]), float(args["seconds"]), _optional_int(args, "count")
            ),
            "release": lambda args: faults.release_responses(args.get("request")),
            "duplicate_executions": lambda args: faults.duplicate_executions(_optional_int(args, "count")),
            "lower_next_id": lambda args: faults.lower_next_valid_id(_optional_int(args, "value")),
            "reject_next_order": lambda args: faults.reject_next_order(
                int(args.get("code", 201)), str(args.get("reason", "Order rejected - reason:Simulated rejection"))
            ),
            "bad_quotes": lambda args: faults.bad_quotes(int(args["con_id"]), args.get("mode", "nan")),
            "competing_session": lambda args: faults.competing_session(bool(args.get("active", True))),
            "client_id_in_use": lambda args: faults.client_id_in_use(
                int(args["client_id"]), bool(args.get("active", True))
            ),
            "pacing": lambda args: faults.set_pacing_limit(_optional_int(args, "limit")),
            "lines": lambda args: faults.set_market_data_lines(int(args["limit"])),
            "delayed_only": lambda args: faults.delayed_data_only(bool(args.get("active", True))),
            "partial_fills": lambda args: faults.partial_fills(bool(args.get("active", True)), args.get("max_size")),
            "shock": lambda args: {
                "vix_before": faults.shock_vix(float(args["level"]), float(args.get("half_life_days", 5.0)))
            },
            "clear": lambda args: faults.clear(),
        }

    def clock(self) -> dict[str, Any]:
        clock = self.server.clock
        active_until = getattr(clock, "active_until", lambda: None)()
        now = clock.now()
        return {
            "now": now.isoformat(),
            "epoch": now.timestamp(),
            "speed": float(getattr(clock, "speed", 1.0)),
            "in_session": self.server.model.in_session(now),
            "active_until": active_until.isoformat() if active_until else None,
        }

    def status(self) -> dict[str, Any]:
        server = self.server
        now = server.clock.now()
        state = server.model.state(now)
        summary = server.exchange.account_summary(now)
        return {
            "port": server.port,
            "scenario": server.scenario.name,
            "seed": server.seed,
            "account": server.account_id,
            "clock": self.clock(),
            "vix": round(state.vix, 2),
            "spx": round(state.spx, 2),
            "clients": sorted(
                (
                    {"client_id": s.client_id, "version": s.version, "lines": len(s.subscriptions), "peer": s.peer}
                    for s in server.ready_sessions()
                ),
                key=lambda client: int(client["client_id"] or 0),
            ),
            "market_data_lines": server.market_data_lines_in_use(),
            "open_orders": len(server.exchange.book.active()),
            "positions": len(server.exchange.account.held()),
            "net_liquidation": round(summary["NetLiquidation"], 2),
            "faults": server.faults.status(),
        }

    def run(self, command: str, args: dict[str, Any]) -> Any:
        handler = self.commands.get(command)
        if handler is None:
            raise AdminError(f"unknown command {command!r}; one of: {', '.join(sorted(self.commands))}")
        return handler(args)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one admin connection (the 4-byte ``ALVH`` prefix is already read)."""
        try:
            rest = await asyncio.wait_for(reader.readline(), timeout=10)
            if rest.strip() != ADMIN_GREETING[4:].strip():
                writer.transport.abort()
                return
            writer.write(b'{"ok": true, "result": "alvh paper gateway admin"}\n')
            while True:
                line = await reader.readline()
                if not line:
                    break
                answer = self._answer(line)
                writer.write((json.dumps(answer, default=str) + "\n").encode())
                await writer.drain()
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.transport.abort()

    def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
            if not isinstance(request, dict) or not isinstance(request.get("command"), str):
                raise AdminError('a request is {"command": NAME, "args": {...}}')
            args = request.get("args") or {}
            if not isinstance(args, dict):
                raise AdminError("args must be an object")
            log.info("admin command", command=request["command"], args=args)
            result = self.run(request["command"], args)
            return {"ok": True, "result": result}
        except (AdminError, FaultError, KeyError, ValueError, TypeError) as error:
            text = f"missing argument {error}" if isinstance(error, KeyError) else str(error)
            return {"ok": False, "error": text}


async def admin_request(
    host: str, port: int, command: str, args: dict[str, Any] | None = None, timeout: float = 5.0
) -> Any:
    """Send one admin command to a running gateway; returns its result or raises AdminError."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError) as error:
        raise AdminError(f"cannot reach the gateway at {host}:{port}: {error}") from None
    try:
        writer.write(ADMIN_GREETING)
        greeting = await asyncio.wait_for(reader.readline(), timeout)
        if not greeting:
            raise AdminError(f"{host}:{port} closed the connection: not an alvh paper gateway?")
        writer.write((json.dumps({"command": command, "args": args or {}}) + "\n").encode())
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
        if not line:
            raise AdminError("the gateway closed the admin connection")
        answer = json.loads(line)
        if not answer.get("ok"):
            raise AdminError(str(answer.get("error")))
        return answer.get("result")
    except TimeoutError:
        raise AdminError(f"no answer from {host}:{port} within {timeout:g}s") from None
    finally:
        writer.close()
