"""Fixtures of the journal tests: a stepping simulated clock and a realistic journal written once."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from bot.examples import EXAMPLE_AS_OF
from tests.unit.journal.journal_fabricate import Fabricated, StepClock, fabricate, open_journal


@pytest.fixture
def clock() -> StepClock:
    return StepClock(EXAMPLE_AS_OF - dt.timedelta(days=1))


@pytest.fixture(scope="session")
def _fabricated_master(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Fabricated]:
    directory = tmp_path_factory.mktemp("fabricated") / "state" / "journal"
    clock = StepClock(EXAMPLE_AS_OF - dt.timedelta(days=1))
    with open_journal(directory, clock) as journal:
        fabricated = fabricate(journal, clock, evaluations=4)
    return directory, fabricated


@pytest.fixture
def fabricated(_fabricated_master: tuple[Path, Fabricated], tmp_path: Path) -> tuple[Path, Fabricated]:
    """A private copy of a four-evaluation journal (two monthly files) the test may damage."""
    master, records = _fabricated_master
    directory = tmp_path / "state" / "journal"
    shutil.copytree(master, directory)
    return directory, records
