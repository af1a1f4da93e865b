"""What ``Journal.open`` finds at the end of the ledger, and moving a torn tail into quarantine.

Only the tail is examined (the records the last run may have been writing). A line without its
newline is a torn write; a complete last line that is not a valid record and is not covered by the
anchor is treated the same way. Both are moved — byte for byte — into ``quarantine/`` and the file is
cut back to the last valid record; the caller then appends an ``error`` record describing what was
moved. Anything else that is wrong (an anchored record damaged, records missing before the anchor, a
tail that does not chain) is not a crash artefact: the journal refuses to open and names the problem.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bot.journal.anchor import Anchor
from bot.journal.encoding import GENESIS_HASH, LineError, Record, check_line, sha256_hex
from bot.journal.errors import JournalIntegrityError
from bot.journal.files import RawLine, atomic_replace, fsync_fd, iter_ledger_reverse, make_dirs_durably

QUARANTINE_DIR = "quarantine"
VERIFY_HINT = "run `alvh audit verify` for details; the journal was left untouched"


@dataclass(frozen=True)
class QuarantineItem:
    file: Path
    offset: int
    data: bytes  # as found, including its newline when it had one
    reason: str

    @property
    def name(self) -> str:
        return f"{self.file.name}@{self.offset}.{sha256_hex(self.data)[:16]}.quarantined"


@dataclass
class TailState:
    last: Record | None  # the last valid record after the quarantine
    last_file: Path | None
    quarantine: list[QuarantineItem] = field(default_factory=list)
    anchor_missing: bool = False


class _ReverseLines:
    """The ledger's lines from the end, with one-line pushback."""

    def __init__(self, directory: Path) -> None:
        self._lines: Iterator[RawLine] = iter_ledger_reverse(directory)
        self._pushed: list[RawLine] = []

    def next(self) -> RawLine | None:
        return self._pushed.pop() if self._pushed else next(self._lines, None)

    def push(self, line: RawLine) -> None:
        self._pushed.append(line)


def analyse_tail(directory: Path, anchor: Anchor | None) -> TailState:
    lines = _ReverseLines(directory)
    quarantine: list[QuarantineItem] = []
    current = lines.next()
    if current is not None and not current.terminated:
        quarantine.append(
            QuarantineItem(
                current.file,
                current.offset,
                current.data,
                f"torn write: the last line has no newline ({len(current.data)} bytes)",
            )
        )
        current = lines.next()
    last: Record | None = None
    last_file: Path | None = None
    if current is not None:
        try:
            last = check_line(current.data)
            last_file = current.file
        except LineError as error:
            predecessor_line = lines.next()
            predecessor = _valid_or_refuse(predecessor_line, "the last two lines of the ledger are damaged")
            covered = anchor is not None and predecessor is not None and anchor.seq > predecessor.seq
            covered = covered or (anchor is not None and predecessor is None and anchor.seq > 0)
            if covered:
                assert anchor is not None
                raise JournalIntegrityError(
                    f"the last line of {current.file.name} (offset {current.offset}) is damaged ({error}) but the "
                    f"anchor says record seq {anchor.seq} was written durably; {VERIFY_HINT}"
                ) from None
            quarantine.append(
                QuarantineItem(current.file, current.offset, current.data + b"\n", f"damaged last line: {error}")
            )
            last = predecessor
            last_file = predecessor_line.file if predecessor_line is not None else None
    if last is not None:
        _check_link(last, lines)
    state = TailState(last=last, last_file=last_file, quarantine=quarantine)
    _check_anchor(state, anchor, lines)
    return state


def _valid_or_refuse(line: RawLine | None, problem: str) -> Record | None:
    if line is None:
        return None
    if not line.terminated:  # pragma: no cover - only the very last line can lack its newline
        raise JournalIntegrityError(f"{problem}; {VERIFY_HINT}")
    try:
        return check_line(line.data)
    except LineError as error:
        raise JournalIntegrityError(
            f"{problem} ({line.file.name} offset {line.offset}: {error}); {VERIFY_HINT}"
        ) from None


def _check_link(last: Record, lines: _ReverseLines) -> None:
    predecessor_line = lines.next()
    if predecessor_line is None:
        if last.seq != 1 or last.prev_hash != GENESIS_HASH:
            raise JournalIntegrityError(
                f"the ledger's only record has seq {last.seq}, expected the first record (seq 1); {VERIFY_HINT}"
            )
        return
    predecessor = _valid_or_refuse(predecessor_line, f"the record before the last one (seq {last.seq}) is damaged")
    assert predecessor is not None
    if predecessor.seq + 1 != last.seq or last.prev_hash != predecessor.hash:
        raise JournalIntegrityError(
            f"the last record (seq {last.seq}) does not follow the one before it (seq {predecessor.seq}); {VERIFY_HINT}"
        )
    lines.push(predecessor_line)  # the anchor check may continue backwards from here


def _check_anchor(state: TailState, anchor: Anchor | None, lines: _ReverseLines) -> None:
    last_seq = state.last.seq if state.last else 0
    last_hash = state.last.hash if state.last else GENESIS_HASH
    if anchor is None:
        state.anchor_missing = last_seq > 0
        return
    if anchor.seq > last_seq:
        raise JournalIntegrityError(
            f"the ledger ends at seq {last_seq} but the anchor says seq {anchor.seq} was written: "
            f"records {last_seq + 1}..{anchor.seq} are missing (truncated); {VERIFY_HINT}"
        )
    if anchor.seq == last_seq:
        if anchor.hash != last_hash:
            raise JournalIntegrityError(
                f"record seq {last_seq} does not have the hash the anchor recorded (rewritten); {VERIFY_HINT}"
            )
        return
    if anchor.seq == 0:
        if anchor.hash != GENESIS_HASH:
            raise JournalIntegrityError(f"the anchor for seq 0 has a non-genesis hash; {VERIFY_HINT}")
        return
    # the ledger is ahead of the anchor (a crash between writing records and the anchor): the
    # anchored record must still be there, unchanged
    while (line := lines.next()) is not None:
        try:
            record = check_line(line.data)
        except LineError:
            continue
        if record.seq == anchor.seq:
            if record.hash != anchor.hash:
                raise JournalIntegrityError(
                    f"record seq {anchor.seq} does not have the hash the anchor recorded (rewritten); {VERIFY_HINT}"
                )
            return
        if record.seq < anchor.seq:
            break
    raise JournalIntegrityError(f"record seq {anchor.seq} named by the anchor is not in the ledger; {VERIFY_HINT}")


def copy_into_quarantine(directory: Path, name: str, data: bytes) -> Path:
    """Keep ``data`` as ``quarantine/name`` (durably; a copy already there under that name is kept)."""
    target_dir = directory / QUARANTINE_DIR
    make_dirs_durably(target_dir)
    target = target_dir / name
    if not target.exists():
        atomic_replace(target, data)
    return target


def quarantine_tail(directory: Path, item: QuarantineItem) -> Path:
    """Copy the bytes into ``quarantine/`` (durably), then cut the ledger file back to ``item.offset``.

    Idempotent: a crash anywhere leaves either the original tail (found again on the next open) or
    the copy plus the cut file; the copy's name depends only on where the bytes were and what they are.
    """
    target = copy_into_quarantine(directory, item.name, item.data)
    fd = os.open(item.file, os.O_WRONLY)
    try:
        if os.fstat(fd).st_size > item.offset:
            os.ftruncate(fd, item.offset)
        fsync_fd(fd)
    finally:
        os.close(fd)
    return target
