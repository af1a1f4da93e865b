"""`alvh rebalance`, `alvh status`, `alvh halt`, `alvh resume`: talk to the running bot."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bot.cli.common import (
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    CliError,
    add_config_argument,
    add_state_dir_argument,
    config_from_args,
    print_json,
)


def register(subparsers: Any) -> None:
    rebalance = subparsers.add_parser("rebalance", help="ask the running bot for a rebalance now")
    rebalance.add_argument("--force", action="store_true", help="exceed the weekly cap (needs --reason)")
    rebalance.add_argument("--reason", default=None, help="why (recorded with your OS user)")
    status = subparsers.add_parser("status", help="connection, slots, coverage, budget, cap, schedule, decisions")
    halt = subparsers.add_parser("halt", help="stop new orders and cancel the bot's working orders")
    halt.add_argument("--reason", required=True, help="why (recorded)")
    halt.add_argument("--cancel-harvest", action="store_true", help="also cancel the resting harvest orders")
    resume = subparsers.add_parser("resume", help="allow orders again after a halt")
    resume.add_argument("--reason", default=None, help="why (recorded)")
    for parser, command in ((rebalance, "rebalance"), (status, "status"), (halt, "halt"), (resume, "resume")):
        add_config_argument(parser)
        add_state_dir_argument(parser)
        parser.add_argument("--json", action="store_true", help="print one JSON document")
        parser.set_defaults(handler=_handler(command))


def _handler(command: str) -> Any:
    def handle(args: argparse.Namespace) -> int:
        return _send(command, args)

    return handle


def _send(command: str, args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from bot.control.client import BotNotRunningError, send
    from bot.control.protocol import ControlRequest

    if command == "rebalance" and args.force and not (args.reason and args.reason.strip()):
        raise CliError("--force needs --reason TEXT (it is recorded with your OS user)", EXIT_USAGE)
    config = config_from_args(args)
    try:
        request = ControlRequest(
            command=command,  # type: ignore[arg-type]
            force=getattr(args, "force", False),
            reason=getattr(args, "reason", None),
            cancel_harvest=getattr(args, "cancel_harvest", False),
        )
    except ValidationError as error:
        raise CliError(str(error.errors(include_url=False)[0]["msg"]), EXIT_USAGE) from None
    try:
        response = send(Path(config.state.dir), request)
    except BotNotRunningError as error:
        raise CliError(str(error), EXIT_REFUSED) from None
    if args.json:
        print_json(response.model_dump(mode="json"))
    elif command == "status" and response.ok:
        from bot.cli.status_view import render_status

        render_status(response.data)
    else:
        print(response.message)
        for outcome in response.data.get("outcomes", []) if isinstance(response.data.get("outcomes"), list) else []:
            if isinstance(outcome, dict):
                print(
                    f"  {outcome.get('kind')} {outcome.get('intent_id')}: {outcome.get('status')} "
                    f"{outcome.get('message') or ''}"
                )
    return EXIT_OK if response.ok else response.exit_code or EXIT_REFUSED
