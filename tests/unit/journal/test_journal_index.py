"""The SQLite index: queries by time, kind, slot, intent, order and perm id; rebuilt equals live."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.journal.index import INDEX_FILE, JournalIndex, Query
from bot.journal.reader import JournalReader
from tests.unit.journal.journal_fabricate import Fabricated, StepClock, fabricate, open_journal


def test_an_index_rebuilt_from_the_ledger_equals_the_live_index(tmp_path: Path, clock: StepClock) -> None:
    directory = tmp_path / "journal"
    with open_journal(directory, clock, group_commit=True) as journal:
        fabricate(journal, clock, evaluations=3)
    live = JournalIndex.open(directory / INDEX_FILE)
    live_rows = live.dump()
    live.close()
    copy = tmp_path / "copy"
    shutil.copytree(directory, copy)
    rebuilt = JournalIndex.open(copy / INDEX_FILE)
    assert rebuilt.rebuild(copy) == len(live_rows[0])
    assert rebuilt.dump() == live_rows
    rebuilt.close()
    (copy / INDEX_FILE).unlink()
    fresh = JournalIndex.open(copy / INDEX_FILE)
    fresh.rebuild(copy)
    assert fresh.dump() == live_rows
    fresh.close()


def test_queries(fabricated: tuple[Path, Fabricated]) -> None:
    directory, made = fabricated
    with JournalReader.open(directory) as reader:
        decisions = reader.query(Query(kinds=["decision"]))
        assert [row.seq for row in decisions] == [record.seq for record in made.decisions]

        intent = made.intents[1]
        by_intent = reader.query(Query(intent=intent))
        assert [row.kind for row in by_intent] == ["decision", "gate", "intent", "sent", "status", "fill", "status"]

        order_id = made.order_ids[1]
        assert {row.kind for row in reader.query(Query(order_id=order_id))} == {"sent", "status", "fill"}
        assert {row.kind for row in reader.query(Query(perm_id=made.perm_ids[1]))} == {"status", "fill"}

        near_1 = reader.query(Query(slot="near-1", kinds=["harvest_fill"]))
        assert len(near_1) == 4

        second = made.decisions[1]
        window = reader.query(Query(since=second.ts, until=made.decisions[2].ts))
        assert window[0].seq == second.seq and all(second.ts <= row.ts < made.decisions[2].ts for row in window)

        cycle = reader.query(Query(cycle_id=second.cycle_id))
        assert cycle[0].kind == "cycle" and cycle[-1].kind == "cycle"
        assert all(row.cycle_id == second.cycle_id for row in cycle)

        last_three = reader.query(Query(limit=3))
        assert [row.seq for row in last_three] == [
            reader.index.count() - 2,
            reader.index.count() - 1,
            reader.index.count(),
        ]

        row = reader.resolve(second.hash[:10]).row
        assert row.seq == second.seq
        assert reader.resolve(f"#{second.seq}").record == second


def test_reading_rebuilds_a_missing_index(fabricated: tuple[Path, Fabricated]) -> None:
    directory, made = fabricated
    (directory / INDEX_FILE).unlink()
    with JournalReader.open(directory) as reader:
        assert reader.index.count() == len(made.records) + 2 * len(made.decisions)
