"""The planner's Book, built from the bot's store and the broker's condor positions."""

from __future__ import annotations

import datetime as dt

from bot.engine.order_state import LIVE, IntentStatus
from bot.store.database import Store
from strategies.alvh.models import Book, CondorLeg, Slot, WorkingOrder

BOOK_HISTORY = dt.timedelta(days=14)


def build_book(store: Store, condor_legs: list[CondorLeg], now: dt.datetime) -> Book:
    slots = [Slot(slot_id=slot_id, layer=layer) for slot_id, layer in sorted(store.layers().items()) if layer]
    working: list[WorkingOrder] = []
    unfinished = store.intents(statuses=[*LIVE, IntentStatus.JOURNALED, IntentStatus.UNKNOWN])
    for intent in unfinished:
        if intent.kind not in ("buy", "sell", "place_harvest") or intent.contract is None or intent.side is None:
            continue
        remaining = int(intent.remaining)
        price = intent.limit_price or intent.limit_start or intent.limit_bound
        if remaining <= 0 or price is None or price <= 0:
            continue
        working.append(
            WorkingOrder(
                intent_id=intent.intent_id,
                slot_id=intent.slot_id,
                role=intent.role,  # type: ignore[arg-type]
                side=intent.side,  # type: ignore[arg-type]
                contract=intent.contract,
                quantity=remaining,
                limit_price=price,
                tif=intent.tif or "DAY",  # type: ignore[arg-type]
            )
        )
    # A roll's new layer waiting for the old one to sell: its cost counts as premium at risk and keeps the
    # slot busy, exactly as the working purchase did.
    for slot_id, incoming in sorted(store.incoming().items()):
        working.append(
            WorkingOrder(
                intent_id=f"incoming-{slot_id}",
                slot_id=slot_id,
                role="roll_buy",
                side="BUY",
                contract=incoming.contract,
                quantity=incoming.quantity,
                limit_price=incoming.entry_price,
                tif="DAY",
            )
        )
    return Book(
        slots=slots,
        working_orders=working,
        condor_legs=condor_legs,
        recent_rebalances=store.rebalances_since(now - BOOK_HISTORY),
        last_rebalance_opportunity=store.last_rebalance_opportunity(),
        hedge_realized_pnl=store.realized_pnl(),
    )
