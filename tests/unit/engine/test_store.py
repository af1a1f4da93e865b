"""The SQLite state store: slots, intents, fills (deduplicated), rebalances, halt state survive reopening."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.engine.order_state import IntentStatus
from bot.store.database import FillRecord, IntentRecord, Store
from strategies.alvh.models import Layer, OptionContract

NOW = dt.datetime(2026, 11, 23, 15, 30, tzinfo=dt.UTC)
CALL = OptionContract(symbol="VIX", trading_class="VIXW", expiry=dt.date(2026, 12, 30), strike=20, right="C", con_id=7)


def _layer(slot: str) -> Layer:
    return Layer(contract=CALL, quantity=3, entry_price=1.2, opened_at=NOW, opened_in_slot=slot)


def test_state_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with Store.open(path) as store:
        store.set_layer("mid-1", _layer("mid-1"))
        store.add_intent(
            IntentRecord(
                intent_id="alvh-1",
                kind="buy",
                role="open",
                slot_id="mid-1",
                quantity=3,
                created_at=NOW,
                side="BUY",
                contract=CALL,
                limit_start=1.1,
                limit_bound=1.2,
            )
        )
        store.update_intent("alvh-1", NOW, status=IntentStatus.SENT, order_id=12)
        assert store.add_fill(FillRecord("x1", "alvh-1", CALL.key, "BOT", 2, 1.15, NOW))
        assert not store.add_fill(FillRecord("x1", "alvh-1", CALL.key, "BOT", 2, 1.15, NOW))  # duplicate report
        store.add_rebalance(NOW, "cycle-1", False, None, None)
        store.set_halt("test", "tester", NOW)
        store.set_last_rebalance_opportunity(NOW)
    with Store.open(path) as store:
        assert store.layers()["mid-1"] == _layer("mid-1")
        intent = store.intent("alvh-1")
        assert intent is not None and intent.status == IntentStatus.SENT and intent.order_id == 12
        assert intent.filled == 2 and intent.remaining == 1
        assert store.rebalances_since(NOW - dt.timedelta(days=1)) == [NOW]
        halt = store.halt_state()
        assert halt is not None and halt.reason == "test"
        assert store.last_rebalance_opportunity() == NOW
        store.clear_halt()
        assert store.halt_state() is None


def test_migration_moves_layer_and_its_harvest_orders(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.sqlite") as store:
        store.set_layer("mid-1", _layer("mid-1"))
        store.add_intent(
            IntentRecord(
                intent_id="alvh-h",
                kind="place_harvest",
                role="harvest",
                slot_id="mid-1",
                quantity=3,
                created_at=NOW,
                status=IntentStatus.WORKING,
            )
        )
        store.move_layer("mid-1", "near-2")
        assert store.layers()["near-2"] is not None and store.layers()["mid-1"] is None
        moved = store.intent("alvh-h")
        assert moved is not None and moved.slot_id == "near-2"
        with pytest.raises(ValueError):
            store.move_layer("mid-1", "near-3")


def test_unknown_update_fields_are_refused(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.sqlite") as store:
        store.add_intent(
            IntentRecord(intent_id="a", kind="buy", role="open", slot_id="near-1", quantity=1, created_at=NOW)
        )
        with pytest.raises(ValueError):
            store.update_intent("a", NOW, colour="red")
        with pytest.raises(KeyError):
            store.update_intent("missing", NOW, status=IntentStatus.SENT)


def test_leftovers_of_one_contract_from_two_slots_add_up(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.sqlite") as store:
        store.add_leftover(_layer("near-3").model_copy(update={"quantity": 1, "entry_price": 0.10}), "released near-3")
        merged = store.add_leftover(
            _layer("near-4").model_copy(update={"quantity": 3, "entry_price": 0.30}), "released near-4"
        )
        assert merged.quantity == 4 and merged.entry_price == pytest.approx(0.25)
        layer, reason = store.leftovers()[CALL.key]
        assert layer.quantity == 4 and "near-3" in reason and "near-4" in reason
