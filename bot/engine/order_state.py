"""The life of one order intent, driven by IB order statuses and execution reports.

Quantities filled come only from executions, deduplicated by execution id: IB may send a status and
an execution in either order, twice, or not at all. Statuses move the state forward; a terminal state
(filled, cancelled, rejected, expired) stays terminal, with one exception IB really produces: a fill
that raced a cancel arrives after "Cancelled" and still counts — the order then ends filled (or stays
cancelled with the partial quantity recorded).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum


class IntentStatus(StrEnum):
    JOURNALED = "journaled"  # written to the journal; not known to have reached the broker
    SENT = "sent"  # placeOrder called
    WORKING = "working"  # acknowledged by the broker (PreSubmitted / Submitted)
    PARTIAL = "partial"  # some quantity filled, the rest working
    FILLED = "filled"
    CANCELLED = "cancelled"  # cancelled, possibly after a partial fill
    REJECTED = "rejected"  # refused by the broker (Inactive, or an error that ends the order)
    EXPIRED = "expired"  # never reached the broker and was not sent after recovery
    UNKNOWN = "unknown"  # sent, but the broker does not know it after reconciliation: halt


TERMINAL = frozenset({IntentStatus.FILLED, IntentStatus.CANCELLED, IntentStatus.REJECTED, IntentStatus.EXPIRED})
LIVE = frozenset({IntentStatus.SENT, IntentStatus.WORKING, IntentStatus.PARTIAL})

_IB_STATUS: dict[str, IntentStatus] = {
    "ApiPending": IntentStatus.SENT,
    "PendingSubmit": IntentStatus.SENT,
    "PreSubmitted": IntentStatus.WORKING,
    "Submitted": IntentStatus.WORKING,
    "PendingCancel": IntentStatus.WORKING,
    "ApiCancelled": IntentStatus.CANCELLED,
    "Cancelled": IntentStatus.CANCELLED,
    "Filled": IntentStatus.FILLED,
    "Inactive": IntentStatus.REJECTED,
}


class UnknownIbStatusError(ValueError):
    pass


@dataclass(frozen=True)
class OrderTrack:
    """What the bot knows of one order: its target quantity, fills by execution id, and status."""

    quantity: int
    status: IntentStatus = IntentStatus.JOURNALED
    fills: dict[str, tuple[float, float]] = field(default_factory=dict)  # exec id -> (quantity, price)
    anomalies: tuple[str, ...] = ()

    @property
    def filled(self) -> float:
        return sum(quantity for quantity, _ in self.fills.values())

    @property
    def remaining(self) -> float:
        return max(0.0, self.quantity - self.filled)

    @property
    def average_price(self) -> float | None:
        filled = self.filled
        if filled <= 0:
            return None
        return sum(quantity * price for quantity, price in self.fills.values()) / filled

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


def mark_sent(track: OrderTrack) -> OrderTrack:
    if track.status == IntentStatus.JOURNALED:
        return replace(track, status=IntentStatus.SENT)
    return track


def apply_status(track: OrderTrack, ib_status: str) -> OrderTrack:
    """Apply an IB order status string; unknown strings raise, terminal states do not move back."""
    target = _IB_STATUS.get(ib_status)
    if target is None:
        raise UnknownIbStatusError(f"unknown IB order status {ib_status!r}")
    if track.terminal:
        if track.status == IntentStatus.CANCELLED and target == IntentStatus.FILLED:
            # The broker says the whole order filled after all: trust the executions for quantities,
            # but a Filled status after Cancelled is the cancel/fill race resolving as filled.
            return replace(track, status=IntentStatus.FILLED) if track.remaining <= 0 else track
        if target != track.status:
            return _note(track, f"status {ib_status} after terminal {track.status}: ignored")
        return track
    if target == IntentStatus.CANCELLED and track.filled > 0 and track.remaining <= 0:
        return replace(track, status=IntentStatus.FILLED)
    if target == IntentStatus.WORKING and track.filled > 0:
        target = IntentStatus.PARTIAL
    if target == IntentStatus.FILLED and track.remaining > 0:
        # Filled before its executions arrived: keep waiting for them, the order is done at the broker.
        return replace(track, status=IntentStatus.FILLED)
    if target == IntentStatus.SENT and track.status in (IntentStatus.WORKING, IntentStatus.PARTIAL):
        return track  # a late PendingSubmit does not move an acknowledged order back
    return replace(track, status=target)


def apply_fill(track: OrderTrack, exec_id: str, quantity: float, price: float) -> OrderTrack:
    """Apply one execution report; a repeated execution id changes nothing."""
    if exec_id in track.fills:
        return track
    if quantity <= 0:
        return _note(track, f"execution {exec_id} with non-positive quantity {quantity}: ignored")
    fills = dict(track.fills)
    fills[exec_id] = (quantity, price)
    updated = replace(track, fills=fills)
    if updated.filled > updated.quantity + 1e-9:
        updated = _note(updated, f"fills {updated.filled} exceed the order quantity {updated.quantity}")
    if track.status in (IntentStatus.REJECTED, IntentStatus.EXPIRED):
        # Recorded (positions move with executions) but the state stays terminal; reconciliation will see it.
        return _note(updated, f"execution {exec_id} on a {track.status} order")
    if updated.remaining <= 0:
        return replace(updated, status=IntentStatus.FILLED)
    if updated.status in (IntentStatus.JOURNALED, IntentStatus.SENT, IntentStatus.WORKING):
        return replace(updated, status=IntentStatus.PARTIAL)
    return updated


def mark_unknown(track: OrderTrack) -> OrderTrack:
    if track.terminal:
        return track
    return replace(track, status=IntentStatus.UNKNOWN)


def mark_expired(track: OrderTrack) -> OrderTrack:
    if track.status != IntentStatus.JOURNALED:
        raise ValueError(f"only a journaled intent can expire, not a {track.status} one")
    return replace(track, status=IntentStatus.EXPIRED)


def _note(track: OrderTrack, anomaly: str) -> OrderTrack:
    return replace(track, anomalies=(*track.anomalies, anomaly))
