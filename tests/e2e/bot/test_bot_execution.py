"""The bot over TCP against the embedded gateway: opening all ten slots, harvest ladders, a roll, a migration."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from bot.engine.order_state import IntentStatus
from strategies.alvh.models import OptionContract
from tests.support.bot_harness import MONDAY, audit, running_bot, short_tmp_dir

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def _rebalance_actions(bot: object) -> list[Counter[tuple[str, str]]]:
    """(kind, role) counts of every rebalancing plan, oldest first."""
    return [
        Counter((a["kind"], a["role"]) for a in d.payload["plan"]["actions"])
        for d in bot.records("decision")  # type: ignore[attr-defined]
        if d.payload["plan"]["is_rebalance"]
    ]


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

            # The next Monday: near layers at 2 DTE are sold and their slots refilled, a roll (step 1).
            next_monday = MONDAY + dt.timedelta(days=7)
            await bot.fast_forward(next_monday.replace(hour=9, minute=50))
            await bot.until(next_monday.replace(hour=11, minute=30))
            await bot.wait_for(lambda: sum(e.rebalance for e in bot.service.evaluations) >= 2)
            week_two = _rebalance_actions(bot)[1]
            assert week_two[("sell", "close")] >= 1 and week_two[("buy", "roll_buy")] >= 1, week_two

            # Two weeks on, a mid layer has fallen below 21 DTE: it migrates into a freed near slot, no trade.
            third_monday = MONDAY + dt.timedelta(days=14)
            await bot.fast_forward(third_monday.replace(hour=9, minute=50))
            await bot.until(third_monday.replace(hour=11, minute=30))
            await bot.wait_for(lambda: sum(e.rebalance for e in bot.service.evaluations) >= 3)
            week_three = _rebalance_actions(bot)[2]
            assert week_three[("migrate", "migrate")] >= 1, week_three
            migration = next(
                a for d in bot.records("decision") for a in d.payload["plan"]["actions"] if a["kind"] == "migrate"
            )
            layers = bot.service.store.layers()
            moved = layers[migration["to_slot_id"]]
            assert moved is not None and moved.contract.key == OptionContract.model_validate(migration["contract"]).key
            assert migration["intent_id"] not in bot.orders_per_intent(), "a migration sends no order"

            counts = bot.orders_per_intent()
            assert counts and max(counts.values()) == 1, "exactly one order per intent at the gateway"
            sent = Counter(r.payload["intent_id"] for r in bot.records("sent"))
            assert max(sent.values()) == 1
        assert audit("verify", "--state-dir", str(tmp / "state")) == 0
        assert audit("replay", "--all", "--state-dir", str(tmp / "state")) == 0
