"""Typed helpers that write the common record kinds, so callers never hand-roll payload dicts.

Each helper builds the payload and the ``refs`` the index searches by (slot, intent, order id, perm
id, ...) and appends through ``Journal.append``; like ``append`` it returns once the record is
durable. Payload shapes are documented on each helper; readers (summary, export) rely on them.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from bot.journal.encoding import Record, format_ts
from strategies.alvh.config import StrategyConfig
from strategies.alvh.models import Action, Book, MarketSnapshot, Plan
from strategies.canonical import JsonValue, canonical_json

Severity = Literal["info", "warning", "critical"]


@dataclass(frozen=True)
class RecordedSnapshot:
    """What ``record_snapshot`` stored: the record, the blob's hash and the inputs as a replay will see them.

    The models here went through the same JSON round trip as the stored blob (floats rounded to
    canonical precision, time zones as fixed offsets). Plan on *these*, not on the originals, and a
    replay of the decision reproduces the plan byte for byte.
    """

    record: Record
    snapshot_hash: str
    snapshot: MarketSnapshot
    book: Book
    config: StrategyConfig


def snapshot_document(snapshot: MarketSnapshot, book: Book, config: StrategyConfig) -> dict[str, JsonValue]:
    """The blob stored for a snapshot record: the planner's three inputs as JSON."""
    return {
        "snapshot": snapshot.model_dump(mode="json"),
        "book": book.model_dump(mode="json"),
        "strategy_config": config.model_dump(mode="json"),
    }


def strategy_config_hash(config: StrategyConfig) -> str:
    """Same value as ``BotConfig.strategy_hash()`` for the strategy section."""
    return hashlib.sha256(canonical_json(config.model_dump(mode="json")).encode("utf-8")).hexdigest()


def _details(details: Mapping[str, Any] | None) -> dict[str, JsonValue]:
    return dict(details) if details else {}


class KindWriters(ABC):
    """Mixed into ``Journal``: one method per record kind."""

    @abstractmethod
    def append(
        self,
        kind: str,
        payload: dict[str, JsonValue],
        *,
        cycle_id: str | None = None,
        refs: dict[str, Any] | None = None,
    ) -> Record: ...

    @abstractmethod
    def put_blob(self, value: JsonValue) -> tuple[str, int]: ...

    # ---------------------------------------------------------------------------------------------
    # evaluation: snapshot -> decision -> gates

    def record_snapshot(
        self, snapshot: MarketSnapshot, book: Book, config: StrategyConfig, *, cycle_id: str | None = None
    ) -> RecordedSnapshot:
        """Store the planner's full inputs as a compressed blob and write a ``snapshot`` record.

        Payload: ``snapshot_hash`` (the blob), ``bytes``, ``as_of``, ``strategy_config_hash`` and a
        few headline numbers (vix, spx, quote counts, held slots) for listings.
        """
        document = snapshot_document(snapshot, book, config)
        digest, size = self.put_blob(document)
        # the same JSON round trip the blob gets, so the caller plans on exactly what a replay sees
        stored = json.loads(canonical_json(document))
        replayable_snapshot = MarketSnapshot.model_validate(stored["snapshot"])
        replayable_book = Book.model_validate(stored["book"])
        replayable_config = StrategyConfig.model_validate(stored["strategy_config"])
        payload: dict[str, JsonValue] = {
            "snapshot_hash": digest,
            "bytes": size,
            "as_of": format_ts(snapshot.as_of),
            "strategy_config_hash": strategy_config_hash(config),
            "trigger": snapshot.request.trigger,
            "vix": snapshot.vix,
            "spx": snapshot.spx,
            "vx_futures": len(snapshot.vx_futures),
            "vix_options": len(snapshot.vix_options),
            "spx_options": len(snapshot.spx_options),
            "slots_held": sum(1 for slot in book.slots if slot.layer is not None),
            "working_orders": len(book.working_orders),
            "condor_legs": len(book.condor_legs),
        }
        record = self.append("snapshot", payload, cycle_id=cycle_id, refs={"snapshot": digest, "blob": digest})
        return RecordedSnapshot(record, digest, replayable_snapshot, replayable_book, replayable_config)

    def record_decision(self, plan: Plan, snapshot_hash: str, *, cycle_id: str | None = None) -> Record:
        """The Plan with its decision record. Payload: ``snapshot_hash``, ``plan`` (Plan as JSON)."""
        slots = {action.slot_id for action in plan.actions}
        slots.update(action.to_slot_id for action in plan.actions if action.to_slot_id)
        refs = {
            "snapshot": snapshot_hash,
            "slot": sorted(slots),
            "intent": [action.intent_id for action in plan.actions],
        }
        payload: dict[str, JsonValue] = {"snapshot_hash": snapshot_hash, "plan": plan.model_dump(mode="json")}
        return self.append("decision", payload, cycle_id=cycle_id, refs=refs)

    def record_gate(
        self,
        gate: str,
        allowed: bool,
        reason: str,
        *,
        intent_ids: Iterable[str] = (),
        slot_ids: Iterable[str] = (),
        details: Mapping[str, Any] | None = None,
        cycle_id: str | None = None,
    ) -> Record:
        """A risk-gate outcome. Payload: ``gate``, ``allowed``, ``reason``, ``intent_ids``, ``details``."""
        intents = list(intent_ids)
        payload: dict[str, JsonValue] = {
            "gate": gate,
            "allowed": allowed,
            "reason": reason,
            "intent_ids": list(intents),
            "details": _details(details),
        }
        return self.append("gate", payload, cycle_id=cycle_id, refs={"intent": intents, "slot": list(slot_ids)})

    # ---------------------------------------------------------------------------------------------
    # orders: intent -> sent -> status -> fill

    def record_intent(self, action: Action, *, decision_seq: int | None = None, cycle_id: str | None = None) -> Record:
        """An order (or migration) about to be carried out, written before ``placeOrder``.

        Payload: ``intent_id`` (= the IB orderRef), ``action`` (the Action as JSON), ``decision_seq``.
        """
        payload: dict[str, JsonValue] = {
            "intent_id": action.intent_id,
            "action": action.model_dump(mode="json"),
            "decision_seq": decision_seq,
        }
        refs = {
            "intent": action.intent_id,
            "slot": [action.slot_id, *([action.to_slot_id] if action.to_slot_id else [])],
            "decision": decision_seq,
        }
        return self.append("intent", payload, cycle_id=cycle_id, refs=refs)

    def record_sent(
        self,
        intent_id: str,
        order_id: int,
        *,
        slot_id: str,
        side: str,
        quantity: int,
        limit_price: float,
        contract: str,
        tif: str,
        client_id: int | None = None,
        cycle_id: str | None = None,
    ) -> Record:
        """``placeOrder`` was called. Payload: the order as sent (``contract`` is the contract key)."""
        payload: dict[str, JsonValue] = {
            "intent_id": intent_id,
            "order_id": order_id,
            "client_id": client_id,
            "slot_id": slot_id,
            "side": side,
            "quantity": quantity,
            "limit_price": limit_price,
            "contract": contract,
            "tif": tif,
        }
        refs = {"intent": intent_id, "order_id": order_id, "slot": slot_id}
        return self.append("sent", payload, cycle_id=cycle_id, refs=refs)

    def record_status(
        self,
        intent_id: str | None,
        order_id: int | None,
        status: str,
        *,
        perm_id: int | None = None,
        slot_id: str | None = None,
        filled: float = 0.0,
        remaining: float = 0.0,
        avg_fill_price: float | None = None,
        limit_price: float | None = None,
        message: str = "",
        cycle_id: str | None = None,
    ) -> Record:
        """An order status change (Submitted, Cancelled, Inactive, a price amendment, an IB error...)."""
        payload: dict[str, JsonValue] = {
            "intent_id": intent_id,
            "order_id": order_id,
            "perm_id": perm_id,
            "slot_id": slot_id,
            "status": status,
            "filled": filled,
            "remaining": remaining,
            "avg_fill_price": avg_fill_price,
            "limit_price": limit_price,
            "message": message,
        }
        refs = {"intent": intent_id, "order_id": order_id, "perm_id": perm_id, "slot": slot_id}
        return self.append("status", payload, cycle_id=cycle_id, refs=refs)

    def record_fill(
        self,
        intent_id: str | None,
        *,
        exec_id: str,
        order_id: int | None,
        perm_id: int | None,
        slot_id: str | None,
        contract: str,
        side: str,
        quantity: float,
        price: float,
        exec_time: dt.datetime,
        commission: float | None = None,
        role: str | None = None,
        harvest: bool = False,
        cycle_id: str | None = None,
    ) -> Record:
        """An execution. ``harvest=True`` writes a ``harvest_fill`` (a resting ladder order filled)."""
        payload: dict[str, JsonValue] = {
            "intent_id": intent_id,
            "exec_id": exec_id,
            "order_id": order_id,
            "perm_id": perm_id,
            "slot_id": slot_id,
            "contract": contract,
            "side": side,
            "quantity": quantity,
            "price": price,
            "commission": commission,
            "exec_time": format_ts(exec_time),
            "role": role,
        }
        refs = {"intent": intent_id, "order_id": order_id, "perm_id": perm_id, "exec_id": exec_id, "slot": slot_id}
        return self.append("harvest_fill" if harvest else "fill", payload, cycle_id=cycle_id, refs=refs)

    def record_reconcile(
        self,
        outcome: str,
        summary: str,
        *,
        intent_ids: Iterable[str] = (),
        slot_ids: Iterable[str] = (),
        details: Mapping[str, Any] | None = None,
        cycle_id: str | None = None,
    ) -> Record:
        """Reconciliation against the broker (startup, reconnect, before a cycle)."""
        intents = list(intent_ids)
        payload: dict[str, JsonValue] = {
            "outcome": outcome,
            "summary": summary,
            "intent_ids": list(intents),
            "details": _details(details),
        }
        return self.append("reconcile", payload, cycle_id=cycle_id, refs={"intent": intents, "slot": list(slot_ids)})

    # ---------------------------------------------------------------------------------------------
    # operator and safety

    def record_halt(
        self,
        reason: str,
        *,
        source: str,
        operator: str | None = None,
        cancelled_intent_ids: Iterable[str] = (),
        cycle_id: str | None = None,
    ) -> Record:
        intents = list(cancelled_intent_ids)
        payload: dict[str, JsonValue] = {
            "reason": reason,
            "source": source,
            "operator": operator,
            "cancelled_intent_ids": list(intents),
        }
        return self.append("halt", payload, cycle_id=cycle_id, refs={"intent": intents})

    def record_resume(
        self, reason: str, *, source: str, operator: str | None = None, cycle_id: str | None = None
    ) -> Record:
        payload: dict[str, JsonValue] = {"reason": reason, "source": source, "operator": operator}
        return self.append("resume", payload, cycle_id=cycle_id)

    def record_operator(
        self,
        command: str,
        *,
        reason: str | None,
        os_user: str | None = None,
        force: bool = False,
        details: Mapping[str, Any] | None = None,
        cycle_id: str | None = None,
    ) -> Record:
        """A manual request (rebalance, halt, resume ...) with the OS user who made it and the reason.

        ``os_user`` defaults to this process's user; a request that came over the control socket
        should pass the peer's user.
        """
        payload: dict[str, JsonValue] = {
            "command": command,
            "os_user": os_user if os_user is not None else _current_user(),
            "reason": reason,
            "force": force,
            "details": _details(details),
        }
        return self.append("operator", payload, cycle_id=cycle_id)

    def record_alert(
        self,
        code: str,
        message: str,
        *,
        severity: Severity = "warning",
        slot_ids: Iterable[str] = (),
        details: Mapping[str, Any] | None = None,
        cycle_id: str | None = None,
    ) -> Record:
        payload: dict[str, JsonValue] = {
            "code": code,
            "severity": severity,
            "message": message,
            "details": _details(details),
        }
        return self.append("alert", payload, cycle_id=cycle_id, refs={"slot": list(slot_ids)})

    def record_error(
        self,
        what: str,
        message: str,
        *,
        details: Mapping[str, Any] | None = None,
        intent_ids: Iterable[str] = (),
        cycle_id: str | None = None,
    ) -> Record:
        payload: dict[str, JsonValue] = {"what": what, "message": message, "details": _details(details)}
        return self.append("error", payload, cycle_id=cycle_id, refs={"intent": list(intent_ids)})


def _current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return f"uid:{os.getuid()}"


__all__ = ["KindWriters", "RecordedSnapshot", "snapshot_document", "strategy_config_hash"]
