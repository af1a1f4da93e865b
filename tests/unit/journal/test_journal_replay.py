"""Replay: the real planner on a decision's recorded inputs reproduces the recorded plan byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.examples import EXAMPLE_AS_OF
from bot.journal.blobs import BlobStore
from bot.journal.replay import MISSING, ReplayError, json_diff, render_result, replay_decision
from strategies.alvh.config import SizingConfig, StrategyConfig
from strategies.alvh.planner import plan
from tests.unit.journal.journal_fabricate import Fabricated, StepClock, book_for, market, open_journal


def test_every_recorded_decision_replays_identically(fabricated: tuple[Path, Fabricated]) -> None:
    directory, made = fabricated
    blobs = BlobStore(directory)
    assert len(made.decisions) == 4
    for decision in made.decisions:
        result = replay_decision(blobs, decision)
        assert result.identical, render_result(result)
        assert not result.differences and not result.config_changed and not result.notes


def test_replay_under_another_config_reports_what_changes(fabricated: tuple[Path, Fabricated]) -> None:
    directory, made = fabricated
    tighter = StrategyConfig(sizing=SizingConfig(target_pct=0.08, cap_pct=0.12))
    result = replay_decision(BlobStore(directory), made.decisions[0], config=tighter)
    assert not result.identical and result.config_changed
    assert {difference.path for difference in result.config_differences} == {"sizing.cap_pct", "sizing.target_pct"}
    paths = {difference.path for difference in result.differences}
    assert "record.budget.cap" in paths and "record.budget.target" in paths
    # the open orders shrink: the same slot's buy, matched by what it is, shows the new quantity
    quantity_changes = [d for d in result.differences if d.path.startswith("actions[") and d.path.endswith(".quantity")]
    assert quantity_changes and all(d.replayed < d.recorded for d in quantity_changes)
    text = "\n".join(render_result(result))
    assert "sizing.cap_pct: recorded 0.15 -> replayed 0.12" in text


def test_a_plan_that_did_not_come_from_the_recorded_inputs_is_caught(tmp_path: Path, clock: StepClock) -> None:
    directory = tmp_path / "journal"
    snapshot = market(EXAMPLE_AS_OF)
    with open_journal(directory, clock) as journal:
        recorded = journal.record_snapshot(snapshot, book_for(EXAMPLE_AS_OF, 6), StrategyConfig())
        # planned on another book than the one recorded
        other = plan(recorded.snapshot, book_for(EXAMPLE_AS_OF, 3), recorded.config)
        decision = journal.record_decision(other, recorded.snapshot_hash)
    result = replay_decision(BlobStore(directory), decision)
    assert not result.identical
    assert any(difference.path.startswith("record.slots") for difference in result.differences)


def test_replay_needs_the_recorded_inputs(fabricated: tuple[Path, Fabricated]) -> None:
    directory, made = fabricated
    blobs = BlobStore(directory)
    blobs.path_for(made.snapshot_hashes[0]).unlink()
    with pytest.raises(ReplayError, match="is missing"):
        replay_decision(blobs, made.decisions[0])
    with pytest.raises(ReplayError, match="not a decision"):
        replay_decision(blobs, made.records[0])


def test_json_diff_names_fields_and_matches_list_items() -> None:
    recorded = {
        "actions": [
            {"intent_id": "a-1", "slot_id": "near-1", "role": "open", "kind": "buy", "quantity": 3},
            {"intent_id": "b-1", "slot_id": "mid-1", "role": "close", "kind": "sell", "quantity": 2},
        ],
        "record": {"slots": [{"slot_id": "near-1", "outcome": "open"}, {"slot_id": "mid-1", "outcome": "hold"}]},
        "gone": 1,
    }
    replayed = {
        "actions": [
            {"intent_id": "a-2", "slot_id": "near-1", "role": "open", "kind": "buy", "quantity": 2},
            {"intent_id": "b-1", "slot_id": "mid-1", "role": "close", "kind": "sell", "quantity": 2},
        ],
        "record": {"slots": [{"slot_id": "mid-1", "outcome": "hold"}, {"slot_id": "near-1", "outcome": "skip"}]},
        "new": [1, 2],
    }
    differences = {
        difference.path: (difference.recorded, difference.replayed) for difference in json_diff(recorded, replayed)
    }
    assert differences == {
        "actions[near-1 open buy].intent_id": ("a-1", "a-2"),
        "actions[near-1 open buy].quantity": (3, 2),
        "record.slots[slot_id=near-1].outcome": ("open", "skip"),
        "gone": (1, MISSING),
        "new": (MISSING, [1, 2]),
    }
    assert json_diff({"x": 1}, {"x": 1.0}) != []  # byte for byte: 1 and 1.0 are different JSON
    assert json_diff([{"slot_id": "a"}, {"slot_id": "b"}], [{"slot_id": "b"}, {"slot_id": "a"}])[0].path == " (order)"
