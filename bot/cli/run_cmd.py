"""`alvh run`: the unattended bot, against IB Gateway/TWS or (--sim) the embedded paper gateway."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.cli.common import (
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    CliError,
    add_config_argument,
    add_state_dir_argument,
    config_from_args,
)

DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> dt.timedelta:
    match = DURATION.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 30d, 12h, 90m or 2w")
    return dt.timedelta(seconds=float(match.group(1)) * UNITS[match.group(2)])


def parse_speed(text: str) -> float:
    try:
        speed = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"speed {text!r} is not a number") from None
    if not 0 < speed <= 100_000:
        raise argparse.ArgumentTypeError(f"speed {text} must be > 0 and <= 100000")
    return speed


def parse_start(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO date-time like 2026-11-23T09:35") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo("America/New_York"))


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the bot unattended",
        description="Run the bot: scheduled evaluations, at most the configured rebalances a week, manual "
        "requests over the control socket. --sim starts the embedded paper gateway and runs against it.",
    )
    add_config_argument(parser)
    add_state_dir_argument(parser)
    parser.add_argument("--sim", action="store_true", help="start the embedded paper gateway and run against it")
    parser.add_argument("--speed", type=parse_speed, default=None, help="with --sim: clock speed (e.g. 5000)")
    parser.add_argument("--scenario", default="default", help="with --sim: gateway scenario name or file")
    parser.add_argument("--seed", type=int, default=1, help="with --sim: market model seed")
    parser.add_argument("--start", type=parse_start, default=None, help="with --sim: start time (New York)")
    parser.add_argument(
        "--for", dest="duration", type=parse_duration, default=None, help="stop after this much clock time (e.g. 30d)"
    )
    parser.add_argument(
        "--clock",
        choices=("real", "gateway"),
        default="real",
        help="real time, or follow a separately started `alvh gateway` (its --start/--speed)",
    )
    parser.add_argument("--dry-run", action="store_true", help="plan and record, never send an order")
    parser.add_argument("--once", action="store_true", help="one evaluation, then exit (for cron)")
    parser.set_defaults(handler=_run)


def default_sim_start() -> dt.datetime:
    """The next Monday session (this one if it has not passed 09:45), five minutes after the open."""
    from bot.calendar import ExchangeCalendar

    calendar = ExchangeCalendar()
    zone = ZoneInfo("America/New_York")
    day = dt.datetime.now(zone).date()
    for _ in range(21):
        session = calendar.session_on(day)
        if (
            day.weekday() == 0
            and session is not None
            and session.open > dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        ):
            return session.open + dt.timedelta(minutes=5)
        day += dt.timedelta(days=1)
    return calendar.next_session(dt.datetime.now(dt.UTC)).open + dt.timedelta(minutes=5)


def _run(args: argparse.Namespace) -> int:
    if not args.sim and (args.speed is not None or args.start is not None):
        raise CliError(
            "--speed and --start need --sim (or start `alvh gateway` with them and use --clock gateway)", EXIT_USAGE
        )
    if args.sim and args.clock == "gateway":
        raise CliError("--sim brings its own clock; --clock gateway is for a separately started gateway", EXIT_USAGE)
    config = config_from_args(args)
    from bot.logs import configure_logging

    state_dir = Path(config.state.dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    configure_logging(config.logging.level, state_dir / config.logging.file)
    try:
        return asyncio.run(_main(args, config))
    except KeyboardInterrupt:
        return EXIT_OK


async def _main(args: argparse.Namespace, config: Any) -> int:
    from bot.broker.errors import AccountGuardError
    from bot.clock import Clock, RealClock, SimulatedClock
    from bot.engine.instance import AlreadyRunningError
    from bot.engine.service import BotService

    gateway = None
    clock: Clock
    if args.sim:
        from bot.sim.gateway import GatewayServer
        from bot.sim.state import load_state

        state_file = Path(config.state.dir) / "sim-gateway.json"
        saved = load_state(state_file)
        start = args.start or (saved.clock_time if saved else None) or default_sim_start()
        clock = SimulatedClock(start, speed=args.speed or 1.0)
        gateway = GatewayServer(scenario=args.scenario, seed=args.seed, clock=clock, state_path=state_file)
        await gateway.start()
        connection = config.connection.model_copy(update={"host": "127.0.0.1", "port": gateway.port})
        config = config.model_copy(update={"connection": connection})
        print(
            f"alvh: embedded paper gateway on 127.0.0.1:{gateway.port}, clock {clock.now().isoformat()} "
            f"x{clock.speed:g}, scenario {args.scenario}; state in {config.state.dir}"
        )
    elif args.clock == "gateway":
        from bot.broker.gateway_clock import GatewayClock

        clock = GatewayClock()
    else:
        clock = RealClock()
    service = BotService(config, clock, dry_run=args.dry_run)
    until = clock.now() + args.duration if args.duration else None
    try:
        await service.run(until=until, once=args.once)
    except AlreadyRunningError as error:
        raise CliError(str(error), EXIT_REFUSED) from None
    except AccountGuardError as error:
        raise CliError(f"refused: {error}", EXIT_REFUSED) from None
    finally:
        if gateway is not None:
            await gateway.stop()
    print(f"alvh: stopped at clock {clock.now().isoformat()} after {len(service.evaluations)} evaluations")
    return EXIT_OK
