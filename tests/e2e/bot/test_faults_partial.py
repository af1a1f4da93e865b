"""Partial fills end to end: orders that fill a contract at a time; layers, ladders and books stay exact."""

from __future__ import annotations

from collections import Counter

import pytest

from bot.engine.order_state import LIVE
from tests.e2e.bot.fault_support import assert_invariants
from tests.support.bot_harness import MONDAY, running_bot, short_tmp_dir

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


async def test_partial_fills_build_layers_and_ladders_from_what_filled() -> None:
    with short_tmp_dir() as tmp:
        async with running_bot(tmp, speed=120, start=MONDAY.replace(minute=55)) as bot:
            bot.gateway.faults.partial_fills(True, max_size=1)
            await bot.wait_for(lambda: len(bot.service.evaluations) >= 1, 90)
            first = bot.service.evaluations[0]
            assert first.rebalance, first.summary
            store = bot.service.store
            assert store is not None
            fills_per_intent = Counter[str]()
            for fill in store.fills():
                fills_per_intent[fill.intent_id] += 1
                assert fill.quantity == 1, "the gateway filled one contract per pass"
            buys = [o for o in first.outcomes if o.kind == "buy"]
            assert any(fills_per_intent[o.intent_id] > 1 for o in buys), "orders filled in several pieces"
            assert any(o.status in ("partial", "done") for o in buys)
            for outcome in buys:
                intent = store.intent(outcome.intent_id)
                assert intent is not None
                layer = store.layers().get(intent.slot_id)
                filled = int(intent.filled)
                assert filled == fills_per_intent[outcome.intent_id]
                if filled == 0:
                    assert layer is None
                    continue
                # the layer holds exactly what filled, and its harvest ladder sells exactly that, no more
                assert layer is not None and layer.quantity == filled, (intent.slot_id, layer, filled)
                resting = sum(
                    int(i.remaining)
                    for i in store.intents(statuses=list(LIVE), slot_id=intent.slot_id)
                    if i.role == "harvest"
                )
                assert resting == filled, (intent.slot_id, resting, filled)
            assert_invariants(bot.state_dir, bot.gateway, store=store)
