"""One bot per state directory (an flock'd lock file), and a heartbeat file others can watch."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
from pathlib import Path
from typing import Any, TextIO

LOCK_NAME = "alvh.lock"
HEARTBEAT_NAME = "heartbeat.json"


class AlreadyRunningError(Exception):
    pass


class InstanceLock:
    """Held for the life of a run; the OS releases it if the process dies, so no stale lock survives."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_NAME
        self._file: TextIO | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise AlreadyRunningError(f"a bot already runs on {self.path.parent} (pid {holder})") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


def write_heartbeat(state_dir: Path, clock_time: dt.datetime, details: dict[str, Any]) -> None:
    """Atomically replace the heartbeat file: wall time, clock time, pid and a status summary."""
    document = {
        "pid": os.getpid(),
        "wall_time": dt.datetime.now(dt.UTC).isoformat(),
        "clock_time": clock_time.isoformat(),
        **details,
    }
    path = state_dir / HEARTBEAT_NAME
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(document, sort_keys=True, default=str))
    temporary.replace(path)


def read_heartbeat(state_dir: Path) -> dict[str, Any] | None:
    path = state_dir / HEARTBEAT_NAME
    try:
        document: dict[str, Any] = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return document
