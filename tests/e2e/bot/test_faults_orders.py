"""Orders and quotes misbehave: execution reports arrive twice (and in pieces), an order is rejected, and
quotes turn NaN, crossed, zero or stale between the plan and the send.

The real bot and the embedded gateway run in-process on one accelerated clock; each test ends with the
invariants: no duplicate order per intent, every execution journaled exactly once, the chain verifies.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from typing import Any

import pytest

from bot.engine.order_state import IntentStatus
from tests.e2e.bot.fault_support import (
    alerts,
    assert_invariants,
    bot_positions,
    first_evaluation,
    gateway_bot_executions,
    journal_sent_per_intent,
    reconciles,
    settled,
)
from tests.support.bot_harness import MONDAY, Harness, running_bot, short_tmp_dir

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


def reconciled_after_reconnect(bot: Harness) -> list[Any]:
    return [r for r in reconciles(bot.state_dir) if "after reconnect" in r.payload["summary"]]


def assert_layers_match_the_account(bot: Harness) -> None:
    store = bot.service.store
    assert store is not None
    held = Counter[int]()
    for layer in store.layers().values():
        if layer is not None:
            assert layer.contract.con_id is not None
            held[layer.contract.con_id] += layer.quantity
    assert dict(held) == bot_positions(bot.gateway), "every layer is exactly what the account holds"


async def test_duplicate_execution_reports_are_counted_once() -> None:
    with short_tmp_dir() as tmp:
        async with running_bot(tmp, speed=300) as bot:
            await bot.fast_forward(MONDAY.replace(hour=9, minute=55))
            bot.gateway.faults.duplicate_executions(None)  # every execution report (and commission) twice
            evaluation = await first_evaluation(bot)
            await settled(bot)
            assert evaluation.rebalance and evaluation.error is None, evaluation.summary

            executions = gateway_bot_executions(bot.gateway)
            store = bot.service.store
            assert store is not None
            # Each intent's filled quantity is what the gateway filled, not twice that.
            for order in bot.gateway.exchange.book.orders.values():
                intent = store.intent(order.order_ref)
                assert intent is not None and intent.filled == order.filled, (order.order_ref, intent, order.filled)
            assert_layers_match_the_account(bot)
            assert not alerts(bot.state_dir, "fill_anomaly")

            # Reconciliation reads every execution again: all of them are recognised as already recorded.
            bot.gateway.faults.drop_connections()
            await bot.wait_for(lambda: reconciled_after_reconnect(bot))
            [after] = reconciled_after_reconnect(bot)
            assert "0 fills applied" in after.payload["summary"], after.payload["summary"]
            assert f"({len(executions)} duplicates ignored)" in after.payload["summary"], after.payload["summary"]
            assert_layers_match_the_account(bot)
            assert_invariants(bot.state_dir, bot.gateway, store=store)


async def test_a_rejected_order_is_recorded_and_never_retried() -> None:
    with short_tmp_dir() as tmp:
        async with running_bot(tmp, speed=300) as bot:
            await bot.fast_forward(MONDAY.replace(hour=9, minute=55))
            bot.gateway.faults.reject_next_order()  # error 201 for the next placeOrder
            evaluation = await first_evaluation(bot)
            await settled(bot)

            [rejected] = [o for o in evaluation.outcomes if o.message.startswith("rejected")]
            assert rejected.status == "failed" and "Simulated rejection" in rejected.message, rejected
            # The others were sent as usual (whether each walk then filled is the market's call).
            others = [o for o in evaluation.outcomes if o is not rejected]
            assert all(o.status not in ("refused", "skipped") for o in others), others
            assert all(bot.orders_per_intent()[o.intent_id] == 1 for o in others)
            store = bot.service.store
            assert store is not None
            intent = store.intent(rejected.intent_id)
            assert intent is not None and intent.status == IntentStatus.REJECTED, intent
            assert "201" in intent.note, intent.note
            statuses = [r.payload for r in bot.records("status") if r.payload["intent_id"] == rejected.intent_id]
            assert any(s["status"] == "Error201" and "Simulated rejection" in s["message"] for s in statuses), statuses
            assert bot.orders_per_intent()[rejected.intent_id] == 0, "the rejected order never rested at the gateway"

            # The afternoon evaluation and a reconnect later: the rejected intent was sent once and never again.
            await bot.fast_forward(MONDAY.replace(hour=15, minute=29))
            bot.gateway.faults.drop_connections()
            await bot.wait_for(lambda: len(bot.service.evaluations) >= 2, 60)
            await settled(bot)
            assert journal_sent_per_intent(bot.state_dir)[rejected.intent_id] == 1
            intent = store.intent(rejected.intent_id)
            assert intent is not None and intent.status == IntentStatus.REJECTED
            assert_invariants(bot.state_dir, bot.gateway, store=store)


def _spoil_before_sending(bot: Harness, modes: list[str], spoiled: dict[str, str]) -> None:
    """Between the plan and the send, spoil the quotes of the first buys' contracts at the gateway ('stale':
    the line stops ticking across a break of the link), and wait until the bot's streams show it."""
    executor = bot.service.executor
    assert executor is not None
    execute = executor.execute
    market = bot.service.broker.market

    async def spoiled_then_execute(plan: Any, **context: Any) -> Any:
        buys = [a for a in plan.actions if a.kind == "buy"][: len(modes)]
        con_ids = {a.intent_id: context["contracts"][a.contract.key].conId for a in buys}
        for action, mode in zip(buys, modes, strict=True):
            spoiled[action.intent_id] = mode
            bot.gateway.faults.bad_quotes(con_ids[action.intent_id], "absent" if mode == "stale" else mode)

        def shows(action: Any, mode: str) -> bool:
            ticker = market.get(action.contract.key).ticker  # type: ignore[union-attr]
            if mode == "nan":
                return math.isnan(ticker.bid) and math.isnan(ticker.ask)
            if mode == "crossed":
                return ticker.bid > ticker.ask
            if mode == "zero":
                return ticker.bid == 0 and ticker.ask == 0
            return True

        await bot.wait_for(lambda: all(shows(a, spoiled[a.intent_id]) for a in buys), 10)
        if "stale" in modes:
            # IB connectivity blips (1100, then 1102 "data maintained"): every line ticks again, except the one
            # that stopped; its last quote predates the break, so it is as old as that.
            await asyncio.sleep(0.3)  # 90 clock seconds: older than fresh_quote_seconds
            bot.gateway.faults.connectivity_lost(restore_after=0.1, data_lost=False)
            await bot.wait_for(lambda: market.last_break is not None and not market.healthy, 10)
            await bot.wait_for(lambda: bot.service.broker.connection.connected, 10)
            others = [a for a in plan.actions if a.kind == "buy" and a.intent_id not in spoiled]
            break_at = market.last_break

            def ticked_again(action: Any) -> bool:
                subscription = market.get(action.contract.key)
                return subscription is not None and (subscription.last_tick or break_at) > break_at

            await bot.wait_for(lambda: all(ticked_again(a) for a in others), 10)
        return await execute(plan, **context)

    executor.execute = spoiled_then_execute  # type: ignore[method-assign]


async def test_nan_crossed_zero_or_stale_quotes_refuse_their_slot_and_the_others_proceed() -> None:
    with short_tmp_dir() as tmp:
        async with running_bot(tmp, speed=300, execution={"fresh_quote_seconds": 60.0}) as bot:
            spoiled: dict[str, str] = {}
            _spoil_before_sending(bot, ["nan", "crossed", "zero", "stale"], spoiled)
            evaluation = await first_evaluation(bot)
            await settled(bot)

            outcomes = {o.intent_id: o for o in evaluation.outcomes}
            expected_reason = {
                "nan": "bid/ask not numbers",
                "crossed": "crossed quote",
                "zero": "no offer",
                "stale": "s old",
            }
            for intent_id, mode in spoiled.items():
                outcome = outcomes[intent_id]
                assert outcome.status == "refused", (mode, outcome)
                assert expected_reason[mode] in outcome.message, (mode, outcome.message)
                assert bot.orders_per_intent()[intent_id] == 0, "a refused intent is never sent"
            gates = {
                r.payload["intent_ids"][0]: r.payload
                for r in bot.records("gate")
                if not r.payload["allowed"] and r.payload["intent_ids"]
            }
            assert set(spoiled) <= set(gates), "each refusal is journaled with its reason"
            assert all(gates[i]["gate"] == "fresh_quote" for i in spoiled), gates
            # The other slots go ahead: each sent exactly once (whether its walk then fills is the market's call).
            others = [o for o in evaluation.outcomes if o.intent_id not in spoiled and o.kind == "buy"]
            assert others and all(o.status not in ("refused", "skipped") for o in others), others
            assert all(bot.orders_per_intent()[o.intent_id] == 1 for o in others)
            assert not bot.records("intent") or not set(spoiled) & {
                r.payload["intent_id"] for r in bot.records("intent")
            }, "a refused order is not journaled as an intent"
            assert_invariants(bot.state_dir, bot.gateway, store=bot.service.store)
