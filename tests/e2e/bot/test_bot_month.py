"""A simulated month, end to end: real ib_async over TCP, the embedded gateway, one accelerated clock.

One evaluation per scheduled time on trading days only (the Martin Luther King holiday included), at most
one rebalance per ISO week, a manual rebalance refused by the weekly cap and a forced one accepted and
recorded, a volatility spike whose resting harvest orders fill without any bot action, nightly gateway
restarts survived, the journal verifies and every decision replays to the same plan.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from bot.calendar import ExchangeCalendar
from bot.control.protocol import ControlRequest
from bot.engine.schedule import evaluations_between
from strategies.alvh.config import ScheduleConfig
from tests.support.bot_harness import NY, audit, running_bot, short_tmp_dir

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(420)]

START = dt.datetime(2027, 1, 4, 9, 40, tzinfo=NY)  # Monday; Monday 18 January is a holiday
END = dt.datetime(2027, 2, 3, 16, 30, tzinfo=NY)


async def test_simulated_month_with_a_spike() -> None:
    with short_tmp_dir() as tmp:
        async with running_bot(tmp, scenario="spike", speed=5000, start=START) as bot:
            await bot.until(dt.datetime(2027, 1, 6, 11, 0, tzinfo=NY))  # Wednesday of week one
            refused = await bot.control(ControlRequest(command="rebalance"))
            forced = await bot.control(ControlRequest(command="rebalance", force=True, reason="test: vol event"))
            await bot.until(END)
            reconnects = bot.service.broker.connection.reconnects
            store = bot.service.store
            assert store is not None
            rebalances = store.rebalance_log()

        state = tmp / "state"
        # a manual rebalance obeys the weekly cap; a forced one needs and records a reason
        assert not refused.ok and refused.exit_code == 1
        assert "weekly rebalance cap" in refused.message and "next allowed" in refused.message
        assert forced.ok, forced.message
        from tests.support.bot_harness import journal_records

        operators = [r.payload for r in journal_records(state, "operator") if r.payload["command"] == "rebalance"]
        assert [(o["force"], o["reason"]) for o in operators] == [(False, None), (True, "test: vol event")]
        assert all(o["os_user"] for o in operators)
        decisions = journal_records(state, "decision")
        forced_decisions = [d for d in decisions if d.payload["plan"]["record"]["evaluation"]["trigger"] == "forced"]
        assert len(forced_decisions) == 1
        assert forced_decisions[0].payload["plan"]["record"]["evaluation"]["rebalance_allowed"]

        # one evaluation per scheduled time, on trading days only; each records the time it serves
        starts = [
            r
            for r in journal_records(state, "cycle")
            if r.payload.get("phase") == "start" and r.payload.get("trigger") == "scheduled"
        ]
        served = Counter(dt.datetime.fromisoformat(r.payload["details"]["scheduled_for"]) for r in starts)
        expected = evaluations_between(START, END, ExchangeCalendar(), ScheduleConfig())
        assert served == Counter(expected), sorted(set(served) ^ set(expected))
        assert all(moment.astimezone(NY).date() != dt.date(2027, 1, 18) for moment in served)  # MLK Day
        for record in starts:
            assert dt.datetime.fromisoformat(record.ts) >= dt.datetime.fromisoformat(
                record.payload["details"]["scheduled_for"]
            )

        # at most one (unforced) rebalance per ISO week
        weeks = Counter(at.astimezone(NY).isocalendar()[:2] for at, was_forced, _, _ in rebalances if not was_forced)
        assert weeks and max(weeks.values()) == 1, weeks

        # the spike filled resting harvest orders that were placed in an earlier cycle: no bot action
        harvest_fills = journal_records(state, "harvest_fill")
        assert harvest_fills, "the spike should fill some harvest orders"
        sent_cycle = {r.payload["intent_id"]: r.cycle_id for r in journal_records(state, "sent")}
        for fill in harvest_fills:
            intent = fill.payload["intent_id"]
            assert intent in sent_cycle
            assert fill.cycle_id is None or fill.cycle_id != sent_cycle[intent]

        assert reconnects >= 20, "the gateway restarts every simulated night; the bot must reconnect each time"
        sent = Counter(r.payload["intent_id"] for r in journal_records(state, "sent"))
        assert max(sent.values()) == 1, "exactly one order per intent"
        assert not journal_records(state, "halt")
        assert audit("verify", "--state-dir", str(state)) == 0
        assert audit("replay", "--all", "--state-dir", str(state)) == 0
