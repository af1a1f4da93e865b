"""Helpers the benchmark scripts share: a meter of the messages a gateway receives, and a process's RSS.

Imported by the ``scripts/bench_*.py`` scripts (``python scripts/bench_x.py`` puts ``scripts/`` on
``sys.path``) after they have put the repository root on ``sys.path`` for ``bot``.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Iterable
from pathlib import Path

from bot.sim import session as sim_session
from bot.sim.messages import REQUEST_NAMES


class MessageMeter:
    """Every request the given client ids send, as the gateway receives them: totals by type and the peak in
    any sliding one-second window. Creating one hooks every ``ClientSession`` of this process."""

    def __init__(self, client_ids: Iterable[int]) -> None:
        self.client_ids = frozenset(client_ids)
        self.window: collections.deque[float] = collections.deque()
        self.peak = 0
        self.by_type: collections.Counter[str] = collections.Counter()
        original = sim_session.ClientSession.dispatch
        meter = self

        def counting(session: sim_session.ClientSession, fields: list[str]) -> None:
            if session.client_id in meter.client_ids:
                meter.count(REQUEST_NAMES.get(int(fields[0]), fields[0]))
            original(session, fields)

        sim_session.ClientSession.dispatch = counting  # type: ignore[method-assign]

    def count(self, name: str) -> None:
        now = time.monotonic()
        self.window.append(now)
        while self.window and now - self.window[0] > 1.0:
            self.window.popleft()
        self.peak = max(self.peak, len(self.window))
        self.by_type[name] += 1

    @property
    def total(self) -> int:
        return sum(self.by_type.values())

    def snapshot(self) -> collections.Counter[str]:
        return collections.Counter(self.by_type)


def rss_kib(pid: int) -> int:
    """The resident set size of process ``pid`` in KiB, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid} (has it exited?)")
