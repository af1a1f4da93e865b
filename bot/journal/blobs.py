"""Content-addressed blob store for large payloads (the planner's full inputs), gzip-compressed.

A blob's name is the SHA-256 of its canonical JSON text (before compression):
``<journal>/blobs/<first two hex digits>/<sha256>.json.gz``. gzip keeps its own CRC and opens with
standard tools (``zcat``). A blob is written to a temporary file, fsynced, renamed into place and
its directory fsynced before any record refers to it.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import threading
import zlib
from pathlib import Path

from bot.journal.encoding import HEX64, sha256_hex
from bot.journal.files import fsync_dir, fsync_fd, make_dirs_durably, write_all
from strategies.canonical import JsonValue, canonical_json

BLOB_DIR = "blobs"
MAX_BLOB_BYTES = 512 * 1024 * 1024  # decompressed; a bigger "snapshot" is corruption, not data


class BlobError(ValueError):
    """A blob that is missing, unreadable or does not match its name."""


class BlobStore:
    def __init__(self, journal_directory: Path) -> None:
        self.root = journal_directory / BLOB_DIR

    def path_for(self, digest: str) -> Path:
        if not HEX64.match(digest):
            raise BlobError(f"{digest!r} is not a SHA-256 hex digest")
        return self.root / digest[:2] / f"{digest}.json.gz"

    def put(self, value: JsonValue) -> tuple[str, int, bool]:
        """Store ``value``; returns (sha256 of its canonical JSON, its size in bytes, newly written).

        An existing blob with the same name is checked first; a damaged one raises ``BlobError``
        (the caller decides how to record and replace it).
        """
        data = canonical_json(value).encode("utf-8")
        digest = sha256_hex(data)
        path = self.path_for(digest)
        if path.exists():
            self.read_bytes(digest)  # raises when damaged
            return digest, len(data), False
        self.write_bytes(digest, data)
        return digest, len(data), True

    def write_bytes(self, digest: str, data: bytes) -> None:
        path = self.path_for(digest)
        make_dirs_durably(path.parent)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            write_all(fd, gzip.compress(data, compresslevel=6, mtime=0))
            fsync_fd(fd)
        finally:
            os.close(fd)
        temporary.replace(path)
        fsync_dir(path.parent)

    def exists(self, digest: str) -> bool:
        return self.path_for(digest).is_file()

    def read_bytes(self, digest: str) -> bytes:
        """The blob's canonical JSON bytes, checked against its name."""
        path = self.path_for(digest)
        try:
            compressed = path.read_bytes()
        except FileNotFoundError:
            raise BlobError(f"blob {digest} is missing ({path})") from None
        except OSError as error:
            raise BlobError(f"blob {digest} cannot be read: {error}") from None
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(compressed)) as stream:
                data = stream.read(MAX_BLOB_BYTES + 1)
        except (OSError, EOFError, zlib.error) as error:
            raise BlobError(f"blob {digest} is damaged: {error}") from None
        if len(data) > MAX_BLOB_BYTES:
            raise BlobError(f"blob {digest} is larger than {MAX_BLOB_BYTES} bytes")
        actual = sha256_hex(data)
        if actual != digest:
            raise BlobError(f"blob {digest} was altered: its content hashes to {actual}")
        return data

    def read(self, digest: str) -> JsonValue:
        data = self.read_bytes(digest)
        try:
            value: JsonValue = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:  # pragma: no cover - hash checked above
            raise BlobError(f"blob {digest} is not JSON: {error}") from None
        return value
