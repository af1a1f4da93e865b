"""`alvh plan`: run the planner on a recorded snapshot and book; print the plan or the input schemas."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from bot.cli.common import EXIT_OK, EXIT_USAGE, CliError, add_config_argument, config_from_args, print_json
from bot.config import validation_problems

Model = TypeVar("Model", bound=BaseModel)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="print the plan for a recorded snapshot and book",
        description="Run the planner (the same one the bot runs) on a snapshot file and a book file.",
    )
    parser.add_argument("--snapshot", type=Path, metavar="FILE", help="market snapshot JSON")
    parser.add_argument("--book", type=Path, metavar="FILE", help="book JSON (default: empty book)")
    add_config_argument(parser)
    parser.add_argument("--json", action="store_true", help="print the whole plan as one JSON document")
    parser.add_argument(
        "--schema", action="store_true", help="print the JSON Schema of the snapshot and book files and exit"
    )
    parser.set_defaults(handler=_plan)


def _load(path: Path, model: type[Model], what: str) -> Model:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CliError(f"cannot read the {what} file {path}: {error.strerror or error}", EXIT_USAGE) from None
    try:
        return model.model_validate_json(text)
    except ValidationError as error:
        problems = validation_problems(error, model)
        lines = "\n".join(f"  - {problem}" for problem in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise CliError(f"{path} is not a valid {what}:\n{lines}{more}", EXIT_USAGE) from None


def _plan(args: argparse.Namespace) -> int:
    from strategies.alvh.models import Book, MarketSnapshot

    if args.schema:
        print_json(
            {
                "snapshot": MarketSnapshot.model_json_schema(),
                "book": Book.model_json_schema(),
            }
        )
        return EXIT_OK
    if args.snapshot is None:
        raise CliError("--snapshot FILE is required (or --schema)", EXIT_USAGE)
    config = config_from_args(args)
    snapshot = _load(args.snapshot, MarketSnapshot, "market snapshot")
    book = _load(args.book, Book, "book") if args.book else Book()

    from strategies.alvh.planner import plan

    result = plan(snapshot, book, config.strategy)
    if args.json:
        print(json.dumps(json.loads(result.canonical_json()), indent=2, sort_keys=True))
        return EXIT_OK
    from bot.cli.plan_view import render_plan

    render_plan(result)
    return EXIT_OK
