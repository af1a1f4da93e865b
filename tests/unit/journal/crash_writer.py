"""A journal writer for the crash test: appends until killed, reporting every acknowledged record.

Usage: crash_writer.py JOURNAL_DIR ACK_FILE SEED

Writes ``ready`` to ACK_FILE once imported (before opening the journal, so a kill can land during
recovery), then ``<seq> <hash>`` for every append that returned, i.e. every acknowledged record.
With an odd SEED it uses group commit and four writer threads; snapshots with blobs are mixed in.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import sys
import threading
from pathlib import Path

from bot.journal import Journal
from strategies.alvh.config import StrategyConfig
from strategies.alvh.models import Book, FutureQuote, MarketSnapshot


def main() -> None:
    directory, ack_path, seed = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    rng = random.Random(seed)
    acks = os.open(ack_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(acks, b"ready\n")
    # each round crosses into a new month after about 50 records: kills land around rotations too
    year, month = 2024 + (seed + 1) // 12, (seed + 1) % 12 + 1
    start = dt.datetime(year, month, 1, tzinfo=dt.UTC) - dt.timedelta(seconds=37 * 50)
    ticks = iter(range(10**9))
    lock = threading.Lock()

    def clock() -> dt.datetime:
        with lock:
            return start + dt.timedelta(seconds=37 * next(ticks))

    group = seed % 2 == 1
    journal = Journal.open(
        directory,
        clock=clock,
        code_version="crash",
        config_hash="0" * 64,
        mode="paper",
        account="DU7654321",
        group_commit=group,
    )
    config = StrategyConfig()

    def writer(number: int) -> None:
        local = random.Random(rng.random())
        for index in range(10**6):
            if local.random() < 0.05:
                snapshot = MarketSnapshot(
                    as_of=clock(),
                    vix=15 + local.random(),
                    vx_futures=[FutureQuote(expiry=dt.date(2024, 3, 20), price=17.5 + local.random(), monthly=True)],
                )
                record = journal.record_snapshot(snapshot, Book(), config).record
            else:
                record = journal.append(
                    "status",
                    {"writer": number, "index": index, "text": "x" * local.randrange(0, 3000)},
                    refs={"intent": f"w{number}-{index}"},
                )
            os.write(acks, f"{record.seq} {record.hash}\n".encode())

    threads = [threading.Thread(target=writer, args=(number,), daemon=True) for number in range(4 if group else 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main()
