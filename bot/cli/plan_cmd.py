"""`alvh plan`: run the planner on a recorded snapshot and book (placeholder until the planner lands)."""

from __future__ import annotations

from typing import Any


def register(subparsers: Any) -> None:
    pass
