"""SQLite index (WAL) over the ledger: queries by time, kind, cycle, slot, intent, order id, perm id.

The ledger is the source of truth; the index only says where a record is (file and byte offset)
plus its summary and searchable refs, and can be rebuilt from the ledger at any time with exactly
the same content (``alvh audit reindex``). The writer adds rows after the records are durable in
the ledger; if the process dies in between, ``Journal.open`` catches the index up.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.journal.encoding import LineError, Record, check_line
from bot.journal.files import iter_lines, ledger_files, read_line_at
from bot.journal.summary import SUMMARY_VERSION, summarize

INDEX_FILE = "index.sqlite"
SCHEMA_VERSION = "1"

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    kind TEXT NOT NULL,
    cycle_id TEXT,
    hash TEXT NOT NULL,
    file TEXT NOT NULL,
    offset INTEGER NOT NULL,
    length INTEGER NOT NULL,
    summary TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS refs (
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (key, value, seq)
) WITHOUT ROWID;
"""

_INDEXES = """
CREATE INDEX IF NOT EXISTS records_ts ON records (ts);
CREATE INDEX IF NOT EXISTS records_kind_ts ON records (kind, ts);
CREATE INDEX IF NOT EXISTS records_cycle ON records (cycle_id);
CREATE INDEX IF NOT EXISTS records_hash ON records (hash);
CREATE INDEX IF NOT EXISTS refs_seq ON refs (seq);
"""

INSERT_RECORD = "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
INSERT_REF = "INSERT OR IGNORE INTO refs VALUES (?, ?, ?)"


class IndexUnusableError(Exception):
    """The index cannot be used (corrupt file, unexpected schema)."""


@dataclass(frozen=True, slots=True)
class Located:
    """Where a record is in the ledger."""

    record: Record
    file: str
    offset: int
    length: int


@dataclass(frozen=True)
class IndexRow:
    seq: int
    ts: str
    kind: str
    cycle_id: str | None
    hash: str
    file: str
    offset: int
    length: int
    summary: str
    refs: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "ts": self.ts,
            "kind": self.kind,
            "cycle_id": self.cycle_id,
            "hash": self.hash,
            "file": self.file,
            "offset": self.offset,
            "summary": self.summary,
            "refs": self.refs,
        }


@dataclass(frozen=True)
class Query:
    since: str | None = None  # ts >= since (RFC 3339 UTC text, same format as records)
    until: str | None = None  # ts < until
    kinds: Sequence[str] = ()
    slot: str | None = None
    intent: str | None = None
    order_id: int | None = None
    perm_id: int | None = None
    cycle_id: str | None = None
    limit: int | None = None  # the last N matches (still listed oldest first)


def index_rows(located: Located) -> tuple[tuple[object, ...], list[tuple[str, str, int]]]:
    record = located.record
    row = (
        record.seq,
        record.ts,
        record.kind,
        record.cycle_id,
        record.hash,
        located.file,
        located.offset,
        located.length,
        summarize(record),
    )
    refs: list[tuple[str, str, int]] = []
    for key in sorted(record.refs):
        for value in record.ref_values(key):
            refs.append((key, str(value), record.seq))
    return row, refs


def scan_ledger(directory: Path, after: tuple[str, int] | None = None) -> Iterator[Located]:
    """Every valid record of the ledger in order (from ``after`` = (file name, next offset) on).

    Lines that are not valid records are skipped here; ``verify`` is the tool that reports them.
    """
    files = ledger_files(directory)
    for path in files:
        start = 0
        if after is not None:
            if path.name < after[0]:
                continue
            if path.name == after[0]:
                start = after[1]
        for raw in iter_lines(path, start):
            if not raw.terminated:
                continue
            try:
                record = check_line(raw.data, canonical=False)
            except LineError:
                continue
            yield Located(record, path.name, raw.offset, len(raw.data))


class JournalIndex:
    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._db = connection

    @classmethod
    def open(cls, path: Path, *, create: bool = True) -> JournalIndex:
        """Open (creating when allowed) the index; raise ``IndexUnusableError`` when the file is unusable."""
        if not create and not path.exists():
            raise IndexUnusableError(f"{path} does not exist")
        try:
            connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
            connection.execute("PRAGMA journal_mode=WAL")
            # the index is rebuildable from the ledger: it need not be fsynced on every commit
            connection.execute("PRAGMA synchronous=NORMAL")
            if create:
                connection.executescript(_TABLES + _INDEXES)
                connection.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
            version = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.DatabaseError as error:
            raise IndexUnusableError(f"{path}: {error}") from None
        if version is None or version[0] != SCHEMA_VERSION:
            connection.close()
            raise IndexUnusableError(
                f"{path}: schema version {version[0] if version else None}, expected {SCHEMA_VERSION}"
            )
        return cls(path, connection)

    @classmethod
    def open_or_recreate(cls, path: Path) -> JournalIndex:
        """Open the index; a damaged or foreign file is deleted and a new empty index created."""
        try:
            return cls.open(path)
        except IndexUnusableError:
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    Path(f"{path}{suffix}").unlink()
            return cls.open(path)

    def close(self) -> None:
        self._db.close()

    # ---------------------------------------------------------------------------------------------
    # writing

    def add(self, located: Iterable[Located]) -> None:
        records: list[tuple[object, ...]] = []
        refs: list[tuple[str, str, int]] = []
        for item in located:
            row, item_refs = index_rows(item)
            records.append(row)
            refs.extend(item_refs)
        if not records:
            return
        with self._transaction():
            self._db.executemany(INSERT_RECORD, records)
            self._db.executemany(INSERT_REF, refs)

    def rebuild(self, directory: Path) -> int:
        """Replace the whole content with what the ledger in ``directory`` says; returns the record count."""
        count = 0
        with self._transaction():
            self._script("DROP TABLE IF EXISTS records; DROP TABLE IF EXISTS refs;")
            # no secondary indexes while loading: building them once at the end is much faster
            self._script(_TABLES)
            batch: list[Located] = []
            for located in scan_ledger(directory):
                batch.append(located)
                if len(batch) >= 5000:
                    count += self._insert(batch)
                    batch = []
            count += self._insert(batch)
            self._script(_INDEXES)
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('summary_version', ?)", (SUMMARY_VERSION,))
        return count

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _script(self, script: str) -> None:
        # executescript() would commit the open transaction first; rebuild must stay one transaction
        for statement in script.split(";"):
            if statement.strip():
                self._db.execute(statement)

    def catch_up(self, directory: Path) -> int:
        """Index the ledger records after the last indexed one; rebuild when the two disagree.

        Returns the number of records (re)indexed.
        """
        last = self.last()
        if last is None or self._meta("summary_version") != SUMMARY_VERSION:
            return self.rebuild(directory)
        seq, digest, file_name, offset, length = last
        path = directory / file_name
        try:
            record = check_line(read_line_at(path, offset, length))
        except (OSError, LineError):
            return self.rebuild(directory)
        if record.seq != seq or record.hash != digest:
            return self.rebuild(directory)
        count = 0
        batch: list[Located] = []
        for located in scan_ledger(directory, after=(file_name, offset + length + 1)):
            batch.append(located)
            if len(batch) >= 5000:
                count += self._insert_checked(batch)
                batch = []
        count += self._insert_checked(batch)
        return count

    def _insert_checked(self, batch: list[Located]) -> int:
        if not batch:
            return 0
        with self._transaction():
            return self._insert(batch)

    def _insert(self, batch: list[Located]) -> int:
        records: list[tuple[object, ...]] = []
        refs: list[tuple[str, str, int]] = []
        for item in batch:
            row, item_refs = index_rows(item)
            records.append(row)
            refs.extend(item_refs)
        # OR REPLACE: a ledger that (wrongly) repeats a seq must not stop the index from loading;
        # verify reports the duplicate
        self._db.executemany(INSERT_RECORD.replace("INSERT", "INSERT OR REPLACE", 1), records)
        self._db.executemany(INSERT_REF, refs)
        return len(batch)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # ---------------------------------------------------------------------------------------------
    # reading

    def last(self) -> tuple[int, str, str, int, int] | None:
        row = self._db.execute(
            "SELECT seq, hash, file, offset, length FROM records ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]), str(row[2]), int(row[3]), int(row[4]))

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM records").fetchone()[0])

    def has_ref(self, key: str, value: str) -> bool:
        row = self._db.execute("SELECT 1 FROM refs WHERE key = ? AND value = ? LIMIT 1", (key, value)).fetchone()
        return row is not None

    def by_seq(self, seq: int) -> IndexRow | None:
        rows = self._select("WHERE seq = ?", [seq])
        return rows[0] if rows else None

    def by_hash_prefix(self, prefix: str) -> list[IndexRow]:
        return self._select("WHERE hash >= ? AND hash < ? ORDER BY seq LIMIT 10", [prefix, prefix + "g"])

    def query(self, query: Query) -> list[IndexRow]:
        clauses: list[str] = []
        parameters: list[object] = []
        if query.since:
            clauses.append("ts >= ?")
            parameters.append(query.since)
        if query.until:
            clauses.append("ts < ?")
            parameters.append(query.until)
        if query.kinds:
            clauses.append(f"kind IN ({', '.join('?' for _ in query.kinds)})")
            parameters.extend(query.kinds)
        if query.cycle_id:
            clauses.append("cycle_id = ?")
            parameters.append(query.cycle_id)
        for key, value in (
            ("slot", query.slot),
            ("intent", query.intent),
            ("order_id", query.order_id),
            ("perm_id", query.perm_id),
        ):
            if value is not None:
                clauses.append("seq IN (SELECT seq FROM refs WHERE key = ? AND value = ?)")
                parameters.extend([key, str(value)])
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        if query.limit is not None:
            rows = self._select(f"{where} ORDER BY seq DESC LIMIT ?", [*parameters, query.limit])
            rows.reverse()
            return rows
        return self._select(f"{where} ORDER BY seq", parameters)

    def dump(self) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        """Every row of both tables, in key order (to compare a live index with a rebuilt one)."""
        records = self._db.execute("SELECT * FROM records ORDER BY seq").fetchall()
        refs = self._db.execute("SELECT * FROM refs ORDER BY key, value, seq").fetchall()
        return records, refs

    def _select(self, tail: str, parameters: Sequence[object]) -> list[IndexRow]:
        rows = self._db.execute(
            f"SELECT seq, ts, kind, cycle_id, hash, file, offset, length, summary FROM records {tail}", parameters
        ).fetchall()
        refs: dict[int, dict[str, list[str]]] = {}
        seqs = [row[0] for row in rows]
        for start in range(0, len(seqs), 500):
            chunk = seqs[start : start + 500]
            placeholders = ", ".join("?" for _ in chunk)
            for key, value, seq in self._db.execute(
                f"SELECT key, value, seq FROM refs WHERE seq IN ({placeholders}) ORDER BY seq, key, value", chunk
            ):
                refs.setdefault(seq, {}).setdefault(key, []).append(value)
        return [
            IndexRow(
                seq=row[0],
                ts=row[1],
                kind=row[2],
                cycle_id=row[3],
                hash=row[4],
                file=row[5],
                offset=row[6],
                length=row[7],
                summary=row[8],
                refs=refs.get(row[0], {}),
            )
            for row in rows
        ]
