#!/usr/bin/env python3
"""Execution benchmark: the bot's rebalance and reconnects against the embedded gateway, over TCP.

The gateway and the bot run in this process on one simulated clock (as ``alvh run --sim`` does), the bot
talking to the gateway through the real ib_async client on loopback. The gateway counts every message the
bot's client ids send (at the socket, after ib_async's throttle), so the rates are what IB would see.

1. A rebalance asked for by hand (the control socket, as ``alvh rebalance`` does) on the first Monday, from
   empty: ten opening orders with slow price walks (they rest), then the harvest ladders of what fills.
   Measured: messages sent for the whole rebalance (by request type), peak messages in any one second,
   peak market data lines (gateway side and the bot's own count), and the wall time from the request to
   the moment every opening order of the plan was acknowledged by the gateway ("all orders working").
2. ``--drops`` dropped connections after the rebalance: wall time from the drop to the reconnect and to
   the end of the reconciliation that follows it (orders adopted, executions and positions compared).

Targets: peak messages/s < 45 (IB disconnects above 50), lines <= the bot's budget (60 of IB's 100),
reconnect-to-reconciled < 5 s on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench_support import MessageMeter  # noqa: E402

from bot.clock import SimulatedClock  # noqa: E402
from bot.config import parse_config  # noqa: E402
from bot.control.client import send  # noqa: E402
from bot.control.protocol import ControlRequest  # noqa: E402
from bot.engine.service import BotService  # noqa: E402
from bot.logs import configure_logging  # noqa: E402
from bot.sim.gateway import GatewayServer  # noqa: E402

NY = ZoneInfo("America/New_York")
START = dt.datetime(2027, 1, 4, 9, 59, tzinfo=NY)  # a plain Monday, inside the trading window
CLIENT_ID = 17
ACKNOWLEDGED = frozenset({"PreSubmitted", "Submitted", "Filled", "Cancelled", "Inactive"})


async def run(speed: float, drops: int, walk_seconds: float, scenario: str) -> dict[str, Any]:
    meter = MessageMeter({CLIENT_ID, CLIENT_ID + 1000})
    with tempfile.TemporaryDirectory(prefix="alvh-bench-") as directory:
        tmp = Path(directory)
        configure_logging("WARNING", tmp / "bench.log", console=False)
        clock = SimulatedClock(START, speed=speed)
        gateway = GatewayServer(scenario=scenario, seed=3, clock=clock, state_path=tmp / "gateway.json")
        await gateway.start()
        config = parse_config(
            {
                "connection": {"host": "127.0.0.1", "port": gateway.port, "client_id": CLIENT_ID},
                "state": {"dir": str(tmp / "state")},
                "execution": {"walk_seconds": walk_seconds, "walk_steps": 4},
                # only the afternoon evaluation is scheduled: the morning rebalance is the one asked for here
                "strategy": {"schedule": {"evaluation_times": ["15:30:00"]}},
            },
            "bench",
        )
        service = BotService(config, clock)
        task = asyncio.create_task(service.run(), name="bot")
        lines_peak = 0

        async def sample_lines() -> None:
            nonlocal lines_peak
            while True:
                lines_peak = max(lines_peak, gateway.market_data_lines_in_use())
                await asyncio.sleep(0.01)

        sampler = asyncio.create_task(sample_lines())
        try:
            started = asyncio.ensure_future(service.started.wait())
            await asyncio.wait({started, task}, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                task.result()
            await clock.sleep_until(START.replace(hour=10, minute=0))

            # ---- 1. a rebalance from empty
            acknowledged: dict[str, float] = {}

            def on_status(trade: Any) -> None:
                ref = trade.order.orderRef
                if ref and ref not in acknowledged and trade.orderStatus.status in ACKNOWLEDGED:
                    acknowledged[ref] = time.monotonic()

            service.broker.ib.orderStatusEvent += on_status
            before = meter.snapshot()
            requested = time.monotonic()
            answer = await asyncio.to_thread(send, Path(config.state.dir), ControlRequest(command="rebalance"), 600)
            finished = time.monotonic()
            if not answer.ok:
                raise RuntimeError(f"the rebalance was refused: {answer.message}")
            sent = meter.snapshot() - before
            plan = service.last_plan
            assert plan is not None
            opening = [a.intent_id for a in plan.actions if a.kind in ("buy", "sell")]
            missing = [ref for ref in opening if ref not in acknowledged]
            if missing:
                raise RuntimeError(f"opening orders never acknowledged: {missing}")
            all_working = max(acknowledged[ref] for ref in opening) - requested
            first_order = min(acknowledged[ref] for ref in opening) - requested
            harvests = [ref for ref in acknowledged if ref not in opening]

            # ---- 2. dropped connections
            connection = service.broker.connection
            reconciler = service.reconciler
            assert reconciler is not None
            to_reconnect: list[float] = []
            to_reconciled: list[float] = []
            for _ in range(drops):
                await asyncio.sleep(0.5)
                previous_reconnects = connection.reconnects
                last = reconciler.last_report
                dropped = time.monotonic()
                gateway.faults.drop_connections()
                while connection.reconnects == previous_reconnects:
                    await asyncio.sleep(0.002)
                to_reconnect.append(time.monotonic() - dropped)
                while reconciler.last_report is last or reconciler.last_report.reason != "reconnect":  # type: ignore[union-attr]
                    await asyncio.sleep(0.002)
                to_reconciled.append(time.monotonic() - dropped)
            store = service.store
            assert store is not None
            halted = store.halt_state()
        finally:
            sampler.cancel()
            service.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=60)
            await gateway.stop()

        return {
            "clock_speed": speed,
            "opening_orders": len(opening),
            "harvest_orders_placed": len(harvests),
            "messages_per_rebalance": sum(sent.values()),
            "messages_by_type": dict(sent.most_common()),
            "rebalance_wall_seconds": round(finished - requested, 2),
            "request_to_first_order_working_s": round(first_order, 3),
            "request_to_all_orders_working_s": round(all_working, 3),
            "peak_messages_per_second": meter.peak,
            "peak_market_data_lines_gateway": lines_peak,
            "peak_market_data_lines_bot": service.broker.market.peak_lines,
            "line_budget": config.connection.max_market_data_lines,
            "drop_to_reconnected_s": _spread(to_reconnect),
            "drop_to_reconciled_s": _spread(to_reconciled),
            "halted": halted.reason if halted else None,
        }


def _spread(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {
        "median": round(statistics.median(values), 3),
        "max": round(max(values), 3),
        "runs": len(values),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speed", type=float, default=10.0, help="clock speed (clock seconds per wall second)")
    parser.add_argument("--drops", type=int, default=5, help="dropped connections to time")
    parser.add_argument("--walk-seconds", type=float, default=120.0, help="price walk length, clock seconds")
    parser.add_argument("--scenario", default="default")
    args = parser.parse_args()
    figures = asyncio.run(run(args.speed, args.drops, args.walk_seconds, args.scenario))
    for key, value in figures.items():
        print(f"{key}: {value}")
    reconciled = figures["drop_to_reconciled_s"]
    print(
        "targets: "
        f"peak messages/s < 45 -> {'met' if figures['peak_messages_per_second'] < 45 else 'NOT met'}; "
        f"lines <= {figures['line_budget']} -> "
        f"{'met' if figures['peak_market_data_lines_gateway'] <= figures['line_budget'] else 'NOT met'}; "
        f"reconnect-to-reconciled < 5 s -> {'met' if reconciled and reconciled['max'] < 5 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
