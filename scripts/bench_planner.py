#!/usr/bin/env python3
"""Benchmark: plan() on a full VIX chain (10 expiries x 60 strikes) with all 10 slots held.

Prints the median and p99 latency in milliseconds. Target: median under 20 ms.
"""

from __future__ import annotations

import argparse
import statistics
import time

from bot.examples import example_book, example_snapshot
from strategies.alvh.config import StrategyConfig
from strategies.alvh.planner import plan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()

    snapshot = example_snapshot(strikes_per_expiry=60)
    expiries = len({q.contract.expiry for q in snapshot.vix_options})
    book = example_book(snapshot, held_slots=10)
    config = StrategyConfig()
    for _ in range(10):  # warm-up: imports, caches
        plan(snapshot, book, config)
    timings = []
    for _ in range(args.runs):
        started = time.perf_counter()
        result = plan(snapshot, book, config)
        timings.append((time.perf_counter() - started) * 1000.0)
    timings.sort()
    p99 = timings[min(len(timings) - 1, round(0.99 * len(timings)) - 1)]
    print(f"chain: {expiries} expiries x 60 strikes = {len(snapshot.vix_options)} quotes; slots held: 10")
    print(f"plan: {result.record.summary}")
    print(f"runs: {args.runs}")
    print(f"median_ms: {statistics.median(timings):.2f}")
    print(f"p99_ms: {p99:.2f}")
    print(f"target: median < 20 ms -> {'met' if statistics.median(timings) < 20 else 'NOT met'}")


if __name__ == "__main__":
    main()
