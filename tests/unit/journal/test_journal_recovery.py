"""Opening after a crash: torn tails go to quarantine and are recorded; anchored records are protected."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.journal import JournalIntegrityError
from bot.journal.encoding import check_line
from bot.journal.files import iter_lines, ledger_files
from bot.journal.index import INDEX_FILE, JournalIndex
from bot.journal.recovery import QuarantineItem, quarantine_tail
from bot.journal.verify import verify
from tests.unit.journal.journal_fabricate import StepClock, open_journal


def _write(directory: Path, clock: StepClock, count: int) -> None:
    with open_journal(directory, clock) as journal:
        for number in range(count):
            journal.append("status", {"status": "Submitted", "n": number}, refs={"intent": f"i{number}"})


def _last_file(directory: Path) -> Path:
    return ledger_files(directory)[-1]


def _records(directory: Path) -> list[dict[str, object]]:
    return [check_line(raw.data).to_json() for path in ledger_files(directory) for raw in iter_lines(path)]


def test_a_torn_last_line_is_quarantined_and_recorded(tmp_path: Path, clock: StepClock) -> None:
    directory = tmp_path / "journal"
    _write(directory, clock, 5)
    before = _records(directory)
    ledger = _last_file(directory)
    size = ledger.stat().st_size
    fragment = b'{"account":"DU****567#1","code_version":"0.1.0","config'
    with ledger.open("ab") as handle:
        handle.write(fragment)
    assert not verify(directory).ok  # verify reports it until the journal is opened again
    with open_journal(directory, clock) as journal:
        assert journal.last_seq == 6  # the five records and the error record about the fragment
    after = _records(directory)
    assert after[:5] == before
    error = after[5]
    assert error["kind"] == "error"
    details = error["payload"]["details"]  # type: ignore[index]
    assert details["offset"] == size and details["bytes"] == len(fragment) and details["last_good_seq"] == 5
    quarantined = directory / "quarantine" / details["quarantine_file"]
    assert quarantined.read_bytes() == fragment  # moved aside byte for byte, not dropped
    assert error["refs"] == {"quarantine": quarantined.name}
    assert verify(directory).ok


def test_a_damaged_complete_last_line_beyond_the_anchor_is_quarantined(tmp_path: Path, clock: StepClock) -> None:
    directory = tmp_path / "journal"
    _write(directory, clock, 3)
    anchor = (directory / "anchor.json").read_text()
    _write(directory, clock, 1)  # record 4, then pretend the anchor was not updated (crash)
    (directory / "anchor.json").write_text(anchor)
    ledger = _last_file(directory)
    data = ledger.read_bytes()
    ledger.write_bytes(data[:-10] + b"XXXXXXXXX\n")
    with open_journal(directory, clock) as journal:
        assert journal.last_seq == 4  # records 1-3 and the error record
    records = _records(directory)
    assert [record["kind"] for record in records] == ["status", "status", "status", "error"]
    assert "damaged last line" in str(records[3]["payload"])
    assert verify(directory).ok


def test_a_damaged_anchored_record_is_not_touched(tmp_path: Path, clock: StepClock) -> None:
    directory = tmp_path / "journal"
    _write(directory, clock, 3)
    ledger = _last_file(directory)
    data = ledger.read_bytes()
    damaged = data[:-10] + b"XXXXXXXXX\n"
    ledger.write_bytes(damaged)
    with pytest.raises(JournalIntegrityError, match="anchor says record seq 3"):
        open_journal(directory, clock)
    assert ledger.read_bytes() == damaged
    assert not (directory / "quarantine").exists()


def test_a_ledger_shorter_than_its_anchor_refuses_to_open(tmp_path: Path, clock: StepClock) -> None:
    directory = tmp_path / "journal"
    _write(directory, clock, 4)
    ledger = _last_file(directory)
    lines = ledger.read_bytes().splitlines(keepends=True)
    ledger.write_bytes(b"".join(lines[:-2]))
    with pytest.raises(JournalIntegrityError, match=r"records 3\.\.4 are missing"):
        open_journal(directory, clock)
    report = verify(directory)
    assert report.problems[0].kind == "truncated"


def test_a_missing_anchor_is_recreated_and_recorded(tmp_path: Path, clock: StepClock) -> None:
    directory = tmp_path / "journal"
    _write(directory, clock, 2)
    (directory / "anchor.json").unlink()
    assert verify(directory).problems[0].kind == "anchor"
    with open_journal(directory, clock):
        pass
    records = _records(directory)
    assert records[-1]["payload"]["what"] == "anchor_missing"  # type: ignore[index]
    assert json.loads((directory / "anchor.json").read_text())["seq"] == 3
    assert verify(directory).ok


def test_a_recovery_interrupted_after_the_cut_is_still_recorded(tmp_path: Path, clock: StepClock) -> None:
    directory = tmp_path / "journal"
    _write(directory, clock, 2)
    ledger = _last_file(directory)
    size = ledger.stat().st_size
    with ledger.open("ab") as handle:
        handle.write(b'{"torn')
    # what an open that died right after cutting the file leaves behind
    quarantine_tail(directory, QuarantineItem(ledger, size, b'{"torn', "torn write"))
    with open_journal(directory, clock):
        pass
    error = _records(directory)[-1]
    assert error["payload"]["what"] == "quarantine_unrecorded"  # type: ignore[index]
    with open_journal(directory, clock):
        pass
    assert len(_records(directory)) == 3  # recorded once, not on every open


def test_the_index_is_caught_up_or_rebuilt_on_open(tmp_path: Path, clock: StepClock) -> None:
    directory = tmp_path / "journal"
    _write(directory, clock, 6)
    index = JournalIndex.open(directory / INDEX_FILE)
    index._db.execute("DELETE FROM records WHERE seq > 3")  # an index that missed the last appends
    index.close()
    with open_journal(directory, clock):
        pass
    index = JournalIndex.open(directory / INDEX_FILE)
    assert index.count() == 6
    index.close()
    (directory / INDEX_FILE).write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        Path(f"{directory / INDEX_FILE}{suffix}").unlink(missing_ok=True)
    with open_journal(directory, clock):
        pass
    index = JournalIndex.open(directory / INDEX_FILE)
    assert index.count() == 6
    index.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_losing_unsynced_bytes_never_loses_an_acknowledged_record(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    """Power loss: everything after the last acknowledged record may vanish, at any byte."""
    base = tmp_path_factory.mktemp("powerloss")
    directory = base / "journal"
    clock = StepClock(dt.datetime(2024, 3, 1, tzinfo=dt.UTC))
    acknowledged = data.draw(st.integers(min_value=0, max_value=6), label="acknowledged")
    unsynced = data.draw(st.integers(min_value=1, max_value=4), label="unsynced")
    _write(directory, clock, acknowledged)
    anchor = (directory / "anchor.json").read_bytes()
    files = ledger_files(directory)
    synced_size = files[-1].stat().st_size if files else 0
    _write(directory, clock, unsynced)
    ledger = _last_file(directory)
    full = ledger.read_bytes()
    cut = data.draw(st.integers(min_value=synced_size, max_value=len(full)), label="cut")
    ledger.write_bytes(full[:cut])
    (directory / "anchor.json").write_bytes(anchor)  # the anchor of the last acknowledged state
    kept = _records_until_torn(directory)
    with open_journal(directory, clock) as journal:
        assert journal.last_seq >= acknowledged
    records = _records(directory)
    assert records[: len(kept)] == kept
    assert len(kept) >= acknowledged
    assert verify(directory).ok
    shutil.rmtree(base)


def _records_until_torn(directory: Path) -> list[dict[str, object]]:
    records = []
    for path in ledger_files(directory):
        for raw in iter_lines(path):
            if raw.terminated:
                records.append(check_line(raw.data).to_json())
    return records


def test_a_damaged_line_in_the_middle_is_left_for_verify_to_report(tmp_path: Path, clock: StepClock) -> None:
    directory = tmp_path / "journal"
    _write(directory, clock, 6)
    ledger = _last_file(directory)
    lines = ledger.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b'"Submitted"', b'"Cancelled"')
    damaged = b"\n".join(lines)
    ledger.write_bytes(damaged)
    with open_journal(directory, clock) as journal:  # only the tail is a crash artefact
        journal.append("status", {"status": "Filled"})
    assert ledger.read_bytes().startswith(damaged)
    assert not (directory / "quarantine").exists()
    problem = verify(directory).problems[0]
    assert (problem.kind, problem.line) == ("altered", 3)


def test_an_unreadable_anchor_is_kept_and_recreated(tmp_path: Path, clock: StepClock) -> None:
    directory = tmp_path / "journal"
    _write(directory, clock, 2)
    (directory / "anchor.json").write_text("{ not json")
    assert verify(directory).problems[0].kind == "anchor"
    with open_journal(directory, clock):
        pass
    error = _records(directory)[-1]
    assert error["payload"]["what"] == "anchor_unreadable"  # type: ignore[index]
    kept = directory / "quarantine" / str(error["refs"]["quarantine"])  # type: ignore[index]
    assert kept.read_text() == "{ not json"
    assert verify(directory).ok
    with open_journal(directory, clock):
        pass
    assert len(_records(directory)) == 3  # not recorded again
