#!/usr/bin/env python3
"""Regenerate the example planner inputs under tests/fixtures/ from the deterministic example market.

The files are committed; run this only when the models or the example market change on purpose.
"""

from __future__ import annotations

from pathlib import Path

from bot.examples import example_book, example_snapshot

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"


def main() -> None:
    snapshot = example_snapshot()
    FIXTURES.mkdir(parents=True, exist_ok=True)
    (FIXTURES / "snapshot_example.json").write_text(snapshot.model_dump_json(indent=1) + "\n")
    (FIXTURES / "book_example.json").write_text(example_book(snapshot, held_slots=10).model_dump_json(indent=1) + "\n")
    (FIXTURES / "book_empty_with_condors.json").write_text(
        example_book(snapshot, held_slots=0).model_dump_json(indent=1) + "\n"
    )
    print(f"wrote example inputs to {FIXTURES}")


if __name__ == "__main__":
    main()
