#!/usr/bin/env python3
"""Benchmark the embedded paper gateway with the real ib_async client over TCP.

Phase 1 (throughput and latency): one client streams 100 VIX option lines from a gateway running at
``--speed`` (default 100) in a background thread of this process. Ticks per second are the tick messages
ib_async's wrapper receives (prices, sizes, option computations); the delay is measured from the instant
the gateway computed a cycle's quotes (its publish hook) to the client's pendingTickers callback that
shows them. Both run in one process and share the GIL, so the figures are conservative.

Phase 2 (memory): ``alvh gateway`` as its own process at ``--rss-speed`` (default 3000) while one client
streams 100 lines across 10 simulated trading days, reconnecting after each nightly reset; the gateway's
RSS is sampled from /proc after the first simulated day (warm-up) and at the end.

Targets: >= 5,000 ticks/s, p99 delay < 50 ms, RSS growth after warm-up < 10 %.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import math
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ib_async import IB, Option

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_support import rss_kib

from bot.sim.threaded import ThreadedGateway

NY = ZoneInfo("America/New_York")
START = dt.datetime(2025, 11, 24, 9, 45, tzinfo=NY)
LINES = 100


async def option_lines(ib: IB, count: int) -> list[Option]:
    """``count`` VIX calls on expiries at least three weeks out, so none expires during the run."""
    chains = await ib.reqSecDefOptParamsAsync("VIX", "", "IND", 13455763)
    today = (await ib.reqCurrentTimeAsync()).astimezone(NY).date()
    horizon = (today + dt.timedelta(days=21)).strftime("%Y%m%d")
    contracts: list[Option] = []
    for chain in sorted(chains, key=lambda c: c.tradingClass):
        if chain.exchange != "SMART":
            continue
        for expiry in [e for e in sorted(chain.expirations) if e >= horizon][:3]:
            for strike in sorted(chain.strikes):
                if 12 <= strike <= 40 and strike == int(strike) and len(contracts) < count + 10:
                    contracts.append(Option("VIX", expiry, strike, "C", "SMART", tradingClass=chain.tradingClass))
    qualified = [c for c in await ib.qualifyContractsAsync(*contracts) if c is not None]
    return qualified[:count]  # type: ignore[return-value]


def count_ticks(ib: IB) -> list[int]:
    """Wrap the wrapper's tick handlers to count every tick message the client decodes."""
    counter = [0]
    wrapper = ib.wrapper
    for name in ("priceSizeTick", "tickSize", "tickOptionComputation", "tickString", "tickGeneric"):
        original = getattr(wrapper, name)

        def counted(*args: Any, _original: Any = original) -> None:
            counter[0] += 1
            _original(*args)

        setattr(wrapper, name, counted)
    return counter


async def phase_throughput(speed: float, seconds: float) -> dict[str, float]:
    published: dict[tuple[int, object, object], float] = {}
    with ThreadedGateway(port=0, start=START, speed=speed, daily_restart=False) as gateway:

        def observe(client_id: int, req_id: int, bid: object, ask: object, stamp: float) -> None:
            published[(req_id, bid, ask)] = stamp

        ib = IB()
        await ib.connectAsync("127.0.0.1", gateway.port, clientId=1, timeout=20)
        contracts = await option_lines(ib, LINES)
        counter = count_ticks(ib)
        delays: list[float] = []
        measuring = False
        tickers = [ib.reqMktData(contract) for contract in contracts]
        request_ids = {id(t): ib.wrapper.ticker2ReqId["mktData"][t] for t in tickers}

        def on_pending(pending: Any) -> None:
            if not measuring:
                return
            now = time.perf_counter()
            for ticker in pending:
                req_id = request_ids.get(id(ticker))
                if req_id is None:
                    continue
                bid = (ticker.bid, ticker.bidSize) if ticker.bid > 0 else (-1.0, 0.0)
                ask = (ticker.ask, ticker.askSize) if ticker.ask > 0 else (-1.0, 0.0)
                stamp = published.get((req_id, bid, ask))
                if stamp is not None:
                    delays.append(now - stamp)

        ib.pendingTickersEvent += on_pending
        gateway.call(lambda: setattr(gateway.server, "publish_observer", observe))
        await asyncio.sleep(2.0)  # warm-up
        measuring = True
        ticks_before, started = counter[0], time.perf_counter()
        await asyncio.sleep(seconds)
        elapsed = time.perf_counter() - started
        ticks = counter[0] - ticks_before
        measuring = False
        ib.disconnect()
    delays.sort()
    p99 = delays[int(0.99 * (len(delays) - 1))] if delays else math.nan
    return {
        "lines": float(len(contracts)),
        "ticks_per_second": ticks / elapsed,
        "delay_p50_ms": statistics.median(delays) * 1000 if delays else math.nan,
        "delay_p99_ms": p99 * 1000,
        "delay_samples": float(len(delays)),
    }


async def phase_memory(speed: float, days: int) -> dict[str, float]:
    alvh = Path(sys.executable).with_name("alvh")
    process = subprocess.Popen(
        [
            str(alvh),
            "gateway",
            "--port",
            "0",
            "--speed",
            str(speed),
            "--start",
            START.isoformat(),
            "--log-level",
            "ERROR",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        match = re.search(r":(\d+) ", process.stdout.readline())
        if not match:
            raise RuntimeError("the gateway did not report its port")
        port = int(match.group(1))
        ib = IB()
        contracts: list[Option] = []
        sessions_seen: set[dt.date] = set()
        warm_rss = 0
        start_rss = rss_kib(process.pid)
        started = time.perf_counter()
        while len(sessions_seen) <= days:
            if not ib.isConnected():
                try:
                    await ib.connectAsync("127.0.0.1", port, clientId=1, timeout=10)
                except (ConnectionError, OSError, TimeoutError):
                    await asyncio.sleep(0.3)
                    continue
                if not contracts:
                    contracts = await option_lines(ib, LINES)
                for contract in contracts:
                    ib.reqMktData(contract)
            now = await ib.reqCurrentTimeAsync()
            day = now.astimezone(NY).date()
            if day not in sessions_seen:
                sessions_seen.add(day)
                if len(sessions_seen) == 2:
                    warm_rss = rss_kib(process.pid)  # after one simulated day
            await asyncio.sleep(0.5)
        end_rss = rss_kib(process.pid)
        wall = time.perf_counter() - started
        ib.disconnect()
    finally:
        process.terminate()
        process.wait(20)
    return {
        "simulated_days": float(days),
        "wall_seconds": wall,
        "rss_start_mib": start_rss / 1024,
        "rss_warm_mib": warm_rss / 1024,
        "rss_end_mib": end_rss / 1024,
        "rss_growth_pct": (end_rss - warm_rss) / warm_rss * 100 if warm_rss else math.nan,
    }


async def main() -> None:
    logging.getLogger("ib_async").setLevel(logging.CRITICAL)  # reconnect attempts during resets are expected
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speed", type=float, default=100.0, help="clock speed for the throughput phase")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured wall seconds of streaming")
    parser.add_argument("--rss-speed", type=float, default=3000.0, help="clock speed for the memory phase")
    parser.add_argument("--days", type=int, default=10, help="simulated trading days for the memory phase")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()

    throughput = await phase_throughput(args.speed, args.seconds)
    print(f"throughput phase: {throughput['lines']:.0f} lines at --speed {args.speed:g}, {args.seconds:g} s measured")
    print(f"  ticks delivered per second   {throughput['ticks_per_second']:>10,.0f}   (target >= 5,000)")
    print(f"  delay model -> callback p50  {throughput['delay_p50_ms']:>10.2f} ms")
    print(f"  delay model -> callback p99  {throughput['delay_p99_ms']:>10.2f} ms   (target < 50 ms)")
    print(f"  delay samples                {throughput['delay_samples']:>10,.0f}")
    if args.skip_memory:
        return
    memory = await phase_memory(args.rss_speed, args.days)
    days, wall = memory["simulated_days"], memory["wall_seconds"]
    print(f"memory phase: {days:.0f} simulated days at --speed {args.rss_speed:g} in {wall:.0f} s")
    print(f"  gateway RSS at start         {memory['rss_start_mib']:>10.1f} MiB")
    print(f"  gateway RSS after 1 day      {memory['rss_warm_mib']:>10.1f} MiB")
    print(f"  gateway RSS after {args.days} days     {memory['rss_end_mib']:>10.1f} MiB")
    print(f"  growth after warm-up         {memory['rss_growth_pct']:>10.1f} %    (target < 10 %)")


if __name__ == "__main__":
    asyncio.run(main())
