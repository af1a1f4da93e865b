"""`alvh config check FILE`: validate a config and print every problem in plain words."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bot.cli.common import EXIT_OK, EXIT_USAGE, print_json
from bot.config import ConfigError, load_config


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("config", help="validate a config file")
    actions = parser.add_subparsers(dest="config_action", required=True, metavar="ACTION")
    check = actions.add_parser("check", help="validate FILE; exit 0 when valid, 2 with every problem listed")
    check.add_argument("file", type=Path, metavar="FILE")
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    check.set_defaults(handler=_check)


def _check(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.file)
    except ConfigError as error:
        if args.json:
            print_json(
                {
                    "valid": False,
                    "file": str(args.file),
                    "problems": [{"key": p.key, "value": p.value, "message": p.message} for p in error.problems],
                }
            )
        else:
            print(error.render())
        return EXIT_USAGE
    if args.json:
        print_json({"valid": True, "file": str(args.file), "strategy_hash": config.strategy_hash()})
    else:
        slots = len(config.strategy.buckets.slot_ids())
        account = "live allowed" if config.account.allow_live else "paper only"
        gateway = f"{config.connection.host}:{config.connection.port}"
        print(f"{args.file}: valid ({slots} slots, account {account}, gateway {gateway})")
    return EXIT_OK
