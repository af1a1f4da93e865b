"""The premium-cap gate: working buys count against the cap once, including an intent re-checked after a crash."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.config import parse_config
from bot.engine.gates import check_action
from bot.store.database import IntentRecord, Store
from strategies.alvh.models import Action, OptionContract, TradingSession

NY = ZoneInfo("America/New_York")
NOW = dt.datetime(2027, 1, 4, 10, 30, tzinfo=NY)
SESSION = TradingSession(date=NOW.date(), open=NOW.replace(hour=9, minute=30), close=NOW.replace(hour=16, minute=15))
CALL = OptionContract(symbol="VIX", trading_class="VIX", expiry=dt.date(2027, 2, 17), strike=20, right="C", con_id=9)


def _buy(intent_id: str) -> Action:
    return Action(
        intent_id=intent_id,
        kind="buy",
        role="open",
        slot_id="mid-1",
        contract=CALL,
        side="BUY",
        quantity=10,
        limit_start=0.95,
        limit_bound=1.0,
        tif="DAY",
        reason="test",
    )


def _journaled(store: Store, action: Action) -> None:
    assert action.side is not None
    store.add_intent(
        IntentRecord(
            intent_id=action.intent_id,
            kind=action.kind,
            role=action.role,
            slot_id=action.slot_id,
            quantity=action.quantity,
            created_at=NOW,
            side=action.side,
            contract=action.contract,
            limit_start=action.limit_start,
            limit_bound=action.limit_bound,
            limit_price=action.limit_start,
            tif=action.tif,
        )
    )


def _gate(store: Store, action: Action, cap: float) -> str:
    result = check_action(
        action,
        now=NOW,
        sessions=[SESSION],
        store=store,
        config=parse_config({}, "test"),
        quote=None,
        qualified_con_id=9,
        may_trade=True,
        blocked_reason="",
        cap=cap,
    )
    return result.gate


def test_an_intent_rechecked_after_a_crash_is_not_counted_twice(tmp_path: Path) -> None:
    with Store.open(tmp_path / "state.sqlite") as store:
        recovered = _buy("alvh-recovered")
        _journaled(store, recovered)  # journaled before the crash: $950 working
        # $950 working + this $1,000 would break a $1,500 cap if it were counted twice; it is the same order.
        assert _gate(store, recovered, cap=1500.0) != "premium_cap"


def test_other_working_buys_count_against_the_cap(tmp_path: Path) -> None:
    with Store.open(tmp_path / "state.sqlite") as store:
        _journaled(store, _buy("alvh-other"))
        assert _gate(store, _buy("alvh-new"), cap=1500.0) == "premium_cap"
