"""Positions the bot did not make: a VIX position someone else opened in the account (reported, left alone)
and a slot's position closed by hand (the bot halts with a mismatch alert and never corrects its book).

"Someone else" is a second ib_async client on the same paper account (client id 5), trading like a person
in TWS. The real bot and the embedded gateway run in-process on one accelerated clock.
"""

from __future__ import annotations

import datetime as dt

import pytest
from ib_async import Contract

from bot.control.protocol import ControlRequest
from bot.engine.order_state import LIVE
from tests.e2e.bot.fault_support import (
    alerts,
    assert_invariants,
    bot_positions,
    first_evaluation,
    human_client,
    listed_vix_call,
    reconciles,
    settled,
    trade_by_hand,
)
from tests.support.bot_harness import MONDAY, running_bot, short_tmp_dir

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


async def far_vix_call(port: int, min_dte: int) -> Contract:
    """A listed monthly VIX call expiring after every buy window (the bot will not buy it)."""
    ib = await human_client(port, client_id=6)
    try:
        return await listed_vix_call(ib, MONDAY.date() + dt.timedelta(days=min_dte), 30.0)
    finally:
        ib.disconnect()


async def test_a_vix_position_opened_by_someone_else_is_reported_and_left_alone() -> None:
    with short_tmp_dir() as tmp:
        async with running_bot(tmp, speed=300) as bot:
            await bot.fast_forward(MONDAY.replace(hour=9, minute=50))
            long_window_end = bot.config.strategy.buckets.long.buy_window_max_dte
            foreign = await far_vix_call(bot.gateway.port, long_window_end + 5)
            human = await human_client(bot.gateway.port)
            try:
                await trade_by_hand(human, foreign.conId, "BUY", 2)
            finally:
                human.disconnect()

            evaluation = await first_evaluation(bot)
            await settled(bot)

            # Seen by the reconciliation that opens the evaluation: reported, not a mismatch, no halt.
            described = f"+2 VIX VIX {foreign.lastTradeDateOrContractMonth[:8]} C 30"
            assert any(described in a.payload["message"] for a in alerts(bot.state_dir, "foreign_positions"))
            assert any(described in r.payload["details"]["foreign_positions"] for r in reconciles(bot.state_dir))
            assert all(not r.payload["details"]["mismatches"] for r in reconciles(bot.state_dir))
            store = bot.service.store
            assert store is not None and store.halt_state() is None
            # The bot trades as if it were not there, and never touches it.
            assert evaluation.rebalance and evaluation.error is None, evaluation.summary
            assert all(o.status not in ("refused", "skipped") for o in evaluation.outcomes), evaluation.outcomes
            assert bot_positions(bot.gateway)[foreign.conId] == 2
            bot_orders = [o for o in bot.gateway.exchange.book.orders.values() if o.order_ref.startswith("alvh-")]
            assert all(o.con_id != foreign.conId for o in bot_orders)
            assert all(layer is None or layer.contract.con_id != foreign.conId for layer in store.layers().values())
            assert_invariants(bot.state_dir, bot.gateway, store=store)


async def test_a_slot_position_closed_by_hand_halts_the_bot_without_correcting_it() -> None:
    with short_tmp_dir() as tmp:
        async with running_bot(tmp, speed=300) as bot:
            evaluation = await first_evaluation(bot)
            assert evaluation.rebalance, evaluation.summary
            await settled(bot)
            store = bot.service.store
            assert store is not None
            layer = store.layers()["near-2"]
            assert layer is not None and layer.contract.con_id is not None
            ladder = [i.intent_id for i in store.intents(statuses=list(LIVE), slot_id="near-2", role="harvest")]
            assert ladder, "near-2's harvest ladder rests"
            others = [i.intent_id for i in store.intents(statuses=list(LIVE), role="harvest") if i.slot_id != "near-2"]

            # Someone sells near-2's whole position by hand in TWS.
            human = await human_client(bot.gateway.port)
            try:
                await trade_by_hand(human, layer.contract.con_id, "SELL", layer.quantity)
            finally:
                human.disconnect()
            assert layer.contract.con_id not in bot_positions(bot.gateway)
            orders_before = len(bot.gateway.exchange.book.orders)

            # The next evaluation (asked for by hand here) reconciles first: a mismatch, so the bot halts.
            await bot.control(ControlRequest(command="rebalance"))
            halt = store.halt_state()
            assert halt is not None and "position mismatch" in halt.reason and "near-2" in halt.reason, halt
            assert alerts(bot.state_dir, "halt"), "the halt raised an alert"
            [mismatch] = [r for r in reconciles(bot.state_dir) if r.payload["details"]["mismatches"]]
            assert mismatch.payload["outcome"] == "mismatch"
            assert any("near-2" in m for m in mismatch.payload["details"]["mismatches"])
            # Never auto-corrected: the book still says what the bot bought.
            assert store.layers()["near-2"] == layer
            # Its resting sells would now sell calls the account does not hold: cancelled. The others stay.
            assert not [o for o in bot.gateway.exchange.book.active() if o.order_ref in ladder]
            resting = {o.order_ref for o in bot.gateway.exchange.book.active()}
            assert set(others) <= resting, "the other slots' harvest orders are left alone"
            assert len(bot.gateway.exchange.book.orders) == orders_before, "no new order after the halt"

            # Halted means halted: the afternoon evaluation sends nothing.
            await bot.fast_forward(MONDAY.replace(hour=15, minute=29))
            await bot.wait_for(lambda: len(bot.service.evaluations) >= 3, 60)
            assert len(bot.gateway.exchange.book.orders) == orders_before
            assert store.layers()["near-2"] == layer and store.halt_state() is not None
            assert_invariants(bot.state_dir, bot.gateway, store=store)
