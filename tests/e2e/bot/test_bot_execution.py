"""The bot over TCP against the embedded gateway: opening all ten slots, harvest ladders, a roll, a migration."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from bot.engine.order_state import IntentStatus
from tests.support.bot_harness import MONDAY, audit, running_bot, short_tmp_dir

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


async def test_happy_path_opens_all_slots_with_resting_harvests_then_rolls_and_migrates() -> None:
    with short_tmp_dir() as tmp:
        async with running_bot(tmp, speed=600) as bot:
            await bot.until(MONDAY.replace(hour=11, minute=0))
            await bot.wait_for(lambda: len(bot.service.evaluations) >= 1)
            first = bot.service.evaluations[0]
            assert first.rebalance and first.orders_sent >= 10, first.summary
            store = bot.service.store
            assert store is not None
            layers = store.layers()
            assert sorted(k for k, v in layers.items() if v) == sorted(bot.config.strategy.buckets.slot_ids())
            # every opening fill put a resting GTC harvest ladder on the layer
            harvest = store.intents(statuses=[IntentStatus.WORKING], role="harvest")
            by_slot = Counter(i.slot_id for i in harvest)
            for slot_id, layer in layers.items():
                assert layer is not None
                resting = sum(int(i.remaining) for i in harvest if i.slot_id == slot_id)
                assert resting == layer.quantity, (slot_id, resting, layer.quantity)
                assert by_slot[slot_id] >= 1
            gtc_at_gateway = [o for o in bot.gateway.exchange.book.active() if o.tif == "GTC"]
            assert len(gtc_at_gateway) == len(harvest)

            # The next Monday: near layers at 2 DTE are sold, mid layers below 21 DTE migrate or roll.
            next_monday = MONDAY + dt.timedelta(days=7)
            await bot.fast_forward(next_monday.replace(hour=9, minute=50))
            await bot.until(next_monday.replace(hour=11, minute=30))
            await bot.wait_for(lambda: any(e.rebalance for e in bot.service.evaluations[1:]))
            decisions = [r for r in bot.records("decision") if r.payload["plan"]["is_rebalance"]]
            kinds = Counter(a["kind"] for d in decisions[1:] for a in d.payload["plan"]["actions"])
            assert kinds["sell"] >= 1, kinds  # near layers sold (step 1)
            assert kinds["buy"] >= 1, kinds  # refilled as rolls
            assert kinds["migrate"] + kinds["buy"] >= 2, kinds

            counts = bot.orders_per_intent()
            assert counts and max(counts.values()) == 1, "exactly one order per intent at the gateway"
            sent = Counter(r.payload["intent_id"] for r in bot.records("sent"))
            assert max(sent.values()) == 1
        assert audit("verify", "--state-dir", str(tmp / "state")) == 0
        assert audit("replay", "--all", "--state-dir", str(tmp / "state")) == 0
