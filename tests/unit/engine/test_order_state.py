"""The order state machine under random sequences of IB statuses and execution reports."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.engine.order_state import (
    TERMINAL,
    IntentStatus,
    OrderTrack,
    apply_fill,
    apply_status,
    mark_sent,
)

IB_STATUSES = [
    "ApiPending",
    "PendingSubmit",
    "PreSubmitted",
    "Submitted",
    "PendingCancel",
    "ApiCancelled",
    "Cancelled",
    "Filled",
    "Inactive",
]

events = st.lists(
    st.one_of(
        st.tuples(st.just("status"), st.sampled_from(IB_STATUSES)),
        st.tuples(st.just("fill"), st.tuples(st.sampled_from(["e1", "e2", "e3", "e4"]), st.integers(1, 4))),
    ),
    max_size=25,
)


@settings(max_examples=500, deadline=None)
@given(quantity=st.integers(1, 8), sequence=events)
def test_terminal_states_stay_terminal_except_cancel_fill_races(
    quantity: int, sequence: list[tuple[str, object]]
) -> None:
    track = mark_sent(OrderTrack(quantity=quantity))
    seen: dict[str, int] = {}
    for kind, payload in sequence:
        before = track
        if kind == "status":
            assert isinstance(payload, str)
            track = apply_status(track, payload)
        else:
            exec_id, size = payload  # type: ignore[misc]
            size = seen.setdefault(exec_id, size)  # a repeated execution id repeats the same report
            track = apply_fill(track, exec_id, size, 1.0)
        if before.status in TERMINAL:
            race = before.status == IntentStatus.CANCELLED and track.status == IntentStatus.FILLED
            assert track.status == before.status or race, (before.status, kind, payload, track.status)
        assert track.filled >= before.filled  # fills never go backwards
        assert track.filled == sum(seen[e] for e in track.fills)  # each execution id counted once
        if track.status == IntentStatus.FILLED and before.status != IntentStatus.FILLED and kind == "fill":
            assert track.remaining <= 0  # executions complete an order only when they cover it


def test_duplicate_execution_is_counted_once() -> None:
    track = mark_sent(OrderTrack(quantity=3))
    track = apply_fill(track, "exec-1", 2, 1.10)
    track = apply_fill(track, "exec-1", 2, 1.10)
    assert track.filled == 2 and track.status == IntentStatus.PARTIAL
    track = apply_fill(track, "exec-2", 1, 1.20)
    assert track.status == IntentStatus.FILLED and track.average_price == (2 * 1.10 + 1.20) / 3


def test_cancel_then_late_fill_race() -> None:
    track = apply_status(mark_sent(OrderTrack(quantity=2)), "Submitted")
    track = apply_status(track, "Cancelled")
    assert track.status == IntentStatus.CANCELLED
    track = apply_fill(track, "late", 2, 0.5)  # the fill raced the cancel
    assert track.status == IntentStatus.FILLED and track.filled == 2


def test_partial_then_cancel_keeps_the_partial() -> None:
    track = apply_fill(apply_status(mark_sent(OrderTrack(quantity=5)), "Submitted"), "e", 2, 1.0)
    track = apply_status(track, "Cancelled")
    assert track.status == IntentStatus.CANCELLED and track.filled == 2 and track.remaining == 3


def test_status_after_terminal_is_recorded_as_anomaly() -> None:
    track = apply_status(mark_sent(OrderTrack(quantity=1)), "Inactive")
    track = apply_status(track, "Submitted")
    assert track.status == IntentStatus.REJECTED and track.anomalies
