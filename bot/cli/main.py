"""The `alvh` command. Each subcommand lives in its own module with a ``register(subparsers)``.

Exit codes (architecture.md): 0 success, 1 refused or failed with a message, 2 usage or config error.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from bot.cli.common import CliError

# Order is the order of `alvh --help`. A new command: add its module here.
COMMAND_MODULES: tuple[str, ...] = (
    "bot.cli.plan_cmd",
    "bot.cli.config_cmd",
    "bot.cli.audit_cmd",
    "bot.cli.backtest_cmd",
    "bot.cli.gateway_cmd",
    "bot.cli.run_cmd",
    "bot.cli.control_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alvh",
        description="ALVH 4/4/2: hedge the short vega of SPX iron condors with layered VIX calls on IB.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.handler(args)
    except CliError as error:
        print(f"alvh: {error.message}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("alvh: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as error:  # the last line of defence: a message, not a traceback
        if os.environ.get("ALVH_DEBUG") == "1":
            raise
        print(f"alvh: internal error: {type(error).__name__}: {error} (set ALVH_DEBUG=1 for details)", file=sys.stderr)
        return 1
    return status


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
