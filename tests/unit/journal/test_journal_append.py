"""Appending: durable records, the chain across monthly files, cycles, group commit, redaction."""

from __future__ import annotations

import asyncio
import datetime as dt
import errno
import json
import os
import threading
from pathlib import Path

import pytest

from bot.journal import Journal, JournalClosedError, JournalLockedError, JournalWriteError, code_version
from bot.journal.encoding import GENESIS_HASH, check_line
from bot.journal.files import iter_lines, ledger_files
from bot.journal.verify import verify
from tests.unit.journal.journal_fabricate import ACCOUNT, StepClock, open_journal


def _ledger(directory: Path) -> list[dict[str, object]]:
    records = []
    for path in ledger_files(directory):
        for raw in iter_lines(path):
            records.append(check_line(raw.data).to_json())
    return records


def test_append_returns_the_durable_record_and_reopening_continues_the_chain(tmp_path: Path, clock: StepClock) -> None:
    directory = tmp_path / "journal"
    with open_journal(directory, clock) as journal:
        first = journal.append("alert", {"code": "x", "message": "one", "value": 0.1 + 0.2})
        second = journal.append("alert", {"code": "x", "message": "two"}, refs={"slot": "near-1"})
        assert journal.last_seq == 2
    assert first.seq == 1 and first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    assert first.payload["value"] == 0.3  # canonical: the record holds what a reader gets back
    with open_journal(directory, clock) as journal:
        third = journal.append("alert", {"code": "x", "message": "three"})
    assert third.seq == 3 and third.prev_hash == second.hash
    assert [record["seq"] for record in _ledger(directory)] == [1, 2, 3]
    assert json.loads((directory / "anchor.json").read_text())["seq"] == 3
    assert verify(directory).ok


def test_every_record_carries_its_context(tmp_path: Path, clock: StepClock) -> None:
    with open_journal(tmp_path / "journal", clock) as journal:
        record = journal.append("operator", {"command": "rebalance"})
    assert record.code_version == "0.1.0+gtest"
    assert record.mode == "paper"
    assert len(record.config_hash) == 64
    assert record.ts == f"{clock.now.astimezone(dt.UTC):%Y-%m-%dT%H:%M:%S.%f}Z"  # the injected clock's time
    assert record.account is not None and record.account.startswith("DU****567#")


def test_files_rotate_monthly_and_the_chain_continues_across_them(tmp_path: Path) -> None:
    clock = StepClock(dt.datetime(2024, 1, 31, 23, 59, 58, tzinfo=dt.UTC), step=dt.timedelta(seconds=1))
    directory = tmp_path / "journal"
    with open_journal(directory, clock) as journal:
        records = [journal.append("status", {"status": "Submitted", "n": n}) for n in range(4)]
    assert [path.name for path in ledger_files(directory)] == ["ledger-2024-01.jsonl", "ledger-2024-02.jsonl"]
    in_january = [check_line(raw.data) for raw in iter_lines(directory / "ledger-2024-01.jsonl")]
    in_february = [check_line(raw.data) for raw in iter_lines(directory / "ledger-2024-02.jsonl")]
    assert [r.ts[:7] for r in in_january] == ["2024-01"] and all(r.ts[:7] == "2024-02" for r in in_february)
    assert in_february[0].prev_hash == in_january[-1].hash
    assert [r.seq for r in in_january + in_february] == [r.seq for r in records]
    assert verify(directory).ok


def test_a_clock_that_goes_back_a_month_never_writes_into_an_earlier_file(tmp_path: Path) -> None:
    clock = StepClock(dt.datetime(2024, 2, 1, 0, 0, 1, tzinfo=dt.UTC))
    directory = tmp_path / "journal"
    with open_journal(directory, clock) as journal:
        journal.append("status", {"status": "a"})
        clock.now = dt.datetime(2024, 1, 15, tzinfo=dt.UTC)  # a simulated clock restarted earlier
        journal.append("status", {"status": "b"})
    assert [path.name for path in ledger_files(directory)] == ["ledger-2024-02.jsonl"]
    assert verify(directory).ok


def test_cycle_gives_every_record_inside_the_same_cycle_id(tmp_path: Path, clock: StepClock) -> None:
    with open_journal(tmp_path / "journal", clock) as journal:
        outside_before = journal.append("alert", {"code": "a", "message": ""})
        with journal.cycle(trigger="manual", operator="alice") as cycle_id:
            inside = [journal.append("alert", {"code": "b", "message": ""}) for _ in range(3)]
            other_thread: list[str | None] = []
            thread = threading.Thread(target=lambda: other_thread.append(journal.current_cycle_id))
            thread.start()
            thread.join()
        outside_after = journal.append("alert", {"code": "c", "message": ""})
    ledger = _ledger(tmp_path / "journal")
    cycle_records = [record for record in ledger if record["kind"] == "cycle"]
    assert [record["payload"]["phase"] for record in cycle_records] == ["start", "end"]  # type: ignore[index]
    assert cycle_records[0]["payload"]["details"] == {"operator": "alice"}  # type: ignore[index]
    assert all(record.cycle_id == cycle_id for record in inside)
    assert all(record["cycle_id"] == cycle_id for record in cycle_records)
    assert outside_before.cycle_id is None and outside_after.cycle_id is None
    assert other_thread == [None]  # another thread's records are not silently put in this cycle


def test_a_failing_cycle_is_recorded_as_failed_and_the_error_propagates(tmp_path: Path, clock: StepClock) -> None:
    journal = open_journal(tmp_path / "journal", clock)
    with pytest.raises(RuntimeError, match="boom"), journal.cycle():
        raise RuntimeError("boom")
    journal.close()
    end = _ledger(tmp_path / "journal")[-1]
    assert end["payload"] == {"phase": "end", "outcome": "failed", "error": "RuntimeError: boom"}


def test_cycle_ids_are_unique(tmp_path: Path, clock: StepClock) -> None:
    with open_journal(tmp_path / "journal", clock) as journal:
        ids = {journal.new_cycle_id() for _ in range(50)}
    assert len(ids) == 50


def test_group_commit_acknowledges_every_concurrent_append_in_one_chain(tmp_path: Path, clock: StepClock) -> None:
    directory = tmp_path / "journal"
    acknowledged: list[tuple[int, str]] = []
    lock = threading.Lock()
    with open_journal(directory, clock, group_commit=True) as journal:

        def writer(number: int) -> None:
            for index in range(40):
                record = journal.append("status", {"writer": number, "index": index}, refs={"intent": f"w{number}"})
                with lock:
                    acknowledged.append((record.seq, record.hash))

        threads = [threading.Thread(target=writer, args=(number,)) for number in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert journal.stats.records == 320
        assert journal.stats.fsyncs <= 320
    ledger = {record["seq"]: record["hash"] for record in _ledger(directory)}
    assert sorted(seq for seq, _ in acknowledged) == list(range(1, 321))
    assert all(ledger[seq] == digest for seq, digest in acknowledged)
    assert verify(directory).ok


async def test_append_async_does_not_block_the_event_loop(tmp_path: Path, clock: StepClock) -> None:
    with open_journal(tmp_path / "journal", clock, group_commit=True) as journal, journal.cycle() as cycle_id:
        records = await asyncio.gather(*(journal.append_async("status", {"n": n}) for n in range(20)))
    assert sorted(record.seq for record in records) == list(range(2, 22))
    assert {record.cycle_id for record in records} == {cycle_id}  # the cycle follows into the worker threads


def test_the_account_is_redacted_consistently_and_never_written_in_clear(tmp_path: Path, clock: StepClock) -> None:
    directory = tmp_path / "journal"
    with open_journal(directory, clock) as journal:
        first = journal.append("alert", {"code": "a", "message": ""})
    with open_journal(directory, clock) as journal:
        again = journal.append("alert", {"code": "a", "message": ""})
    with open_journal(directory, clock, account="DU7654567") as journal:
        other = journal.append("alert", {"code": "a", "message": ""})
    assert first.account == again.account
    assert other.account != first.account and other.account is not None and other.account.startswith("DU****567#")
    for path in directory.rglob("*"):
        if path.is_file():
            assert ACCOUNT.encode() not in path.read_bytes(), path.name
    assert (directory / "account.key").stat().st_mode & 0o077 == 0


def test_a_second_writer_is_refused(tmp_path: Path, clock: StepClock) -> None:
    with open_journal(tmp_path / "journal", clock), pytest.raises(JournalLockedError, match="another process"):
        open_journal(tmp_path / "journal", clock)


def test_bad_input_is_refused_without_writing(tmp_path: Path, clock: StepClock) -> None:
    with open_journal(tmp_path / "journal", clock) as journal:
        with pytest.raises(ValueError, match="record kind"):
            journal.append("Not A Kind", {})
        with pytest.raises(TypeError, match="not JSON-serializable"):
            journal.append("alert", {"what": object()})
        with pytest.raises(ValueError, match="unknown ref key"):
            journal.append("alert", {}, refs={"colour": "red"})
        assert journal.last_seq == 0
    journal.close()  # closing twice is harmless
    with pytest.raises(JournalClosedError):
        journal.append("alert", {})


def test_a_naive_clock_is_an_error(tmp_path: Path) -> None:
    with (
        Journal.open(
            tmp_path / "journal",
            clock=lambda: dt.datetime(2024, 1, 1),
            code_version="x",
            config_hash="0" * 64,
            mode="paper",
            account=None,
        ) as journal,
        pytest.raises(ValueError, match="naive"),
    ):
        journal.append("alert", {})


def test_a_failed_write_is_never_acknowledged_and_stops_the_journal(
    tmp_path: Path, clock: StepClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "journal"
    journal = open_journal(directory, clock)
    journal.append("alert", {"code": "ok", "message": ""})
    real_fsync = os.fsync

    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(JournalWriteError, match="No space left"):
        journal.append("alert", {"code": "lost", "message": ""})
    monkeypatch.setattr(os, "fsync", real_fsync)
    with pytest.raises(JournalWriteError):
        journal.append("alert", {"code": "after", "message": ""})
    journal.close()
    # the unacknowledged record reached the page cache; the next open keeps the chain valid
    with open_journal(directory, clock) as reopened:
        assert reopened.last_seq >= 1
    assert verify(directory).ok


def test_code_version_names_the_package_version() -> None:
    version = code_version()
    assert version.startswith(("0.", "0+"))
