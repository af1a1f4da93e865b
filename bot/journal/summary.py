"""One-line summaries and flat fields of records, for listings, the index and exports.

Pure functions of a record's payload. They never fail on an unexpected payload (an older or newer
bot, or a hand-written fixture): missing values are left out.
"""

from __future__ import annotations

from typing import Any

from bot.journal.encoding import Record

SUMMARY_MAX = 240
# Bump when a summary changes: indexes built with another version are rebuilt.
SUMMARY_VERSION = "1"


def _get(mapping: Any, *path: str) -> Any:
    current = mapping
    for key in path:
        if not isinstance(current, dict):
            return None
        current = current.get(key)
    return current


def _number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "?"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _money(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"${value:,.0f}"
    return "?"


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1] + "…"


def summarize(record: Record) -> str:
    """A short human description of what the record says."""
    handler = _SUMMARIES.get(record.kind)
    try:
        text = handler(record.payload) if handler else _generic(record.payload)
    except (TypeError, ValueError, KeyError, AttributeError):
        text = _generic(record.payload)
    return _clip(text)


def _generic(payload: dict[str, Any]) -> str:
    for key in ("message", "reason", "summary", "what", "status"):
        value = payload.get(key)
        if isinstance(value, str) and value:
            return value
    return ", ".join(sorted(payload))[:SUMMARY_MAX]


def _cycle(payload: dict[str, Any]) -> str:
    phase = payload.get("phase")
    if phase == "start":
        return f"evaluation started ({payload.get('trigger') or 'scheduled'})"
    outcome = payload.get("outcome") or "ended"
    error = payload.get("error")
    return f"evaluation {outcome}" + (f": {error}" if error else "")


def _snapshot(payload: dict[str, Any]) -> str:
    return (
        f"VIX {_number(payload.get('vix'))} SPX {_number(payload.get('spx'))}, "
        f"{_number(payload.get('vix_options'))} VIX options, {_number(payload.get('slots_held'))} slots held, "
        f"{_number(payload.get('working_orders'))} working orders"
    )


def _decision(payload: dict[str, Any]) -> str:
    plan = payload.get("plan")
    summary = _get(plan, "record", "summary")
    actions = _get(plan, "actions")
    count = len(actions) if isinstance(actions, list) else 0
    head = f"{count} action{'s' if count != 1 else ''}"
    return f"{head}: {summary}" if isinstance(summary, str) and summary else head


def _gate(payload: dict[str, Any]) -> str:
    verdict = "passed" if payload.get("allowed") else "BLOCKED"
    return f"{payload.get('gate', '?')} {verdict}: {payload.get('reason', '')}"


def _action_text(action: Any) -> str:
    if not isinstance(action, dict):
        return "?"
    kind = action.get("kind")
    slot = action.get("slot_id", "?")
    if kind == "migrate":
        return f"migrate {slot} -> {action.get('to_slot_id', '?')}"
    contract = action.get("contract")
    contract_text = ""
    if isinstance(contract, dict):
        contract_text = (
            f" {contract.get('trading_class', '')} {contract.get('expiry', '')} "
            f"{_number(contract.get('strike'))}{contract.get('right', '')}"
        )
    if kind == "cancel":
        return f"cancel {action.get('cancels_intent_id', '?')} ({slot})"
    price = action.get("limit_start")
    price_text = f" @ {_number(price)}" if price is not None else ""
    return (
        f"{action.get('side') or kind} {_number(action.get('quantity'))}{contract_text}{price_text} "
        f"[{action.get('role', '?')} {slot}]"
    )


def _intent(payload: dict[str, Any]) -> str:
    return _action_text(payload.get("action"))


def _sent(payload: dict[str, Any]) -> str:
    return (
        f"placeOrder #{_number(payload.get('order_id'))}: {payload.get('side', '?')} "
        f"{_number(payload.get('quantity'))} {payload.get('contract', '?')} @ {_number(payload.get('limit_price'))} "
        f"{payload.get('tif', '')}"
    )


def _status(payload: dict[str, Any]) -> str:
    text = f"#{_number(payload.get('order_id'))} {payload.get('status', '?')}"
    filled = payload.get("filled")
    if isinstance(filled, (int, float)) and filled:
        text += f" filled {_number(filled)} @ {_number(payload.get('avg_fill_price'))}"
    message = payload.get("message")
    return f"{text}: {message}" if message else text


def _fill(payload: dict[str, Any]) -> str:
    side = payload.get("side")
    verb = {"BOT": "bought", "BUY": "bought", "SLD": "sold", "SELL": "sold"}.get(str(side), str(side))
    return (
        f"{verb} {_number(payload.get('quantity'))} {payload.get('contract', '?')} @ {_number(payload.get('price'))}"
        f" (#{_number(payload.get('order_id'))}, exec {payload.get('exec_id', '?')})"
    )


def _reconcile(payload: dict[str, Any]) -> str:
    return f"{payload.get('outcome', '?')}: {payload.get('summary', '')}"


def _halt(payload: dict[str, Any]) -> str:
    who = payload.get("operator") or payload.get("source") or "?"
    return f"halted by {who}: {payload.get('reason', '')}"


def _resume(payload: dict[str, Any]) -> str:
    who = payload.get("operator") or payload.get("source") or "?"
    return f"resumed by {who}: {payload.get('reason', '')}"


def _operator(payload: dict[str, Any]) -> str:
    force = " (forced)" if payload.get("force") else ""
    reason = payload.get("reason")
    return f"{payload.get('os_user', '?')}: {payload.get('command', '?')}{force}" + (f": {reason}" if reason else "")


def _alert(payload: dict[str, Any]) -> str:
    return f"[{payload.get('severity', '?')}] {payload.get('code', '?')}: {payload.get('message', '')}"


def _error(payload: dict[str, Any]) -> str:
    return f"{payload.get('what', '?')}: {payload.get('message', '')}"


_SUMMARIES = {
    "cycle": _cycle,
    "snapshot": _snapshot,
    "decision": _decision,
    "gate": _gate,
    "intent": _intent,
    "sent": _sent,
    "status": _status,
    "fill": _fill,
    "harvest_fill": _fill,
    "reconcile": _reconcile,
    "halt": _halt,
    "resume": _resume,
    "operator": _operator,
    "alert": _alert,
    "error": _error,
}


def _float_or_none(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def decision_metrics(record: Record) -> dict[str, float | None]:
    """Coverage and premium at risk after a decision (None when the plan does not say)."""
    plan = record.payload.get("plan")
    return {
        "coverage_after": _float_or_none(_get(plan, "record", "coverage", "coverage_after")),
        "premium_at_risk_after": _float_or_none(_get(plan, "record", "budget", "premium_at_risk_after")),
        "premium_cap": _float_or_none(_get(plan, "record", "budget", "cap")),
    }


def flat_fields(record: Record) -> dict[str, Any]:
    """Order-level fields in one flat row (CSV export): side, quantity, price, status, metrics."""
    payload = record.payload
    fields: dict[str, Any] = {"side": None, "quantity": None, "price": None, "status": None}
    if record.kind == "intent":
        action = payload.get("action")
        if isinstance(action, dict):
            fields.update(side=action.get("side"), quantity=action.get("quantity"), price=action.get("limit_start"))
    elif record.kind == "sent":
        fields.update(side=payload.get("side"), quantity=payload.get("quantity"), price=payload.get("limit_price"))
    elif record.kind == "status":
        fields.update(status=payload.get("status"), quantity=payload.get("filled"), price=payload.get("avg_fill_price"))
    elif record.kind in ("fill", "harvest_fill"):
        fields.update(side=payload.get("side"), quantity=payload.get("quantity"), price=payload.get("price"))
    metrics = (
        decision_metrics(record)
        if record.kind == "decision"
        else {"coverage_after": None, "premium_at_risk_after": None, "premium_cap": None}
    )
    fields.update(metrics)
    return fields
