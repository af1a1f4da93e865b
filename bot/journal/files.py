"""Durable file operations and reading the ledger files line by line.

Durability rules used throughout the journal: data is fsynced before anything refers to it; a new
file's directory entry is fsynced before the file is relied on; a file is replaced by writing a
temporary file, fsyncing it, renaming it over the old one and fsyncing the directory.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.journal.encoding import LEDGER_NAME
from bot.journal.errors import JournalLockedError

READ_CHUNK = 1 << 20


def fsync_fd(fd: int) -> None:
    # On macOS fsync does not reach stable storage; F_FULLFSYNC does.
    if sys.platform == "darwin":  # pragma: no cover - Linux in CI
        fcntl.fcntl(fd, fcntl.F_FULLFSYNC)
    else:
        os.fsync(fd)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def atomic_replace(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves either the old or the new content."""
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all(fd, data)
        fsync_fd(fd)
    finally:
        os.close(fd)
    temporary.replace(path)
    fsync_dir(path.parent)


def make_dirs_durably(path: Path) -> None:
    """Create ``path`` (and parents) and fsync each new directory entry."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir()
        fsync_dir(directory.parent)


class WriterLock:
    """An exclusive advisory lock on ``<journal>/.lock``: one writing process per journal.

    The kernel releases it when the process dies, so a crashed bot never leaves a stale lock.
    """

    def __init__(self, directory: Path) -> None:
        self.path = directory / ".lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            os.close(fd)
            if error.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise JournalLockedError(
                    f"the journal in {self.path.parent} is open for writing by another process (a running bot?)"
                ) from None
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def writer_is_active(directory: Path) -> bool:
    """True when a process holds the journal's writer lock (a running bot), without taking it."""
    path = directory / ".lock"
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def ledger_files(directory: Path) -> list[Path]:
    """The monthly ledger files in chain order (their names sort chronologically)."""
    if not directory.is_dir():
        return []
    return sorted(path for path in directory.iterdir() if LEDGER_NAME.match(path.name) and path.is_file())


@dataclass(frozen=True, slots=True)
class RawLine:
    """One line of a ledger file: where it is and its bytes without the ``\\n``."""

    file: Path
    line_no: int  # 1-based
    offset: int
    data: bytes
    terminated: bool  # False only for a last line without its newline (a torn write)


def iter_lines(path: Path, start_offset: int = 0, first_line_no: int = 1) -> Iterator[RawLine]:
    """The lines of one ledger file. Splits on ``\\n`` bytes only (never on other line separators)."""
    offset = start_offset
    line_no = first_line_no
    with path.open("rb") as handle:
        handle.seek(start_offset)
        for chunk in handle:
            terminated = chunk.endswith(b"\n")
            data = chunk[:-1] if terminated else chunk
            yield RawLine(path, line_no, offset, data, terminated)
            offset += len(chunk)
            line_no += 1


def read_line_at(path: Path, offset: int, length: int | None = None) -> bytes:
    """The line starting at ``offset`` (without its newline)."""
    with path.open("rb") as handle:
        handle.seek(offset)
        data = handle.read(length + 1) if length is not None else handle.readline()
    return data[:-1] if data.endswith(b"\n") else data


def iter_lines_reverse(path: Path, block: int = 64 * 1024) -> Iterator[RawLine]:
    """The lines of one file from the last to the first, read backwards in blocks.

    Line numbers are not known without reading the whole file; they are reported as 0.
    """
    size = path.stat().st_size
    if size == 0:
        return
    with path.open("rb") as handle:
        handle.seek(size - 1)
        terminated = handle.read(1) == b"\n"
        line_end = size - 1 if terminated else size  # exclusive end of the current line's content
        position = size  # buffer holds the file's bytes [position, position + len(buffer))
        buffer = b""
        while True:
            newline = buffer.rfind(b"\n", 0, line_end - position)
            if newline >= 0:
                start = position + newline + 1
                yield RawLine(path, 0, start, buffer[newline + 1 : line_end - position], terminated)
                terminated = True
                line_end = start - 1
                buffer = buffer[:newline]
                continue
            if position == 0:
                yield RawLine(path, 0, 0, buffer[:line_end], terminated)
                return
            read_start = max(0, position - block)
            handle.seek(read_start)
            buffer = handle.read(position - read_start) + buffer
            position = read_start
            block = min(block * 2, 16 * 1024 * 1024)


def iter_ledger_reverse(directory: Path) -> Iterator[RawLine]:
    """Every line of the ledger, last first, across the monthly files."""
    for path in reversed(ledger_files(directory)):
        yield from iter_lines_reverse(path)
