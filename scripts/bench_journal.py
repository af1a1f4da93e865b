#!/usr/bin/env python3
"""Benchmark of the decision journal (issue 4). Prints its figures; exits 1 if a target is missed.

1. appends/s with one fsync per record (one writer thread), and with group commit (many threads);
2. time to verify a ledger of 1,000,000 records (hash chain, canonical form, anchor);
3. latency of a query by intent id over those 1,000,000 records (SQLite index), with and without
   reading the records back from the ledger.

Targets: >= 2,000 appends/s with group commit; verify 1M records < 20 s; query < 50 ms.

The 1M-record ledger is generated with the journal's own record encoder (appending a million
records through fsync would only measure the disk) in the mix a rebalance evaluation writes: per
20 records 2 cycle, 1 snapshot, 1 decision (a real plan of the planner, ~12 KB), 1 gate, then 3
orders' intent, sent, status, fill and status. The snapshots refer to 20 real blobs in turn, so
verify checks each distinct blob once; the cost of checking one blob is printed separately.

    .venv/bin/python scripts/bench_journal.py [--records N] [--dir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bot.examples import EXAMPLE_AS_OF, example_book, example_snapshot
from bot.journal import Journal
from bot.journal.anchor import Anchor, write_anchor
from bot.journal.blobs import BlobStore
from bot.journal.encoding import GENESIS_HASH, encode_record, format_ts, ledger_name_for
from bot.journal.index import INDEX_FILE, JournalIndex, Query
from bot.journal.reader import JournalReader
from bot.journal.verify import verify
from bot.journal.writers import snapshot_document
from strategies.alvh.config import StrategyConfig
from strategies.alvh.planner import plan

TARGET_GROUP_APPENDS = 2000.0
TARGET_VERIFY_SECONDS = 20.0
TARGET_QUERY_MS = 50.0
BLOBS = 20


class TickClock:
    def __init__(self, start: dt.datetime, step: dt.timedelta) -> None:
        self._now = start
        self._step = step
        self._lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        with self._lock:
            self._now += self._step
            return self._now


def _status_payload(index: int) -> dict[str, Any]:
    return {
        "intent_id": f"alvh-bench-near-1-op-{index:08x}",
        "order_id": 1000 + index,
        "perm_id": 900000 + index,
        "slot_id": "near-1",
        "status": "Submitted",
        "filled": 0.0,
        "remaining": 3.0,
        "avg_fill_price": None,
        "limit_price": 1.25,
        "message": "",
    }


def bench_appends(directory: Path, count: int, threads: int, group_commit: bool) -> tuple[float, Journal]:
    journal = Journal.open(
        directory,
        clock=TickClock(EXAMPLE_AS_OF, dt.timedelta(milliseconds=1)),
        code_version="bench",
        config_hash="0" * 64,
        mode="paper",
        account="DU1234567",
        group_commit=group_commit,
    )
    per_thread = count // threads

    def work(number: int) -> None:
        for index in range(per_thread):
            serial = number * per_thread + index
            journal.append("status", _status_payload(serial), refs={"intent": f"i{serial}", "slot": "near-1"})

    workers = [threading.Thread(target=work, args=(number,)) for number in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    journal.close()
    return per_thread * threads / elapsed, journal


def generate_ledger(directory: Path, records: int) -> int:
    """A valid chained ledger of ``records`` records (plus anchor); returns the number of intents."""
    snapshot = example_snapshot(strikes_per_expiry=20)
    book = example_book(snapshot, held_slots=6)
    plan_json = plan(snapshot, book, StrategyConfig()).model_dump(mode="json")
    directory.mkdir(parents=True, exist_ok=True)
    # real snapshot blobs; evaluations reuse them in turn (verify checks each distinct blob once)
    blobs = BlobStore(directory)
    blob_hashes = []
    for week in range(BLOBS):
        as_of = EXAMPLE_AS_OF + dt.timedelta(weeks=week)
        market = example_snapshot(as_of=as_of, strikes_per_expiry=20)
        digest, _, _ = blobs.put(snapshot_document(market, example_book(market, held_slots=6), StrategyConfig()))
        blob_hashes.append(digest)
    moment = EXAMPLE_AS_OF
    prev_hash = GENESIS_HASH
    handles: dict[str, Any] = {}
    seq = 0
    intents = 0
    cycle = 0
    last_ts = ""
    common = {"code_version": "bench", "config_hash": "0" * 64, "mode": "paper", "account": "DU****567#00000000"}

    def emit(kind: str, payload: dict[str, Any], refs: dict[str, Any], cycle_id: str) -> None:
        nonlocal seq, prev_hash, moment, last_ts
        seq += 1
        moment += dt.timedelta(seconds=1)
        ts = format_ts(moment)
        record, line = encode_record(
            seq=seq, ts=ts, kind=kind, cycle_id=cycle_id, payload=payload, refs=refs, prev_hash=prev_hash, **common
        )
        prev_hash = record.hash
        last_ts = ts
        name = ledger_name_for(ts)
        if name not in handles:
            for handle in handles.values():
                handle.close()
            handles.clear()
            handles[name] = (directory / name).open("ab")
        handles[name].write(line)

    started = time.perf_counter()
    while seq < records:
        cycle += 1
        moment += dt.timedelta(hours=3)
        cycle_id = f"c{cycle:08d}"
        emit("cycle", {"phase": "start", "trigger": "scheduled", "details": {}}, {}, cycle_id)
        blob = blob_hashes[cycle % BLOBS]
        emit("snapshot", {"snapshot_hash": blob, "vix": 16.0}, {"snapshot": blob, "blob": blob}, cycle_id)
        emit("decision", {"snapshot_hash": blob, "plan": {**plan_json, "cycle": cycle}}, {"snapshot": blob}, cycle_id)
        emit("gate", {"gate": "premium_cap", "allowed": True, "reason": "within cap", "details": {}}, {}, cycle_id)
        for order in range(3):
            intents += 1
            intent = f"alvh-bench-{cycle:08d}-{order}"
            refs = {"intent": intent, "slot": f"near-{order + 1}", "order_id": intents, "perm_id": 10**6 + intents}
            emit("intent", {"intent_id": intent, "action": plan_json["actions"][order]}, refs, cycle_id)
            emit("sent", {"intent_id": intent, "order_id": intents, "side": "BUY", "quantity": 3}, refs, cycle_id)
            emit("status", {**_status_payload(intents), "intent_id": intent}, refs, cycle_id)
            emit("fill", {"intent_id": intent, "exec_id": f"e{intents}", "price": 1.2, "quantity": 3}, refs, cycle_id)
            emit("status", {**_status_payload(intents), "intent_id": intent, "status": "Filled"}, refs, cycle_id)
        emit("cycle", {"phase": "end", "outcome": "completed", "error": None}, {}, cycle_id)
        if cycle % 5000 == 0:
            print(f"  generated {seq:,} records ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    for handle in handles.values():
        handle.close()
    write_anchor(directory / "anchor.json", Anchor(seq=seq, hash=prev_hash, ts=last_ts))
    return intents


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000, help="size of the verify/query ledger")
    parser.add_argument("--appends", type=int, default=3000, help="appends per append benchmark")
    parser.add_argument("--threads", type=int, default=16, help="writer threads for group commit")
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the generated journals")
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="alvh-bench-journal-"))
    work.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Any] = {}
    try:
        print(f"work directory: {work}", file=sys.stderr)
        single, _ = bench_appends(work / "single", args.appends, 1, group_commit=False)
        figures["appends_per_second_fsync_each"] = round(single)
        group, journal = bench_appends(work / "group", args.appends, args.threads, group_commit=True)
        figures["appends_per_second_group_commit"] = round(group)
        figures["group_commit_threads"] = args.threads
        figures["group_commit_records_per_fsync"] = round(journal.stats.records / max(1, journal.stats.fsyncs), 1)

        ledger = work / "ledger" / "journal"
        started = time.perf_counter()
        intents = generate_ledger(ledger, args.records)
        figures["generate_seconds"] = round(time.perf_counter() - started, 1)
        size = sum(path.stat().st_size for path in ledger.glob("ledger-*.jsonl"))
        figures["ledger_bytes"] = size

        started = time.perf_counter()
        report = verify(ledger)
        figures["verify_seconds"] = round(time.perf_counter() - started, 2)
        figures["verify_records"] = report.records
        if not report.ok:
            print(f"verify failed: {report.problems[0]}", file=sys.stderr)
            return 1

        store = BlobStore(ledger)
        digests = [path.name.split(".")[0] for path in (ledger / "blobs").rglob("*.json.gz")]
        started = time.perf_counter()
        for digest in digests:
            store.read_bytes(digest)
        figures["blob_verify_ms_each"] = round((time.perf_counter() - started) * 1000 / len(digests), 2)
        figures["blob_bytes_compressed_each"] = round(
            statistics.mean(store.path_for(digest).stat().st_size for digest in digests)
        )

        started = time.perf_counter()
        index = JournalIndex.open(ledger / INDEX_FILE)
        index.rebuild(ledger)
        index.close()
        figures["index_rebuild_seconds"] = round(time.perf_counter() - started, 1)

        rng = random.Random(4)
        cycles = intents // 3
        wanted = [f"alvh-bench-{rng.randrange(1, cycles + 1):08d}-{rng.randrange(3)}" for _ in range(200)]
        with JournalReader.open(ledger) as reader:
            timings_index = []
            timings_full = []
            for intent in wanted:
                started = time.perf_counter()
                rows = reader.query(Query(intent=intent))
                timings_index.append((time.perf_counter() - started) * 1000)
                assert len(rows) == 5, (intent, len(rows))
                started = time.perf_counter()
                records = [reader.load(row) for row in reader.query(Query(intent=intent))]
                timings_full.append((time.perf_counter() - started) * 1000)
                assert [record.kind for record in records] == ["intent", "sent", "status", "fill", "status"]
        timings_index.sort()
        timings_full.sort()
        figures["query_by_intent_ms_median"] = round(statistics.median(timings_index), 3)
        figures["query_by_intent_ms_p99"] = round(timings_index[int(len(timings_index) * 0.99) - 1], 3)
        figures["query_by_intent_with_records_ms_median"] = round(statistics.median(timings_full), 3)
        figures["query_by_intent_with_records_ms_p99"] = round(timings_full[int(len(timings_full) * 0.99) - 1], 3)
    finally:
        if not args.keep and args.dir is None:
            shutil.rmtree(work, ignore_errors=True)

    print(json.dumps(figures, indent=2))
    checks = [
        ("group commit appends/s", figures["appends_per_second_group_commit"] >= TARGET_GROUP_APPENDS, ">= 2000"),
        (
            "verify 1M records",
            figures["verify_seconds"] < TARGET_VERIFY_SECONDS * figures["verify_records"] / 1e6,
            "< 20 s",
        ),
        ("query by intent (p99)", figures["query_by_intent_with_records_ms_p99"] < TARGET_QUERY_MS, "< 50 ms"),
    ]
    for name, passed, target in checks:
        print(f"{'PASS' if passed else 'MISS'}  {name} (target {target})")
    return 0 if all(passed for _, passed, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
