#!/usr/bin/env python3
"""Benchmark: `alvh backtest` over the whole 2007-2019 span with all five variants.

Prints the wall time (with its parts), the peak resident memory of this process and of the largest
worker process, and how much of the work is the planner itself. Targets: under 30 s and under 1 GB.

    .venv/bin/python scripts/bench_backtest.py [--data ../shared/data] [--workers N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bot.backtest.pipeline import BacktestRequest, run_backtest  # noqa: E402

TARGET_SECONDS = 30.0
TARGET_MEGABYTES = 1024.0


def _megabytes(kilobytes: int) -> float:
    return kilobytes / 1024.0  # Linux reports ru_maxrss in kilobytes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO_ROOT.parent / "shared" / "data")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: one per core)")
    parser.add_argument("--keep", type=Path, default=None, help="write the outputs here instead of a temp dir")
    args = parser.parse_args()
    if not (args.data / "VIX_History.csv").exists():
        print(f"bench_backtest: no data in {args.data}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        out = args.keep or Path(scratch) / "bt"
        started = time.perf_counter()
        outcome = run_backtest(BacktestRequest(data_dir=args.data, out_dir=out, workers=args.workers))
        wall = time.perf_counter() - started
    own = _megabytes(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    children = _megabytes(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    period = outcome.summary["period"]
    results = outcome.results
    planner_seconds = sum(r.plan_seconds for r in results.values())
    snapshot_seconds = sum(r.snapshot_seconds for r in results.values())
    planner_calls = sum(r.plan_calls for r in results.values())
    variant_seconds = outcome.timings["variants_seconds"]
    workers = args.workers or "one per core"
    print(f"backtest {period['start']} .. {period['end']}: {period['evaluation_days']} days x {len(results)} variants")
    print(f"wall time          {wall:7.2f} s   (target < {TARGET_SECONDS:g} s)")
    for key, value in outcome.timings.items():
        print(f"  {key:<16} {value:7.2f} s")
    print(f"peak RSS           {own:7.1f} MB  this process (target < {TARGET_MEGABYTES:g} MB)")
    print(f"                   {children:7.1f} MB  largest worker process (workers: {workers})")
    print(
        f"planner            {planner_calls} calls, {planner_seconds:.2f} s in plan() "
        f"({1000 * planner_seconds / max(planner_calls, 1):.2f} ms per call), "
        f"{snapshot_seconds:.2f} s building snapshots and books"
    )
    print(
        f"                   plan() is {planner_seconds / max(variant_seconds, 1e-9):.0%} of the variants' "
        f"wall time (variants run in parallel, so the share of their CPU time is lower)"
    )
    for name, result in results.items():
        print(
            f"  {name:<16} {result.plan_calls:5d} calls  {result.plan_seconds:6.2f} s plan  "
            f"{result.snapshot_seconds:6.2f} s snapshot"
        )
    ok = wall < TARGET_SECONDS and max(own, children) < TARGET_MEGABYTES
    print("within targets" if ok else "OUTSIDE TARGETS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
