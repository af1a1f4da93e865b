"""What `alvh status` shows: connection, account and mode, slots, coverage, budget, cap, schedule, halt."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.broker.connection import redact
from bot.engine.order_state import LIVE
from bot.engine.schedule import next_evaluation
from strategies.alvh.schedule import iso_week
from strategies.alvh.sizing import CONTRACT_MULTIPLIER

if TYPE_CHECKING:
    from bot.engine.service import BotService


def status_document(service: BotService) -> dict[str, Any]:
    store = service.store
    assert store is not None
    now = service.clock.now()
    zone = ZoneInfo(service.config.strategy.schedule.timezone)
    connection = service.broker.connection
    plan = service.last_plan
    harvest: dict[str, list[str]] = {}
    working: set[str] = set()
    for intent in store.intents(statuses=list(LIVE)):
        if intent.role == "harvest":
            harvest.setdefault(intent.slot_id, []).append(
                f"{int(intent.remaining)} @ {intent.limit_price or 0:.2f} GTC"
            )
        else:
            working.add(intent.slot_id)
    layers = store.layers()
    today = now.astimezone(zone).date()
    slots = []
    for slot_id in service.config.strategy.buckets.slot_ids():
        layer = layers.get(slot_id)
        quote = None
        if layer is not None and service.broker.market.subscribed(layer.contract.key):
            subscription = service.broker.market.get(layer.contract.key)
            if subscription is not None:
                bid, ask = subscription.ticker.bid, subscription.ticker.ask
                if bid == bid and ask == ask and bid >= 0 and ask > 0:
                    quote = (bid + ask) / 2
        slots.append(
            {
                "slot": slot_id,
                "contract": layer.contract.key if layer else None,
                "quantity": layer.quantity if layer else 0,
                "entry": layer.entry_price if layer else None,
                "mark": quote,
                "pnl": None
                if layer is None or quote is None
                else (quote - layer.entry_price) * layer.quantity * CONTRACT_MULTIPLIER,
                "dte": (layer.contract.expiry - today).days if layer else None,
                "state": "working order" if slot_id in working else ("held" if layer else "empty"),
                "harvest_orders": harvest.get(slot_id, []),
            }
        )
    schedule = service.config.strategy.schedule
    week = iso_week(now, schedule)
    this_week = [t for t in store.rebalances_since(now - dt.timedelta(days=7)) if iso_week(t, schedule) == week]
    halt = store.halt_state()
    record = plan.record if plan else None
    return {
        "clock_time": now.isoformat(),
        "connection": {
            "connected": connection.connected,
            "state": str(connection.state),
            "account": redact(connection.account) if connection.account else None,
            "mode": connection.mode,
            "read_only": connection.readonly,
            "read_only_reason": connection.readonly_reason or None,
            "trading_blocked": connection.trading_blocked_reason or None,
            "market_data_type": connection.market_data_type,
            "market_data_fallback": connection.market_data_fallback or None,
            "reconnects": connection.reconnects,
            "market_data_lines": service.broker.market.lines_in_use,
        },
        "halted": None if halt is None else {"reason": halt.reason, "by": halt.by, "at": halt.at.isoformat()},
        "slots": slots,
        "coverage": None if record is None else record.coverage.coverage_after,
        "premium_at_risk": None if record is None else record.budget.premium_at_risk_after,
        "premium_cap": None if record is None else record.budget.cap,
        "credit": None if record is None else record.budget.credit,
        "rebalances_this_week": len(this_week),
        "max_rebalances_per_week": service.config.strategy.schedule.max_rebalances_per_week,
        "next_evaluation": next_evaluation(now, service.calendar, service.config.strategy.schedule).isoformat(),
        "realized_pnl": store.realized_pnl(),
        "leftovers": [f"{layer.quantity} {key} ({reason})" for key, (layer, reason) in store.leftovers().items()],
        "recent_decisions": [
            {"cycle": e.cycle_id, "trigger": e.trigger, "summary": e.summary} for e in service.evaluations[-8:]
        ],
        "dry_run": service.dry_run,
    }
