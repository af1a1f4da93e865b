"""The bot killed with SIGKILL in the middle of a rebalance and restarted: no order twice, the cap holds.

The weekly rebalance is written to the store before its first order is sent, so a crash mid-rebalance cannot
reset the weekly cap: after the restart the same week refuses a manual rebalance and the scheduled afternoon
evaluation does not rebalance again. (The nightly gateway restart is exercised every simulated night by the
month test.)
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import signal

import pytest

from bot.control.client import send
from bot.control.protocol import ControlRequest
from bot.store.database import Store
from tests.e2e.bot.fault_support import assert_invariants, paper_gateway, start_bot, wait_until
from tests.support.bot_harness import MONDAY, NY, journal_records, short_tmp_dir

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

SPEED = 30.0


async def test_sigkill_mid_rebalance_then_restart_keeps_one_order_per_intent_and_the_cap() -> None:
    with short_tmp_dir() as tmp, contextlib.ExitStack() as cleanup:
        start = MONDAY.replace(hour=9, minute=58)
        async with paper_gateway(tmp, start=start, seed=2, speed=SPEED) as gateway:
            state = tmp / "state"
            # not waiting for it to answer: it may reach its crash point first
            first = await start_bot(state, gateway.port, "after_order_sent:3", wait_ready=False)
            cleanup.callback(first.kill)
            # the scheduled 10:00 evaluation rebalances; the process kills itself after its third order
            await wait_until(lambda: not first.alive(), 90, "the bot to die at its crash point")
            assert first.process is not None and first.process.returncode == -signal.SIGKILL, first.log()[-2000:]
            with Store.open(state / "state.sqlite") as store:
                assert len(store.rebalance_log()) == 1, "the rebalance was recorded before its orders went out"
            sent_before = {r.payload["intent_id"] for r in journal_records(state, "sent")}
            assert len(sent_before) >= 2, sent_before

            second = await start_bot(state, gateway.port)
            cleanup.callback(second.kill)
            refused = await asyncio.to_thread(send, state, ControlRequest(command="rebalance"), 120)
            assert not refused.ok and "weekly rebalance cap" in refused.message, refused.message
            # the afternoon evaluation of the same Monday: the cap is used, nothing is rebalanced
            afternoon = MONDAY.replace(hour=15, minute=45).astimezone(dt.UTC)
            gateway.clock.set_speed(4000)
            await wait_until(lambda: gateway.clock.now() >= afternoon, 90, "the afternoon evaluation")
            gateway.clock.set_speed(SPEED)
            await asyncio.sleep(2)
            cutoff = gateway.clock.now()
            assert await asyncio.to_thread(second.terminate) == 0, second.log()[-3000:]

            with Store.open(state / "state.sqlite") as store:
                week = MONDAY.isocalendar()[:2]
                this_week = [at for at, *_ in store.rebalance_log() if at.astimezone(NY).isocalendar()[:2] == week]
                assert len(this_week) == 1, this_week
            decisions = journal_records(state, "decision")
            late = [d for d in decisions if d.payload["plan"]["record"]["evaluation"]["rebalances_this_week"] >= 1]
            assert late and not any(d.payload["plan"]["is_rebalance"] for d in late)
            recovered = [r for r in journal_records(state, "reconcile") if "after startup" in r.payload["summary"]]
            assert recovered, "the restart reconciled before anything else"
            assert_invariants(state, gateway, until=cutoff)
