"""The decision journal: an append-only, hash-chained JSON-lines ledger with durable appends.

Layout of a journal directory (``<state_dir>/journal``)::

    ledger-YYYY-MM.jsonl   the records, one canonical JSON object per line, monthly by record ts
    anchor.json            last durable seq and hash, replaced atomically (detects a truncated tail)
    index.sqlite           query index (WAL), rebuildable from the ledger
    blobs/                 compressed, content-addressed large payloads (snapshots)
    quarantine/            torn or damaged tails moved aside on open, byte for byte
    account.key            key of the account redaction (see redact.py)
    .lock                  one writing process at a time

``append`` returns only once its record is on stable storage: one ``write`` of the whole line to a
file opened with O_APPEND, then ``fsync``. With ``group_commit`` appends that arrive from other
threads while an fsync is in flight are written together by the next fsync; still none returns
before its own record is durable.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import structlog
from pydantic_core import PydanticSerializationError, to_jsonable_python

from bot.journal.anchor import ANCHOR_FILE, Anchor, AnchorError, read_anchor, write_anchor
from bot.journal.blobs import BlobError, BlobStore
from bot.journal.encoding import (
    GENESIS_HASH,
    KIND_PATTERN,
    MODES,
    Record,
    encode_record,
    format_ts,
    ledger_name_for,
    normalize_refs,
    sha256_hex,
)
from bot.journal.errors import JournalClosedError, JournalError, JournalWriteError
from bot.journal.files import (
    WriterLock,
    fsync_dir,
    fsync_fd,
    ledger_files,
    make_dirs_durably,
    write_all,
)
from bot.journal.index import INDEX_FILE, JournalIndex, Located
from bot.journal.recovery import QUARANTINE_DIR, analyse_tail, copy_into_quarantine, quarantine_tail
from bot.journal.redact import load_or_create_key, redact_account
from bot.journal.writers import KindWriters
from strategies.canonical import JsonValue

log = structlog.get_logger(__name__)

JOURNAL_DIR = "journal"
TimeSource = Callable[[], dt.datetime]  # e.g. bot.clock.Clock.now


def journal_dir(state_dir: Path) -> Path:
    """The journal directory inside a state directory."""
    return state_dir / JOURNAL_DIR


@dataclass
class JournalStats:
    """Counters since open: durable records, ledger fsyncs and write batches (group commit batches)."""

    records: int = 0
    fsyncs: int = 0
    batches: int = 0


@dataclass(frozen=True, slots=True)
class _Pending:
    record: Record
    line: bytes
    file_name: str


def _keep_in_quarantine(directory: Path, path: Path, label: str) -> str:
    data = path.read_bytes()
    name = f"{label}.{sha256_hex(data)[:16]}.quarantined"
    copy_into_quarantine(directory, name, data)
    return name


class Journal(KindWriters):
    """Open with ``Journal.open(...)``; use as a context manager or call ``close()``."""

    def __init__(
        self,
        directory: Path,
        *,
        clock: TimeSource,
        code_version: str,
        config_hash: str,
        mode: Literal["paper", "live"],
        account_token: str | None,
        group_commit: bool,
        lock: WriterLock,
        index: JournalIndex,
        last: Record | None,
        current_file: str | None,
    ) -> None:
        self.directory = directory
        self.blobs = BlobStore(directory)
        self._clock = clock
        self._code_version = code_version
        self._config_hash = config_hash
        self._mode = mode
        self._account = account_token
        self._group_commit = group_commit
        self._writer_lock = lock
        self._index: JournalIndex | None = index
        self._cycle: ContextVar[str | None] = ContextVar(f"journal_cycle_{id(self)}", default=None)

        self._condition = threading.Condition(threading.Lock())
        self._next_seq = (last.seq if last else 0) + 1
        self._chain_hash = last.hash if last else GENESIS_HASH  # hash of the last record handed a seq
        self._durable = last
        self._pending: list[_Pending] = []
        self._flushing = False
        self._failure: JournalWriteError | None = None
        self._closed = False
        self._current_file = current_file
        self._fd: int | None = None
        self._fd_file: str | None = None
        self._fd_size = 0
        self._last_cycle_number = 0
        self._anchored_seq = -1
        self.stats = JournalStats()

    # ---------------------------------------------------------------------------------------------
    # opening and closing

    @classmethod
    def open(
        cls,
        directory: Path,
        *,
        clock: TimeSource,
        code_version: str,
        config_hash: str,
        mode: Literal["paper", "live"],
        account: str | None,
        group_commit: bool = False,
    ) -> Journal:
        """Open (creating if needed) the journal in ``directory`` for appending.

        Recovers from a crash of the previous writer: a torn last line is moved into quarantine and
        an ``error`` record says so; the index is caught up with the ledger; the anchor is brought
        up to date. Raises ``JournalIntegrityError`` (ledger truncated before its anchor, an anchored
        record damaged, a tail that does not chain) and ``JournalLockedError`` (another writer).
        """
        if mode not in MODES:
            raise ValueError(f"mode must be 'paper' or 'live', not {mode!r}")
        directory = Path(directory)
        make_dirs_durably(directory)
        lock = WriterLock(directory)
        lock.acquire()
        try:
            return cls._open_locked(
                directory,
                lock,
                clock=clock,
                code_version=code_version,
                config_hash=config_hash,
                mode=mode,
                account=account,
                group_commit=group_commit,
            )
        except BaseException:
            lock.release()
            raise

    @classmethod
    def _open_locked(
        cls,
        directory: Path,
        lock: WriterLock,
        *,
        clock: TimeSource,
        code_version: str,
        config_hash: str,
        mode: Literal["paper", "live"],
        account: str | None,
        group_commit: bool,
    ) -> Journal:
        notes: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = []  # error records to append
        anchor_path = directory / ANCHOR_FILE
        try:
            anchor = read_anchor(anchor_path)
        except AnchorError as error:
            # keep the unreadable anchor for whoever investigates, then rebuild it from the ledger
            kept = _keep_in_quarantine(directory, anchor_path, "anchor")
            notes.append(
                (
                    "anchor_unreadable",
                    f"{error}; moved to quarantine and recreated from the ledger's last record",
                    {"quarantine_file": kept},
                    {"quarantine": kept},
                )
            )
            anchor = None
        tail = analyse_tail(directory, anchor)
        for item in tail.quarantine:
            target = quarantine_tail(directory, item)
            log.warning("journal tail quarantined", file=item.file.name, offset=item.offset, reason=item.reason)
            notes.append(
                (
                    "torn_tail",
                    f"moved {len(item.data)} bytes at the end of {item.file.name} into quarantine: {item.reason}",
                    {
                        "file": item.file.name,
                        "offset": item.offset,
                        "bytes": len(item.data),
                        "quarantine_file": target.name,
                        "last_good_seq": tail.last.seq if tail.last else 0,
                    },
                    {"quarantine": target.name},
                )
            )
        if tail.anchor_missing and anchor is None and not any(note[0] == "anchor_unreadable" for note in notes):
            notes.append(
                (
                    "anchor_missing",
                    f"{ANCHOR_FILE} was missing although the ledger has records; recreated from the ledger's "
                    "last record (a truncation before this point cannot be detected from this machine)",
                    {},
                    {},
                )
            )

        index_path = directory / INDEX_FILE
        index = JournalIndex.open_or_recreate(index_path)
        try:
            reindexed = index.catch_up(directory)
        except sqlite3.DatabaseError:
            index.close()
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    Path(f"{index_path}{suffix}").unlink()
            index = JournalIndex.open(index_path)
            reindexed = index.rebuild(directory)
        if reindexed:
            log.info("journal index caught up", records=reindexed)

        quarantine_dir = directory / QUARANTINE_DIR
        noted = {note[3].get("quarantine") for note in notes}
        if quarantine_dir.is_dir():
            for path in sorted(quarantine_dir.iterdir()):
                if (
                    path.name.endswith(".quarantined")
                    and path.name not in noted
                    and not index.has_ref("quarantine", path.name)
                ):
                    # an earlier open moved it but died before recording it
                    notes.append(
                        (
                            "quarantine_unrecorded",
                            f"{path.name} was moved into quarantine by an interrupted recovery; recording it now",
                            {"quarantine_file": path.name, "bytes": path.stat().st_size},
                            {"quarantine": path.name},
                        )
                    )

        try:
            key = load_or_create_key(directory)
        except BaseException:
            index.close()
            raise
        token = redact_account(account, key) if account else None
        files = ledger_files(directory)
        current_file = files[-1].name if files else None
        journal = cls(
            directory,
            clock=clock,
            code_version=code_version,
            config_hash=config_hash,
            mode=mode,
            account_token=token,
            group_commit=group_commit,
            lock=lock,
            index=index,
            last=tail.last,
            current_file=current_file,
        )
        try:
            journal._write_anchor_if_needed(force=anchor is None or anchor.seq != journal.last_seq)
            for what, message, details, refs in notes:
                journal.append("error", {"what": what, "message": message, "details": details}, refs=refs)
        except BaseException:
            journal._close_files()
            raise
        return journal

    def close(self) -> None:
        """Wait for in-flight appends, write the final anchor and release the journal."""
        with self._condition:
            if self._closed:
                return
            while self._flushing:
                self._condition.wait()
            self._closed = True
        try:
            if self._failure is None:
                self._write_anchor_if_needed(force=False)
        finally:
            self._close_files()

    def _close_files(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._index is not None:
            self._index.close()
            self._index = None
        self._writer_lock.release()

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    # ---------------------------------------------------------------------------------------------
    # state

    @property
    def last_seq(self) -> int:
        """Seq of the last durable record (0 for an empty ledger)."""
        return self._durable.seq if self._durable else 0

    @property
    def last_hash(self) -> str:
        return self._durable.hash if self._durable else GENESIS_HASH

    @property
    def account_token(self) -> str | None:
        """The redacted account written on every record."""
        return self._account

    @property
    def current_cycle_id(self) -> str | None:
        return self._cycle.get()

    # ---------------------------------------------------------------------------------------------
    # cycles

    def new_cycle_id(self) -> str:
        """A new, unique evaluation id: ``c<UTC time of the clock>-<number>``."""
        moment = self._clock()
        stamp = format_ts(moment)
        with self._condition:
            number = max(self._next_seq, self._last_cycle_number + 1)
            self._last_cycle_number = number
        return f"c{stamp[0:4]}{stamp[5:7]}{stamp[8:10]}T{stamp[11:13]}{stamp[14:16]}{stamp[17:19]}Z-{number:06d}"

    @contextlib.contextmanager
    def cycle(self, trigger: str = "scheduled", **details: Any) -> Iterator[str]:
        """One evaluation: writes ``cycle`` start and end records; every record appended inside
        (from this thread or task, or threads it starts via ``append_async``) gets the cycle_id."""
        cycle_id = self.new_cycle_id()
        token = self._cycle.set(cycle_id)
        try:
            self.append("cycle", {"phase": "start", "trigger": trigger, "details": details}, cycle_id=cycle_id)
            try:
                yield cycle_id
            except BaseException as error:
                with contextlib.suppress(JournalError):
                    self.append(
                        "cycle",
                        {"phase": "end", "outcome": "failed", "error": f"{type(error).__name__}: {error}"},
                        cycle_id=cycle_id,
                    )
                raise
            self.append("cycle", {"phase": "end", "outcome": "completed", "error": None}, cycle_id=cycle_id)
        finally:
            self._cycle.reset(token)

    # ---------------------------------------------------------------------------------------------
    # appending

    def append(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        cycle_id: str | None = None,
        refs: dict[str, Any] | None = None,
    ) -> Record:
        """Append one record; returns it once it is durable (written and fsynced).

        ``payload`` may hold pydantic models, datetimes and other values pydantic can turn into JSON.
        ``cycle_id`` defaults to the enclosing ``cycle()``. ``refs`` names what the record concerns
        for the index: slot, intent, order_id, perm_id, exec_id, snapshot, decision, quarantine, blob.
        Raises ``JournalWriteError`` if the write fails (then no later append succeeds).
        """
        if not KIND_PATTERN.match(kind):
            raise ValueError(f"record kind {kind!r} must be lower-case letters and underscores")
        if not isinstance(payload, dict):
            raise TypeError(f"payload must be a dict, not {type(payload).__name__}")
        try:
            payload_json: dict[str, JsonValue] = to_jsonable_python(payload)
        except PydanticSerializationError as error:
            raise TypeError(f"payload of a {kind} record is not JSON-serializable: {error}") from None
        refs_json = normalize_refs(refs)
        effective_cycle = cycle_id if cycle_id is not None else self._cycle.get()
        with self._condition:
            self._check_usable()
            ts = format_ts(self._clock())
            record, line = encode_record(
                seq=self._next_seq,
                ts=ts,
                kind=kind,
                cycle_id=effective_cycle,
                payload=payload_json,
                refs=refs_json,
                code_version=self._code_version,
                config_hash=self._config_hash,
                mode=self._mode,
                account=self._account,
                prev_hash=self._chain_hash,
            )
            # never move back to an earlier month's file, even if the (simulated) clock does
            file_name = ledger_name_for(ts)
            if self._current_file is not None and file_name < self._current_file:
                file_name = self._current_file
            self._current_file = file_name
            self._next_seq += 1
            self._chain_hash = record.hash
            self._pending.append(_Pending(record, line, file_name))
            while self.last_seq < record.seq:
                if self._failure is not None:
                    raise self._failure
                if self._flushing:
                    self._condition.wait()
                    continue
                self._flush_locked()
        return record

    async def append_async(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        cycle_id: str | None = None,
        refs: dict[str, Any] | None = None,
    ) -> Record:
        """``append`` in a worker thread, so the event loop keeps running during the fsync."""
        return await asyncio.to_thread(self.append, kind, payload, cycle_id=cycle_id, refs=refs)

    def put_blob(self, value: JsonValue) -> tuple[str, int]:
        """Store a large payload; returns (sha256, size). Durable before it returns."""
        with self._condition:
            self._check_usable()
        try:
            digest, size, _ = self.blobs.put(value)
        except BlobError as error:
            # a damaged copy is in the way: keep it for the record, write the right content, say so
            from strategies.canonical import canonical_json

            data = canonical_json(value).encode("utf-8")
            digest, size = sha256_hex(data), len(data)
            damaged = self.blobs.path_for(digest)
            make_dirs_durably(self.directory / QUARANTINE_DIR)
            kept = self.directory / QUARANTINE_DIR / f"blob-{digest}-{damaged.stat().st_mtime_ns}.json.gz"
            damaged.replace(kept)
            fsync_dir(kept.parent)
            self.blobs.write_bytes(digest, data)
            self.append(
                "error",
                {"what": "blob_damaged", "message": f"{error}; rewritten, damaged copy kept", "details": {}},
                refs={"blob": digest, "quarantine": kept.name},
            )
        except OSError as error:
            raise JournalWriteError(f"cannot write a blob: {error}") from error
        return digest, size

    def _check_usable(self) -> None:
        if self._closed:
            raise JournalClosedError("the journal is closed")
        if self._failure is not None:
            raise self._failure

    def _flush_locked(self) -> None:
        """Write and fsync everything pending. Called with the condition held; with group commit the
        lock is released during I/O so that more appends can queue up for the next fsync."""
        batch = self._pending
        self._pending = []
        self._flushing = True
        failure: BaseException | None = None
        if self._group_commit:
            self._condition.release()
        try:
            located = self._write_batch(batch)
        except BaseException as error:
            failure = error
        finally:
            if self._group_commit:
                self._condition.acquire()
        if failure is not None:
            self._flushing = False
            self._failure = JournalWriteError(f"writing the journal failed: {failure}")
            self._failure.__cause__ = failure
            self._condition.notify_all()
            log.error("journal write failed", error=str(failure))
            raise self._failure
        self._durable = batch[-1].record
        self.stats.records += len(batch)
        self.stats.batches += 1
        self._condition.notify_all()
        # bookkeeping after durability: the acknowledged appends do not wait for it
        if self._group_commit:
            self._condition.release()
        try:
            self._after_durable(located)
        finally:
            if self._group_commit:
                self._condition.acquire()
            self._flushing = False
            self._condition.notify_all()

    def _write_batch(self, batch: list[_Pending]) -> list[Located]:
        located: list[Located] = []
        start = 0
        while start < len(batch):
            file_name = batch[start].file_name
            end = start
            while end < len(batch) and batch[end].file_name == file_name:
                end += 1
            fd = self._file(file_name)
            offset = self._fd_size
            for item in batch[start:end]:
                located.append(Located(item.record, file_name, offset, len(item.line) - 1))
                offset += len(item.line)
            data = b"".join(item.line for item in batch[start:end])
            write_all(fd, data)
            fsync_fd(fd)
            self.stats.fsyncs += 1
            self._fd_size = offset
            start = end
        return located

    def _file(self, file_name: str) -> int:
        if self._fd is not None and self._fd_file == file_name:
            return self._fd
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        path = self.directory / file_name
        created = not path.exists()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if created:
            fsync_dir(self.directory)  # the new file's name must be durable before its records are
        self._fd, self._fd_file, self._fd_size = fd, file_name, os.fstat(fd).st_size
        return fd

    def _after_durable(self, located: list[Located]) -> None:
        if self._index is not None:
            try:
                self._index.add(located)
            except sqlite3.Error as error:
                # the ledger has the records; the index is rebuilt on the next open
                log.error("journal index update failed; it will be rebuilt on the next open", error=str(error))
                self._index.close()
                self._index = None
        try:
            self._write_anchor_if_needed(force=False)
        except OSError as error:
            log.error("journal anchor update failed", error=str(error))

    def _write_anchor_if_needed(self, *, force: bool) -> None:
        seq = self.last_seq
        if not force and seq == self._anchored_seq:
            return
        durable = self._durable
        anchor = Anchor(seq=seq, hash=self.last_hash, ts=durable.ts if durable else None)
        write_anchor(self.directory / ANCHOR_FILE, anchor)
        self._anchored_seq = seq


__all__ = ["Journal", "JournalStats", "TimeSource", "journal_dir"]
