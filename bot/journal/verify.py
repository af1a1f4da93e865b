"""``alvh audit verify``: check the whole ledger, its anchor and its blobs; name the first bad record.

Each line must be a valid record (canonical JSON whose hash matches), records must follow each other
(seq + 1, prev_hash = the previous record's hash) from the first file to the last, the record named
by the anchor (and by an anchor copied off the machine, if given) must be there with that hash, and
every blob a record refers to must exist and hash to its name.

The first break in the chain is classified:

- altered   a line that is not a valid record, or a valid record whose link to its neighbour
            was rewritten
- inserted  a line the chain goes around (the next record links to the one before it), or a
            record whose seq the chain has already passed (a copy)
- deleted   seq numbers missing, and not found later in the ledger
- reordered a record earlier than a record with a lower seq that appears later
- truncated the ledger ends before the record its anchor names, or inside a record
- torn      an incomplete last line left by a crash mid-write, not covered by the anchor (the
            next ``Journal.open`` moves it into quarantine and records that)

Streaming and fast: a line is checked by hashing its bytes (see encoding.check_line), and records
are not kept in memory, only the last two and, after the first problem, a slim list of the rest.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bot.journal.anchor import ANCHOR_FILE, Anchor, AnchorError, read_anchor
from bot.journal.blobs import BlobError, BlobStore
from bot.journal.encoding import GENESIS_HASH, LineError, Record, RecordHeader, check_line, check_line_fast
from bot.journal.files import iter_lines, ledger_files, writer_is_active

ProblemKind = Literal["altered", "inserted", "deleted", "reordered", "truncated", "torn", "anchor", "blob"]
MAX_BLOB_PROBLEMS = 20


@dataclass(frozen=True)
class Problem:
    kind: ProblemKind
    message: str
    file: str | None = None
    line: int | None = None
    seq: int | None = None

    @property
    def where(self) -> str:
        if self.file is None:
            return ""
        return f"{self.file} line {self.line}" if self.line else self.file

    def to_json(self) -> dict[str, object]:
        return {"kind": self.kind, "message": self.message, "file": self.file, "line": self.line, "seq": self.seq}


@dataclass
class VerifyReport:
    directory: str
    records: int = 0
    files: list[str] = field(default_factory=list)
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    blobs_checked: int = 0
    anchor: Anchor | None = None
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    damaged_lines: int = 0  # lines that fail their own check, anywhere

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "directory": self.directory,
            "records": self.records,
            "files": self.files,
            "last_seq": self.last_seq,
            "last_hash": self.last_hash,
            "blobs_checked": self.blobs_checked,
            "anchor": self.anchor.to_json() if self.anchor else None,
            "damaged_lines": self.damaged_lines,
            "problems": [problem.to_json() for problem in self.problems],
            "notes": self.notes,
        }


@dataclass(frozen=True, slots=True)
class _Entry:
    file: str
    line: int
    seq: int | None
    hash: str | None
    prev_hash: str | None
    error: str | None

    @property
    def where(self) -> str:
        return f"{self.file} line {self.line}"


def _entry(file: str, line: int, data: bytes, deep: bool) -> tuple[_Entry, Record | RecordHeader | None]:
    try:
        record: Record | RecordHeader = check_line(data) if deep else check_line_fast(data)
    except LineError as error:
        return _Entry(file, line, None, None, None, str(error)), None
    return _Entry(file, line, record.seq, record.hash, record.prev_hash, None), record


class _BlobChecker:
    def __init__(self, directory: Path, report: VerifyReport) -> None:
        self._store = BlobStore(directory)
        self._report = report
        self._checked: set[str] = set()
        self._problems = 0

    def check(self, record: Record | RecordHeader, entry: _Entry) -> None:
        digests = {str(value) for value in record.ref_values("blob")}
        if record.kind in ("decision", "snapshot"):
            # the snapshot a decision was made on must still be there to replay it
            digests.update(str(value) for value in record.ref_values("snapshot"))
            if isinstance(record, Record) and isinstance(record.payload.get("snapshot_hash"), str):
                digests.add(str(record.payload["snapshot_hash"]))
        for digest in sorted(digests - self._checked):
            self._checked.add(digest)
            try:
                self._store.read_bytes(digest)
            except BlobError as error:
                self._problems += 1
                if self._problems <= MAX_BLOB_PROBLEMS:
                    self._report.problems.append(
                        Problem(
                            "blob",
                            f"{error} (referred to by record seq {record.seq})",
                            entry.file,
                            entry.line,
                            record.seq,
                        )
                    )
            else:
                self._report.blobs_checked += 1


def verify(
    directory: Path, *, external_anchor: Anchor | None = None, check_blobs: bool = True, deep: bool = False
) -> VerifyReport:
    """Check the journal in ``directory``; the report's ``problems`` is empty when all is well.

    ``deep`` also parses every payload and checks that it is canonical JSON (slower; the hash over
    the line's bytes already detects any change to them).
    """
    report = VerifyReport(directory=str(directory))
    # the anchor first: it is written after the records it names, so reading it before the ledger
    # never makes a running bot's ledger look truncated
    try:
        report.anchor = read_anchor(directory / ANCHOR_FILE)
    except AnchorError as error:
        report.problems.append(Problem("anchor", f"{error}: a truncated tail cannot be detected"))
    writer_active = writer_is_active(directory)
    files = ledger_files(directory)
    report.files = [path.name for path in files]
    anchors = [anchor for anchor in (report.anchor, external_anchor) if anchor is not None and anchor.seq > 0]
    anchored_hashes: dict[int, str] = {}
    blobs = _BlobChecker(directory, report) if check_blobs else None

    expected = 1
    previous_hash = GENESIS_HASH
    history: deque[_Entry] = deque(maxlen=2)
    chain_problem: Problem | None = None
    rest: list[_Entry] = []  # entries from the first anomaly on
    torn: tuple[_Entry, bytes] | None = None
    max_valid_seq = 0

    for file_index, path in enumerate(files):
        is_last_file = file_index == len(files) - 1
        for raw in iter_lines(path):
            if not raw.terminated and is_last_file:
                torn = (_Entry(path.name, raw.line_no, None, None, None, "incomplete"), raw.data)
                break
            if not raw.terminated:
                entry, record = _Entry(path.name, raw.line_no, None, None, None, "line has no newline"), None
            else:
                entry, record = _entry(path.name, raw.line_no, raw.data, deep)
            if record is None:
                report.damaged_lines += 1
            else:
                report.records += 1
                max_valid_seq = max(max_valid_seq, record.seq)
                for anchor in anchors:
                    if record.seq == anchor.seq:
                        anchored_hashes[record.seq] = record.hash
                if blobs is not None:
                    blobs.check(record, entry)
            if rest or chain_problem is not None:
                rest.append(entry)
                continue
            if record is not None and record.seq == expected and record.prev_hash == previous_hash:
                expected += 1
                previous_hash = record.hash
                history.append(entry)
                report.last_seq = record.seq
                report.last_hash = record.hash
                continue
            rest.append(entry)

    if rest:
        chain_problem = _classify(expected, previous_hash, history, rest)
        report.problems.insert(0, chain_problem)

    if torn is not None:
        entry, data = torn
        if writer_active:
            report.notes.append(f"the last line of {entry.file} is being written by the running bot")
        else:
            problem = _torn_problem(entry, data, report, anchors)
            report.problems.insert(1 if chain_problem else 0, problem)

    for anchor in anchors:
        source = "the anchor" if anchor is report.anchor else "the given anchor"
        if anchor.seq > max_valid_seq:
            if not any(problem.kind == "truncated" for problem in report.problems):
                report.problems.append(
                    Problem(
                        "truncated",
                        f"the ledger ends at seq {max_valid_seq} but {source} records seq {anchor.seq}: "
                        f"records {max_valid_seq + 1}..{anchor.seq} are missing",
                        report.files[-1] if report.files else None,
                        None,
                        max_valid_seq + 1,
                    )
                )
        elif anchored_hashes.get(anchor.seq) != anchor.hash:
            report.problems.append(
                Problem(
                    "altered",
                    f"record seq {anchor.seq} does not have the hash {source} records ({anchor.hash[:16]}…): "
                    "the ledger was rewritten after it was anchored",
                    seq=anchor.seq,
                )
            )
    if report.anchor is None and report.records > 0 and not any(p.kind == "anchor" for p in report.problems):
        report.problems.append(Problem("anchor", f"{ANCHOR_FILE} is missing: a truncated tail cannot be detected"))
    if report.anchor is not None and report.ok and report.anchor.seq < report.last_seq:
        lag = report.last_seq - report.anchor.seq
        report.notes.append(
            f"the ledger has {lag} record(s) after the anchor (seq {report.anchor.seq})"
            + ("; the running bot updates it" if writer_active else "; normal after a crash, updated on the next open")
        )
    return report


def _torn_problem(entry: _Entry, data: bytes, report: VerifyReport, anchors: list[Anchor]) -> Problem:
    where = f"{entry.file} line {entry.line}"
    expected_seq = report.last_seq + 1
    for candidate in (data, data[:-1]):
        try:
            record = check_line(candidate)
        except LineError:
            continue
        if candidate is data:
            return Problem(
                "truncated",
                f"record seq {record.seq} at {where} lost its final newline",
                entry.file,
                entry.line,
                record.seq,
            )
        return Problem(
            "altered",
            f"the newline ending record seq {record.seq} at {where} was changed",
            entry.file,
            entry.line,
            record.seq,
        )
    anchored = max((anchor.seq for anchor in anchors), default=0)
    if anchored >= expected_seq:
        return Problem(
            "truncated",
            f"the ledger ends inside record seq {expected_seq} ({where}: {len(data)} bytes without a newline) and "
            f"the anchor records seq {anchored}",
            entry.file,
            entry.line,
            expected_seq,
        )
    return Problem(
        "torn",
        f"the last line ({where}, {len(data)} bytes) is an incomplete record left by a crash mid-write; "
        "the next start of the bot moves it into quarantine and records that",
        entry.file,
        entry.line,
        expected_seq,
    )


def _classify(expected: int, previous_hash: str, history: deque[_Entry], rest: list[_Entry]) -> Problem:
    current = rest[0]
    following = rest[1:]
    after = f", after seq {expected - 1}" if expected > 1 else ""
    if current.error is not None:
        nxt = following[0] if following else None
        if nxt is not None and nxt.error is None and nxt.seq == expected and nxt.prev_hash == previous_hash:
            return Problem(
                "inserted",
                f"{current.where} is not part of the chain: the record after it (seq {expected}) links to "
                f"seq {expected - 1}; the line itself is not a valid record ({current.error})",
                current.file,
                current.line,
                None,
            )
        return Problem(
            "altered",
            f"{current.where} (expected record seq {expected}{after}): {current.error}",
            current.file,
            current.line,
            expected,
        )
    assert current.seq is not None
    seq = current.seq
    if seq == expected:
        # a valid record that does not link: it, or the record before it, was rewritten
        successor = next((entry for entry in following if entry.error is None), None)
        predecessor = history[-1] if history else None
        if predecessor is not None and successor is not None and successor.prev_hash == current.hash:
            return Problem(
                "altered",
                f"record seq {predecessor.seq} at {predecessor.where} was rewritten: record seq {seq} "
                f"({current.where}) recorded a different hash for it",
                predecessor.file,
                predecessor.line,
                predecessor.seq,
            )
        return Problem(
            "altered",
            f"record seq {seq} at {current.where} does not link to the record before it (its prev_hash is not "
            f"the hash of seq {expected - 1}): it was rewritten",
            current.file,
            current.line,
            seq,
        )
    if seq > expected:
        found = next((entry for entry in following if entry.seq == expected), None)
        if found is not None:
            return Problem(
                "reordered",
                f"record seq {seq} at {current.where} comes before record seq {expected} (at {found.where}): "
                "the records are out of order",
                current.file,
                current.line,
                seq,
            )
        missing = f"record seq {expected} is" if seq == expected + 1 else f"records seq {expected}..{seq - 1} are"
        return Problem(
            "deleted",
            f"{missing} missing: {current.where} holds seq {seq}"
            + (f" right after seq {expected - 1}" if expected > 1 else ""),
            current.file,
            current.line,
            expected,
        )
    # seq < expected: a seq the chain has already passed
    if history and history[-1].seq == seq:
        last = history[-1]
        if last.hash == current.hash:
            return Problem(
                "inserted",
                f"{current.where} is a copy of record seq {seq} ({last.where})",
                current.file,
                current.line,
                seq,
            )
        if len(history) == 2 and current.prev_hash == history[0].hash:
            return Problem(
                "inserted",
                f"the record at {last.where} claiming seq {seq} is not part of the chain: the record after it "
                f"({current.where}) is seq {seq} and links to seq {seq - 1}",
                last.file,
                last.line,
                seq,
            )
    return Problem(
        "inserted",
        f"{current.where} holds seq {seq}, which the chain has already passed (expected seq {expected}{after})",
        current.file,
        current.line,
        seq,
    )
