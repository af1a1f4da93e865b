"""Tampering: verify catches every kind of change and names the first bad record."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.journal.anchor import Anchor, read_anchor, write_anchor
from bot.journal.blobs import BlobStore
from bot.journal.encoding import Record, check_line, encode_record
from bot.journal.files import ledger_files
from bot.journal.verify import verify
from tests.unit.journal.journal_fabricate import Fabricated


class Ledger:
    """The ledger as (file, lines) so that a test can change lines and write them back."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.files = {path.name: path.read_bytes().split(b"\n")[:-1] for path in ledger_files(directory)}

    @property
    def positions(self) -> list[tuple[str, int]]:
        return [(name, index) for name, lines in self.files.items() for index in range(len(lines))]

    def record(self, name: str, index: int) -> Record:
        return check_line(self.files[name][index])

    def save(self) -> None:
        for name, lines in self.files.items():
            (self.directory / name).write_bytes(b"".join(line + b"\n" for line in lines))


def _first_problem(directory: Path) -> tuple[str, str | None, int | None, int | None, str]:
    report = verify(directory)
    assert not report.ok, "verify did not notice"
    problem = report.problems[0]
    return problem.kind, problem.file, problem.line, problem.seq, problem.message


def test_an_untouched_journal_verifies(fabricated: tuple[Path, Fabricated]) -> None:
    directory, made = fabricated
    report = verify(directory)
    assert report.ok, report.problems
    assert report.records == len(made.records) + 2 * len(made.decisions)  # + cycle start/end records
    assert report.blobs_checked == len(set(made.snapshot_hashes))
    assert len(report.files) == 2


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_flipping_any_byte_is_caught_and_names_the_record(
    _fabricated_master: tuple[Path, Fabricated], tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    directory = tmp_path_factory.mktemp("flip") / "journal"
    shutil.copytree(_fabricated_master[0], directory)
    ledger = Ledger(directory)
    name, index = data.draw(st.sampled_from(ledger.positions), label="record")
    line = ledger.files[name][index] + b"\n"
    position = data.draw(st.integers(min_value=0, max_value=len(line) - 1), label="byte")
    mask = data.draw(st.integers(min_value=1, max_value=255), label="xor")
    path = directory / name
    content = bytearray(path.read_bytes())
    start = sum(len(other) + 1 for other in ledger.files[name][:index])
    content[start + position] ^= mask
    path.write_bytes(bytes(content))
    deep = data.draw(st.booleans(), label="deep")
    report = verify(directory, deep=deep)
    assert not report.ok
    problem = report.problems[0]
    assert (problem.kind, problem.file, problem.line) == ("altered", name, index + 1), problem.message
    shutil.rmtree(directory.parent)


@pytest.mark.parametrize("where", ["first", "middle", "first of second file", "last of first file"])
def test_a_deleted_record_is_named(fabricated: tuple[Path, Fabricated], where: str) -> None:
    directory, _ = fabricated
    ledger = Ledger(directory)
    first, second = list(ledger.files)
    name, index = {
        "first": (first, 0),
        "middle": (first, 10),
        "first of second file": (second, 0),
        "last of first file": (first, len(ledger.files[first]) - 1),
    }[where]
    seq = ledger.record(name, index).seq
    del ledger.files[name][index]
    ledger.save()
    kind, _, _, problem_seq, message = _first_problem(directory)
    assert kind == "deleted" and problem_seq == seq, message
    assert f"record seq {seq} is missing" in message


def test_deleting_the_last_records_is_a_truncation(fabricated: tuple[Path, Fabricated]) -> None:
    directory, _ = fabricated
    ledger = Ledger(directory)
    last_file = list(ledger.files)[-1]
    last_seq = ledger.record(last_file, -1).seq
    del ledger.files[last_file][-3:]
    ledger.save()
    kind, _, _, seq, message = _first_problem(directory)
    assert kind == "truncated" and seq == last_seq - 2, message
    assert f"records {last_seq - 2}..{last_seq} are missing" in message


def test_a_tail_cut_inside_a_record_is_a_truncation(fabricated: tuple[Path, Fabricated]) -> None:
    directory, _ = fabricated
    path = ledger_files(directory)[-1]
    data = path.read_bytes()
    lines = data.split(b"\n")[:-1]
    path.write_bytes(data[: len(data) - len(lines[-1]) // 2])
    kind, file, line_no, _, message = _first_problem(directory)
    assert (kind, file, line_no) == ("truncated", path.name, len(lines)), message


@pytest.mark.parametrize("source", [0, 5, 30])
def test_a_copied_record_is_an_insertion(fabricated: tuple[Path, Fabricated], source: int) -> None:
    directory, _ = fabricated
    ledger = Ledger(directory)
    name = next(iter(ledger.files))
    lines = ledger.files[name]
    lines.insert(source + 1, lines[source])
    ledger.save()
    kind, file, line_no, _, message = _first_problem(directory)
    assert (kind, file, line_no) == ("inserted", name, source + 2), message


def test_a_foreign_line_is_an_insertion(fabricated: tuple[Path, Fabricated]) -> None:
    directory, _ = fabricated
    ledger = Ledger(directory)
    name = list(ledger.files)[-1]
    ledger.files[name].insert(4, b'{"note": "added by hand"}')
    ledger.save()
    kind, file, line_no, _, message = _first_problem(directory)
    assert (kind, file, line_no) == ("inserted", name, 5), message


def test_a_forged_record_that_links_to_its_predecessor_is_an_insertion(fabricated: tuple[Path, Fabricated]) -> None:
    directory, _ = fabricated
    ledger = Ledger(directory)
    name = next(iter(ledger.files))
    before = ledger.record(name, 7)
    forged, line = encode_record(
        seq=before.seq + 1,
        ts=before.ts,
        kind="operator",
        cycle_id=None,
        payload={"command": "rebalance", "os_user": "mallory", "reason": "looks legit", "force": True, "details": {}},
        refs={},
        code_version=before.code_version,
        config_hash=before.config_hash,
        mode=before.mode,
        account=before.account,
        prev_hash=before.hash,
    )
    ledger.files[name].insert(8, line[:-1])
    ledger.save()
    kind, file, line_no, seq, message = _first_problem(directory)
    assert (kind, file, line_no, seq) == ("inserted", name, 9, forged.seq), message


@pytest.mark.parametrize(("a", "b"), [(10, 11), (3, 20)])
def test_swapped_records_are_reordered(fabricated: tuple[Path, Fabricated], a: int, b: int) -> None:
    directory, _ = fabricated
    ledger = Ledger(directory)
    name = next(iter(ledger.files))
    lines = ledger.files[name]
    later_seq = ledger.record(name, b).seq
    lines[a], lines[b] = lines[b], lines[a]
    ledger.save()
    kind, file, line_no, seq, message = _first_problem(directory)
    assert (kind, file, line_no, seq) == ("reordered", name, a + 1, later_seq), message


def test_swapping_records_across_files_is_reordered(fabricated: tuple[Path, Fabricated]) -> None:
    directory, _ = fabricated
    ledger = Ledger(directory)
    first, second = list(ledger.files)
    ledger.files[first][-1], ledger.files[second][0] = ledger.files[second][0], ledger.files[first][-1]
    ledger.save()
    kind, file, line_no, _, message = _first_problem(directory)
    assert (kind, file, line_no) == ("reordered", first, len(ledger.files[first])), message


def test_a_rewritten_and_rehashed_record_is_named(fabricated: tuple[Path, Fabricated]) -> None:
    directory, _ = fabricated
    ledger = Ledger(directory)
    name = next(iter(ledger.files))
    original = ledger.record(name, 12)
    payload = dict(original.payload)
    payload["forged"] = True
    _, line = encode_record(
        seq=original.seq,
        ts=original.ts,
        kind=original.kind,
        cycle_id=original.cycle_id,
        payload=payload,
        refs=original.refs,
        code_version=original.code_version,
        config_hash=original.config_hash,
        mode=original.mode,
        account=original.account,
        prev_hash=original.prev_hash,
    )
    ledger.files[name][12] = line[:-1]
    ledger.save()
    kind, file, line_no, seq, message = _first_problem(directory)
    assert (kind, file, line_no, seq) == ("altered", name, 13, original.seq), message
    assert "rewritten" in message


def test_an_anchor_kept_off_the_machine_catches_a_truncation_with_a_rewritten_anchor(
    fabricated: tuple[Path, Fabricated],
) -> None:
    directory, _ = fabricated
    kept = read_anchor(directory / "anchor.json")
    assert kept is not None
    ledger = Ledger(directory)
    last_file = list(ledger.files)[-1]
    del ledger.files[last_file][-2:]
    ledger.save()
    new_last = ledger.record(last_file, -1)
    write_anchor(directory / "anchor.json", Anchor(seq=new_last.seq, hash=new_last.hash, ts=new_last.ts))
    assert verify(directory).ok  # consistent on its own ...
    report = verify(directory, external_anchor=kept)  # ... but not with the copy
    assert [problem.kind for problem in report.problems] == ["truncated"]
    assert f"records {kept.seq - 1}..{kept.seq} are missing" in report.problems[0].message


def test_a_rewritten_chain_does_not_match_its_anchor(fabricated: tuple[Path, Fabricated]) -> None:
    directory, _ = fabricated
    anchor = read_anchor(directory / "anchor.json")
    assert anchor is not None
    write_anchor(directory / "anchor.json", Anchor(seq=anchor.seq, hash="f" * 64, ts=anchor.ts))
    kind, _, _, seq, message = _first_problem(directory)
    assert kind == "altered" and seq == anchor.seq, message


def test_missing_and_altered_blobs_are_reported(fabricated: tuple[Path, Fabricated]) -> None:
    directory, made = fabricated
    store = BlobStore(directory)
    store.path_for(made.snapshot_hashes[0]).unlink()
    altered = store.path_for(made.snapshot_hashes[1])
    import gzip

    document = json.loads(gzip.decompress(altered.read_bytes()))
    document["book"]["hedge_realized_pnl"] = 1e6
    altered.write_bytes(gzip.compress(json.dumps(document).encode()))
    report = verify(directory)
    kinds = [(problem.kind, problem.message.split(" (")[0]) for problem in report.problems]
    assert kinds[0] == ("blob", f"blob {made.snapshot_hashes[0]} is missing")
    assert kinds[1][0] == "blob" and "was altered" in kinds[1][1]
    assert verify(directory, check_blobs=False).ok
