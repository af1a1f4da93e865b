"""`alvh gateway`: run the embedded paper gateway; `alvh gateway admin`: switch its faults from a terminal."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from bot.cli.common import EXIT_OK, EXIT_USAGE, CliError, print_json

DEFAULT_PORT = 4002


def _start_time(text: str) -> dt.datetime:
    """ISO date-time; without a zone it is New York time (``2025-11-24 10:30``)."""
    from zoneinfo import ZoneInfo

    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("T", " "))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date-time like 2025-11-24T10:30 or 2025-11-24 10:30-05:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("America/New_York"))
    return moment


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return value


def _on_off(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("on", "true", "1", "yes"):
        return True
    if lowered in ("off", "false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r}: use on or off")


def _int_or_off(text: str) -> int | None:
    if text.lower() == "off":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: a whole number or off") from None


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "gateway",
        help="run the embedded paper gateway (a TWS API server for ib_async clients)",
        description=(
            "Run the embedded paper gateway: a TWS API socket server on loopback that ib_async and ib_insync "
            "connect to like IB Gateway, with a simulated market and a DU paper account. "
            "`alvh gateway admin --port P COMMAND` switches its faults."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"API port (default {DEFAULT_PORT}; 0 = any free)"
    )
    parser.add_argument(
        "--scenario", default="default", metavar="NAME|FILE", help="default, spike, empty, replay or a .toml/.json file"
    )
    parser.add_argument(
        "--speed", type=_positive_float, default=1.0, help="clock seconds per wall second while the market is open"
    )
    parser.add_argument("--seed", type=int, default=1, help="market seed (same seed, same market)")
    parser.add_argument(
        "--state", type=Path, default=None, metavar="FILE", help="persist orders, positions and clock here"
    )
    parser.add_argument(
        "--start",
        type=_start_time,
        default=None,
        metavar="DATETIME",
        help="clock start, e.g. 2025-11-24T10:30 (New York)",
    )
    parser.add_argument("--account", default=None, metavar="DU...", help="paper account id (default DU1234567)")
    parser.add_argument(
        "--history", type=Path, default=None, metavar="DIR", help="history directory for --scenario replay"
    )
    restart = parser.add_mutually_exclusive_group()
    restart.add_argument(
        "--daily-restart",
        dest="daily_restart",
        action="store_true",
        default=None,
        help="drop clients when time crosses 00:15-01:45 New York (default with the simulated clock)",
    )
    restart.add_argument("--no-daily-restart", dest="daily_restart", action="store_false")
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    parser.add_argument("--log-file", type=Path, default=None, metavar="FILE", help="also write JSON-lines logs here")
    parser.set_defaults(handler=_run)

    actions = parser.add_subparsers(dest="gateway_action", metavar="admin", required=False)
    admin = actions.add_parser("admin", help="send a command to a running gateway (faults, status)")
    admin.add_argument("--host", default="127.0.0.1")
    admin.add_argument("--port", type=int, default=DEFAULT_PORT, help="the gateway's API port")
    admin.add_argument("--json", action="store_true", help="print the answer as JSON")
    admin.set_defaults(handler=_admin)
    commands = admin.add_subparsers(dest="admin_command", required=True, metavar="COMMAND")
    commands.add_parser("status", help="clock, clients, lines, orders, faults")
    commands.add_parser("clock", help="the gateway's clock: time, speed, session")
    drop = commands.add_parser("drop", help="drop client connections")
    drop.add_argument("--client-id", type=int, default=None)
    refuse = commands.add_parser("refuse", help="refuse new connections for SECONDS")
    refuse.add_argument("seconds", type=_positive_float)
    restart_cmd = commands.add_parser("restart", help="act out a gateway restart: drop everyone, refuse for a while")
    restart_cmd.add_argument("--downtime", type=_positive_float, default=1.0)
    restart_cmd.add_argument(
        "--next-valid-id", type=int, default=None, help="announce this (lower) next valid id afterwards"
    )
    outage = commands.add_parser("outage", help="error 1100 (connectivity to IB lost)")
    outage.add_argument("--restore-after", type=_positive_float, default=None, help="then 1101/1102 after SECONDS")
    outage.add_argument("--data-lost", action="store_true", help="restore with 1101 (market data lost) instead of 1102")
    restore = commands.add_parser("restore", help="end an outage: 1102, or 1101 with --data-lost")
    restore.add_argument("--data-lost", action="store_true")
    withhold = commands.add_parser("withhold", help="never answer a request type (e.g. placeOrder, reqExecutions)")
    withhold.add_argument("request")
    withhold.add_argument("--count", type=int, default=None)
    delay = commands.add_parser("delay", help="answer a request type SECONDS late")
    delay.add_argument("request")
    delay.add_argument("seconds", type=float)
    delay.add_argument("--count", type=int, default=None)
    release = commands.add_parser("release", help="stop withholding/delaying (one request type or all)")
    release.add_argument("request", nargs="?", default=None)
    duplicate = commands.add_parser("duplicate-executions", help="send execution reports twice")
    duplicate.add_argument("--count", type=int, default=None, help="only the next N (default: until --off)")
    duplicate.add_argument("--off", action="store_true")
    lower = commands.add_parser("lower-next-id", help="announce VALUE as next valid id to new connections (or off)")
    lower.add_argument("value", type=_int_or_off)
    reject = commands.add_parser("reject-next-order", help="reject the next placeOrder")
    reject.add_argument("--code", type=int, default=201)
    reject.add_argument("--reason", default="Order rejected - reason:Simulated rejection")
    quotes = commands.add_parser(
        "bad-quotes", help="spoil one contract's quotes: nan, absent, crossed, stale, zero, off"
    )
    quotes.add_argument("con_id", type=int)
    quotes.add_argument("mode", choices=("nan", "absent", "crossed", "stale", "zero", "off"))
    competing = commands.add_parser("competing-session", help="error 10197 and no market data (on/off)")
    competing.add_argument("state", type=_on_off)
    in_use = commands.add_parser("client-id-in-use", help="error 326 for connections with CLIENT_ID")
    in_use.add_argument("client_id", type=int)
    in_use.add_argument("--off", action="store_true")
    pacing = commands.add_parser("pacing", help="messages per second before error 100 (or off)")
    pacing.add_argument("limit", type=_int_or_off)
    lines = commands.add_parser("lines", help="market data lines before error 101")
    lines.add_argument("limit", type=int)
    delayed = commands.add_parser("delayed-only", help="no live data entitlement: 10167 and delayed ticks (on/off)")
    delayed.add_argument("state", type=_on_off)
    partial = commands.add_parser("partial-fills", help="fill at most the displayed size per pass (on/off)")
    partial.add_argument("state", type=_on_off)
    shock = commands.add_parser("shock", help="move VIX to LEVEL now (it decays back)")
    shock.add_argument("level", type=float)
    shock.add_argument("--half-life", type=_positive_float, default=5.0, help="days")
    commands.add_parser("clear", help="switch every fault off")


def _run(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from bot.logs import configure_logging
    from bot.sim.gateway import GatewayConfigError, GatewayServer
    from bot.sim.history import HistoryError
    from bot.sim.scenarios import ScenarioError
    from bot.sim.state import StateError

    if args.port < 0 or args.port > 65535:
        raise CliError(f"--port {args.port} is not a port number", EXIT_USAGE)
    configure_logging(args.log_level, file=args.log_file)
    try:
        server = GatewayServer(
            host=args.host,
            port=args.port,
            scenario=args.scenario,
            seed=args.seed,
            speed=args.speed,
            start=args.start,
            state_path=args.state,
            account=args.account,
            history_dir=args.history,
            daily_restart=args.daily_restart,
        )
    except (GatewayConfigError, ScenarioError, StateError, HistoryError) as error:
        raise CliError(str(error), EXIT_USAGE) from None

    async def serve() -> None:
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signal_number, stopped.set)
        try:
            await server.start()
        except OSError as error:
            raise CliError(f"cannot listen on {args.host}:{args.port}: {error.strerror or error}") from None
        clock = server.clock.now().astimezone(dt.timezone(dt.timedelta(hours=0)))
        print(
            f"alvh paper gateway on {server.host}:{server.port} — scenario {server.scenario.name}, seed {server.seed}, "
            f"account {server.account_id}, clock {clock:%Y-%m-%d %H:%M:%S} UTC, speed {server.speed:g}x "
            f"(Ctrl-C to stop; `alvh gateway admin --port {server.port} status`)",
            flush=True,
        )
        try:
            await stopped.wait()
        finally:
            await server.stop()

    asyncio.run(serve())
    return EXIT_OK


def _admin_arguments(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    command = args.admin_command
    simple = {"status", "clock", "clear"}
    if command in simple:
        return command, {}
    mapping: dict[str, tuple[str, dict[str, Any]]] = {
        "drop": ("drop", {"client_id": getattr(args, "client_id", None)}),
        "refuse": ("refuse", {"seconds": getattr(args, "seconds", None)}),
        "restart": (
            "restart",
            {"downtime": getattr(args, "downtime", None), "next_valid_id": getattr(args, "next_valid_id", None)},
        ),
        "outage": (
            "outage",
            {"restore_after": getattr(args, "restore_after", None), "data_lost": getattr(args, "data_lost", False)},
        ),
        "restore": ("restore", {"data_lost": getattr(args, "data_lost", False)}),
        "withhold": ("withhold", {"request": getattr(args, "request", None), "count": getattr(args, "count", None)}),
        "delay": (
            "delay",
            {
                "request": getattr(args, "request", None),
                "seconds": getattr(args, "seconds", None),
                "count": getattr(args, "count", None),
            },
        ),
        "release": ("release", {"request": getattr(args, "request", None)}),
        "duplicate-executions": (
            "duplicate_executions",
            {"count": 0 if getattr(args, "off", False) else getattr(args, "count", None)},
        ),
        "lower-next-id": ("lower_next_id", {"value": getattr(args, "value", None)}),
        "reject-next-order": (
            "reject_next_order",
            {"code": getattr(args, "code", 201), "reason": getattr(args, "reason", "")},
        ),
        "bad-quotes": (
            "bad_quotes",
            {
                "con_id": getattr(args, "con_id", 0),
                "mode": None if getattr(args, "mode", None) == "off" else getattr(args, "mode", None),
            },
        ),
        "competing-session": ("competing_session", {"active": getattr(args, "state", True)}),
        "client-id-in-use": (
            "client_id_in_use",
            {"client_id": getattr(args, "client_id", 0), "active": not getattr(args, "off", False)},
        ),
        "pacing": ("pacing", {"limit": getattr(args, "limit", None)}),
        "lines": ("lines", {"limit": getattr(args, "limit", 100)}),
        "delayed-only": ("delayed_only", {"active": getattr(args, "state", True)}),
        "partial-fills": ("partial_fills", {"active": getattr(args, "state", True)}),
        "shock": ("shock", {"level": getattr(args, "level", 0.0), "half_life_days": getattr(args, "half_life", 5.0)}),
    }
    name, arguments = mapping[command]
    return name, arguments


def _admin(args: argparse.Namespace) -> int:
    import asyncio

    from bot.sim.admin import AdminError, admin_request
    from bot.sim.gateway import GatewayConfigError, require_loopback

    try:
        require_loopback(args.host)
    except GatewayConfigError as error:
        raise CliError(str(error), EXIT_USAGE) from None
    command, arguments = _admin_arguments(args)
    try:
        result = asyncio.run(admin_request(args.host, args.port, command, arguments))
    except AdminError as error:
        raise CliError(str(error)) from None
    if args.json:
        print_json({"command": command, "result": result})
    elif isinstance(result, dict):
        _print_mapping(result)
    else:
        print(f"{args.admin_command}: ok")
    return EXIT_OK


def _print_mapping(values: dict[str, Any], indent: str = "") -> None:
    for key, value in values.items():
        if isinstance(value, dict):
            print(f"{indent}{key}:")
            _print_mapping(value, indent + "  ")
        else:
            print(f"{indent}{key}: {value}")
