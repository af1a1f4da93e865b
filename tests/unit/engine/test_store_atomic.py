"""Store.atomic(): several writes commit together, or none of them does (a fill and the layer it moves)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.store.database import FillRecord, Store
from strategies.alvh.models import Layer, OptionContract

NOW = dt.datetime(2026, 11, 23, 15, 30, tzinfo=dt.UTC)
CALL = OptionContract(symbol="VIX", trading_class="VIXW", expiry=dt.date(2026, 12, 30), strike=20, right="C", con_id=7)


def _fill(exec_id: str) -> FillRecord:
    return FillRecord(exec_id, "alvh-1", CALL.key, "BOT", 3, 1.2, NOW)


def _layer() -> Layer:
    return Layer(contract=CALL, quantity=3, entry_price=1.2, opened_at=NOW, opened_in_slot="mid-1")


def test_writes_inside_atomic_commit_together(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with Store.open(path) as store, store.atomic():
        assert store.add_fill(_fill("e1"))
        store.set_layer("mid-1", _layer())
        with store.atomic():  # nesting joins the outer transaction
            store.set("marker", ["e1"])
        assert store.has_fill("e1") and store.get("marker") == ["e1"]  # visible inside the transaction
    with Store.open(path) as reopened:
        assert reopened.has_fill("e1")
        assert reopened.layers()["mid-1"] == _layer()
        assert reopened.get("marker") == ["e1"]


def test_a_failure_inside_atomic_leaves_nothing_behind(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with Store.open(path) as store:
        with pytest.raises(RuntimeError), store.atomic():
            store.add_fill(_fill("e1"))
            with store.atomic():
                store.set_layer("mid-1", _layer())
            raise RuntimeError("crash before the transaction ends")
        assert not store.has_fill("e1")
        assert store.layers().get("mid-1") is None
        store.set("after", 1)  # the store is usable again: no transaction left open
    with Store.open(path) as reopened:
        assert not reopened.has_fill("e1") and reopened.get("after") == 1
