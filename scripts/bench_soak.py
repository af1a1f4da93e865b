#!/usr/bin/env python3
"""Soak benchmark: the bot runs ~90 simulated days against the embedded gateway at high speed.

The gateway runs in this process (its clock at ``--speed``); the bot runs as its own process
(`alvh run --clock gateway`), so its memory and CPU are measured alone. Prints the bot's RSS at start
(after a one-week warm-up) and at the end, CPU seconds per simulated day, the peak messages per
second the gateway received from the bot, the peak market data lines, and the reconnects survived (the
gateway restarts every simulated night, as IB Gateway does once a day).

Targets: RSS growth < 10 % after warm-up; never above IB's limits (50 messages/s, 100 lines).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench_support import MessageMeter, rss_kib  # noqa: E402

from bot.sim.gateway import GatewayServer  # noqa: E402

NY = ZoneInfo("America/New_York")
# One simulated week: a rebalance, harvest ladders, nightly reconnects, caches filled.
WARM_UP = dt.timedelta(days=7)


def rss_mib(pid: int) -> float:
    return rss_kib(pid) / 1024


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


async def soak(days: int, speed: float, scenario: str, keep: Path | None = None) -> dict[str, object]:
    meter = MessageMeter({17})  # the bot's client id (its default)
    start = dt.datetime(2027, 1, 4, 9, 50, tzinfo=NY)
    end = start + dt.timedelta(days=days)
    with tempfile.TemporaryDirectory(prefix="alvh-soak-") as directory:
        tmp = keep or Path(directory)
        tmp.mkdir(parents=True, exist_ok=True)
        gateway = GatewayServer(scenario=scenario, seed=5, start=start, speed=speed, state_path=tmp / "gw.json")
        await gateway.start()
        state = tmp / "state"
        config = tmp / "bot.toml"
        config.write_text(
            f'[connection]\nport = {gateway.port}\n[state]\ndir = "{state}"\n[logging]\nlevel = "WARNING"\n'
        )
        log = (tmp / "bot.log").open("wb")
        bot = subprocess.Popen(
            [sys.executable, "-m", "bot.cli.main", "run", "--clock", "gateway", "--config", str(config)],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        peak_lines = 0
        rss_start = rss_end = float("nan")
        cpu_start = 0.0
        warm_at: dt.datetime | None = None
        wall_start = time.monotonic()
        try:
            while gateway.clock.now() < end:
                await asyncio.sleep(0.5)
                if bot.poll() is not None:
                    raise RuntimeError(f"the bot exited early:\n{(tmp / 'bot.log').read_text()[-3000:]}")
                peak_lines = max(peak_lines, gateway.market_data_lines_in_use())
                if warm_at is None and gateway.clock.now() >= start + WARM_UP:
                    warm_at = gateway.clock.now()
                    rss_start, cpu_start = rss_mib(bot.pid), cpu_seconds(bot.pid)
                    print(f"warm-up done at clock {warm_at:%Y-%m-%d %H:%M}: RSS {rss_start:.1f} MiB", flush=True)
            rss_end, cpu_end = rss_mib(bot.pid), cpu_seconds(bot.pid)
            status = subprocess.run(
                [sys.executable, "-m", "bot.cli.main", "status", "--json", "--state-dir", str(state)],
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=120,
            )
            document = json.loads(status.stdout) if status.stdout else {}
        finally:
            bot.terminate()
            bot.wait(timeout=60)
            await gateway.stop()
        connection = document.get("data", {}).get("connection", {})
        simulated_days = (gateway.clock.now() - (warm_at or start)).total_seconds() / 86400
        return {
            "simulated_days": days,
            "speed": speed,
            "wall_seconds": round(time.monotonic() - wall_start, 1),
            "rss_start_mib": round(rss_start, 1),
            "rss_end_mib": round(rss_end, 1),
            "rss_growth_pct": round((rss_end / rss_start - 1) * 100, 2),
            "cpu_seconds_per_simulated_day": round((cpu_end - cpu_start) / max(simulated_days, 1e-9), 3),
            "peak_messages_per_second": meter.peak,
            "messages_total": meter.total,
            "peak_market_data_lines": peak_lines,
            "reconnects_survived": connection.get("reconnects"),
            "halted": document.get("data", {}).get("halted"),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--speed", type=float, default=5000.0)
    parser.add_argument("--scenario", default="spike")
    parser.add_argument("--keep", type=Path, default=None, help="keep the state and logs in this directory")
    args = parser.parse_args()
    figures = asyncio.run(soak(args.days, args.speed, args.scenario, args.keep))
    for key, value in figures.items():
        print(f"{key}: {value}")
    growth = figures["rss_growth_pct"]
    print(
        f"targets: RSS growth < 10 % -> {'met' if isinstance(growth, float) and growth < 10 else 'NOT met'}; "
        f"peak messages/s < 50 -> {'met' if int(figures['peak_messages_per_second']) < 50 else 'NOT met'}; "  # type: ignore[call-overload]
        f"lines <= 100 -> {'met' if int(figures['peak_market_data_lines']) <= 100 else 'NOT met'}"
    )  # type: ignore[call-overload]


if __name__ == "__main__":
    main()
