"""Read access to a journal for the audit tools: the index kept current, records looked up by id.

Readers never take the writer lock and never change the ledger. When the index is missing or
behind the ledger and no bot is writing, it is brought up to date first (it is derived data); while
a bot is running, its writer keeps the index current.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.journal.encoding import LineError, Record, check_line
from bot.journal.errors import JournalError
from bot.journal.files import iter_ledger_reverse, ledger_files, read_line_at, writer_is_active
from bot.journal.index import INDEX_FILE, IndexRow, IndexUnusableError, JournalIndex, Query

HASH_PREFIX = re.compile(r"^[0-9a-f]{6,64}$")


class RecordNotFoundError(JournalError):
    pass


@dataclass(frozen=True)
class LoadedRecord:
    row: IndexRow
    record: Record


class JournalReader:
    def __init__(self, directory: Path, index: JournalIndex, *, stale_note: str | None) -> None:
        self.directory = directory
        self.index = index
        self.stale_note = stale_note

    @classmethod
    def open(cls, directory: Path) -> JournalReader:
        if not directory.is_dir() or not ledger_files(directory):
            raise JournalError(f"no journal in {directory} (no ledger-*.jsonl files)")
        path = directory / INDEX_FILE
        writing = writer_is_active(directory)
        if writing:
            try:
                index = JournalIndex.open(path, create=False)
            except IndexUnusableError as error:
                raise JournalError(
                    f"the index is unusable ({error}) and a bot is writing: stop it to rebuild"
                ) from None
            behind = _index_behind(directory, index)
            note = f"the index is {behind} record(s) behind the ledger (the bot is catching up)" if behind else None
            return cls(directory, index, stale_note=note)
        index = JournalIndex.open_or_recreate(path)
        index.catch_up(directory)
        return cls(directory, index, stale_note=None)

    def close(self) -> None:
        self.index.close()

    def __enter__(self) -> JournalReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ---------------------------------------------------------------------------------------------

    def query(self, query: Query) -> list[IndexRow]:
        return self.index.query(query)

    def load(self, row: IndexRow) -> Record:
        """The record behind an index row, read from the ledger and checked."""
        path = self.directory / row.file
        try:
            data = read_line_at(path, row.offset, row.length)
            record = check_line(data)
        except (OSError, LineError) as error:
            raise JournalError(
                f"record seq {row.seq} at {row.file} offset {row.offset} cannot be read or is damaged ({error}); "
                "run `alvh audit verify`"
            ) from None
        if record.seq != row.seq or record.hash != row.hash:
            raise JournalError(
                f"the ledger at {row.file} offset {row.offset} no longer holds record seq {row.seq}; "
                "run `alvh audit reindex` and `alvh audit verify`"
            )
        return record

    def resolve(self, identifier: str) -> LoadedRecord:
        """A record by seq (``123`` or ``#123``) or by a hash prefix (at least 6 hex digits)."""
        explicit_seq = identifier.strip().startswith("#")
        text = identifier.strip().lstrip("#")
        row: IndexRow | None = None
        if text.isdigit():
            row = self.index.by_seq(int(text))
            # a hash prefix can be all digits too
            if row is None and (explicit_seq or not HASH_PREFIX.match(text)):
                raise RecordNotFoundError(f"no record with seq {text}")
        if row is None and HASH_PREFIX.match(text.lower()):
            rows = self.index.by_hash_prefix(text.lower())
            if not rows:
                raise RecordNotFoundError(f"no record with seq {text} or whose hash starts with {text}")
            if len(rows) > 1:
                raise RecordNotFoundError(f"{text} is ambiguous: {len(rows)} records' hashes start with it")
            row = rows[0]
        if row is None:
            raise RecordNotFoundError(f"{identifier!r} is neither a seq number nor a hash prefix (6+ hex digits)")
        return LoadedRecord(row, self.load(row))

    def records(self, query: Query) -> Iterator[LoadedRecord]:
        for row in self.query(query):
            yield LoadedRecord(row, self.load(row))


def _index_behind(directory: Path, index: JournalIndex) -> int:
    last = index.last()
    for line in iter_ledger_reverse(directory):
        if not line.terminated:
            continue
        try:
            record = check_line(line.data)
        except LineError:
            continue
        return max(0, record.seq - (last[0] if last else 0))
    return 0
