"""Helpers shared by the subcommands: errors with exit codes, config loading, JSON output."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bot.config import BotConfig, ConfigError, load_config

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2


class CliError(Exception):
    """A failure the user should read: printed as one message, then the given exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_REFUSED) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=None, metavar="FILE", help="TOML config file")


def add_state_dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir", type=Path, default=None, metavar="DIR", help="state directory (overrides the config)"
    )


def config_from_args(args: argparse.Namespace) -> BotConfig:
    """The config named by --config (defaults when absent), with --state-dir applied."""
    try:
        config = load_config(getattr(args, "config", None))
    except ConfigError as error:
        raise CliError(error.render(), EXIT_USAGE) from None
    state_dir = getattr(args, "state_dir", None)
    if state_dir is not None:
        config = config.model_copy(update={"state": config.state.model_copy(update={"dir": state_dir})})
    return config


def print_json(document: Any) -> None:
    """One JSON document on stdout (the --json contract)."""
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")
