"""``alvh audit replay``: re-run the planner on a decision's recorded inputs and compare the plans.

A decision record holds the Plan and the hash of its snapshot blob; the blob holds the planner's
three inputs (market snapshot, book, strategy config). Replay loads them, calls the same
``strategies.alvh.planner.plan`` the bot calls, and compares canonical JSON byte for byte. On a
mismatch the differences are listed field by field (lists of actions or slots matched by their
ids), not as two walls of JSON. With another strategy config the replay shows how that config
would have decided, and which settings differ.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from pydantic import ValidationError

from bot.journal.blobs import BlobError, BlobStore
from bot.journal.encoding import Record
from bot.journal.errors import JournalError
from strategies.alvh.config import StrategyConfig
from strategies.alvh.models import Book, MarketSnapshot, Plan
from strategies.canonical import JsonValue, canonical_json

IDENTITY_KEYS: Final = ("intent_id", "slot_id", "key", "date", "expiry")
MAX_SHOWN = 60


class ReplayError(JournalError):
    """The decision cannot be replayed (inputs missing or unreadable, planner unavailable or failing)."""


class _Missing:
    def __repr__(self) -> str:
        return "(absent)"


MISSING: Final = _Missing()


@dataclass(frozen=True)
class Difference:
    path: str
    recorded: Any
    replayed: Any

    def render(self) -> str:
        if self.recorded is MISSING:
            return f"{self.path}: only in the replayed plan: {_short(self.replayed)}"
        if self.replayed is MISSING:
            return f"{self.path}: only in the recorded plan: {_short(self.recorded)}"
        recorded = _short(self.recorded, self.replayed)
        replayed = _short(self.replayed, self.recorded)
        return f"{self.path}: recorded {recorded} -> replayed {replayed}"

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "recorded": None if self.recorded is MISSING else self.recorded,
            "replayed": None if self.replayed is MISSING else self.replayed,
            "only_in": "replayed" if self.recorded is MISSING else "recorded" if self.replayed is MISSING else None,
        }


@dataclass
class ReplayResult:
    decision_seq: int
    decision_ts: str
    snapshot_hash: str
    recorded_config_hash: str
    replay_config_hash: str
    identical: bool
    differences: list[Difference] = field(default_factory=list)
    config_differences: list[Difference] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def config_changed(self) -> bool:
        return self.recorded_config_hash != self.replay_config_hash

    def to_json(self) -> dict[str, Any]:
        return {
            "decision_seq": self.decision_seq,
            "decision_ts": self.decision_ts,
            "snapshot_hash": self.snapshot_hash,
            "identical": self.identical,
            "recorded_config_hash": self.recorded_config_hash,
            "replay_config_hash": self.replay_config_hash,
            "config_changed": self.config_changed,
            "config_differences": [difference.to_json() for difference in self.config_differences],
            "differences": [difference.to_json() for difference in self.differences],
            "notes": self.notes,
        }


Planner = Callable[[MarketSnapshot, Book, StrategyConfig], Plan]


def load_planner() -> Planner:
    try:
        from strategies.alvh import planner
    except ImportError as error:
        raise ReplayError(f"the planner (strategies.alvh.planner) cannot be imported: {error}") from None
    function: Planner = planner.plan
    return function


def config_hash(config_json: JsonValue) -> str:
    return hashlib.sha256(canonical_json(config_json).encode("utf-8")).hexdigest()


def load_inputs(blobs: BlobStore, snapshot_hash: str) -> tuple[MarketSnapshot, Book, StrategyConfig, dict[str, Any]]:
    try:
        document = blobs.read(snapshot_hash)
    except BlobError as error:
        raise ReplayError(f"the decision's inputs cannot be loaded: {error}") from None
    if not isinstance(document, dict) or not {"snapshot", "book", "strategy_config"} <= document.keys():
        raise ReplayError(f"blob {snapshot_hash} does not hold a snapshot, a book and a strategy config")
    try:
        snapshot = MarketSnapshot.model_validate(document["snapshot"])
        book = Book.model_validate(document["book"])
        config = StrategyConfig.model_validate(document["strategy_config"])
    except ValidationError as error:
        raise ReplayError(
            f"the recorded inputs no longer fit this version's models ({error.error_count()} problem(s)): "
            f"{_first_error(error)}"
        ) from None
    return snapshot, book, config, document


def replay_decision(
    blobs: BlobStore,
    decision: Record,
    *,
    config: StrategyConfig | None = None,
) -> ReplayResult:
    """Replay one ``decision`` record, under its recorded strategy config or under ``config``."""
    if decision.kind != "decision":
        raise ReplayError(f"record seq {decision.seq} is a {decision.kind} record, not a decision")
    snapshot_hash = decision.payload.get("snapshot_hash")
    recorded_plan = decision.payload.get("plan")
    if not isinstance(snapshot_hash, str) or not isinstance(recorded_plan, dict):
        raise ReplayError(f"decision seq {decision.seq} has no snapshot_hash or no plan")
    snapshot, book, recorded_config, document = load_inputs(blobs, snapshot_hash)
    recorded_config_json = document["strategy_config"]
    replay_config = config if config is not None else recorded_config
    replay_config_json = replay_config.model_dump(mode="json")
    plan_function = load_planner()
    try:
        replayed = plan_function(snapshot, book, replay_config)
    except Exception as error:
        raise ReplayError(f"the planner failed on the recorded inputs: {type(error).__name__}: {error}") from None

    recorded_text = canonical_json(recorded_plan)
    replayed_text = replayed.canonical_json()
    result = ReplayResult(
        decision_seq=decision.seq,
        decision_ts=decision.ts,
        snapshot_hash=snapshot_hash,
        recorded_config_hash=config_hash(recorded_config_json),
        replay_config_hash=config_hash(replay_config_json),
        identical=recorded_text == replayed_text,
    )
    if not result.identical:
        result.differences = json_diff(recorded_plan, json.loads(replayed_text))
        if not result.differences:  # pragma: no cover - equal values always encode equally
            result.differences = [Difference("(plan)", "canonical JSON differs", "canonical JSON differs")]
    if result.config_changed:
        result.config_differences = json_diff(recorded_config_json, replay_config_json)
    if decision.config_hash != result.recorded_config_hash:
        result.notes.append(
            "the record's config_hash differs from the hash of the strategy config stored with its snapshot "
            f"({decision.config_hash[:12]}… vs {result.recorded_config_hash[:12]}…)"
        )
    return result


# --------------------------------------------------------------------------------------------------
# structural diff


def json_diff(recorded: Any, replayed: Any, path: str = "") -> list[Difference]:
    """Differences between two JSON values, by path; lists of objects are matched by an id key."""
    if isinstance(recorded, dict) and isinstance(replayed, dict):
        differences: list[Difference] = []
        for key in sorted(recorded.keys() | replayed.keys()):
            child = f"{path}.{key}" if path else str(key)
            differences.extend(json_diff(recorded.get(key, MISSING), replayed.get(key, MISSING), child))
        return differences
    if isinstance(recorded, list) and isinstance(replayed, list):
        return _list_diff(recorded, replayed, path)
    if recorded is MISSING or replayed is MISSING:
        return [Difference(path or "(root)", recorded, replayed)]
    if type(recorded) is not type(replayed) or recorded != replayed:
        return [Difference(path or "(root)", recorded, replayed)]
    return []


def _identity_key(recorded: list[Any], replayed: list[Any]) -> str | None:
    """A key that identifies the items of both lists (unique in each) and that most items share."""
    items = recorded + replayed
    if not recorded or not replayed or not all(isinstance(item, dict) for item in items):
        return None
    for key in IDENTITY_KEYS:
        before = [item.get(key) for item in recorded]
        after = [item.get(key) for item in replayed]
        if not all(isinstance(value, (str, int)) for value in before + after):
            continue
        if len(set(before)) != len(before) or len(set(after)) != len(after):
            continue
        if 2 * len(set(before) & set(after)) >= min(len(before), len(after)):
            return key
    return None


def _role(item: Any) -> tuple[str, ...] | None:
    """What a list item is about, beyond its id: (slot, role, kind) for actions and slot decisions."""
    if not isinstance(item, dict) or not isinstance(item.get("slot_id"), str):
        return None
    return tuple(str(item[key]) for key in ("slot_id", "role", "kind") if isinstance(item.get(key), str))


def _label(item: Any) -> str:
    if not isinstance(item, dict):
        return ""
    parts = [str(item[key]) for key in ("slot_id", "role") if isinstance(item.get(key), str)]
    return f" ({' '.join(parts)})" if parts else ""


def _list_diff(recorded: list[Any], replayed: list[Any], path: str) -> list[Difference]:
    key = _identity_key(recorded, replayed)
    if key is not None:
        before = {item[key]: item for item in recorded}
        after = {item[key]: item for item in replayed}
        differences: list[Difference] = []
        only_before = [identity for identity in before if identity not in after]
        only_after = [identity for identity in after if identity not in before]
        # an item whose id changed (ids are derived from content) is paired by what it is about
        paired: dict[Any, Any] = {}
        for identity in only_before:
            role = _role(before[identity])
            match = next(
                (other for other in only_after if other not in paired.values() and _role(after[other]) == role), None
            )
            if role is not None and match is not None:
                paired[identity] = match
        for identity in before:
            if identity in after:
                child = f"{path}[{key}={identity}]"
                differences.extend(json_diff(before[identity], after[identity], child))
            elif identity in paired:
                child = f"{path}[{' '.join(_role(before[identity]) or ())}]"
                differences.extend(json_diff(before[identity], after[paired[identity]], child))
            else:
                differences.extend(json_diff(before[identity], MISSING, f"{path}[{key}={identity}]"))
        for identity in only_after:
            if identity not in paired.values():
                differences.extend(json_diff(MISSING, after[identity], f"{path}[{key}={identity}]"))
        order_before = [item[key] for item in recorded if item[key] in after]
        order_after = [item[key] for item in replayed if item[key] in before]
        if not differences and order_before != order_after:
            differences.append(Difference(f"{path} (order)", order_before, order_after))
        return differences
    differences = []
    for position in range(max(len(recorded), len(replayed))):
        first = recorded[position] if position < len(recorded) else MISSING
        second = replayed[position] if position < len(replayed) else MISSING
        child = f"{path}[{position}]{_label(first if first is not MISSING else second)}"
        differences.extend(json_diff(first, second, child))
    return differences


def _short(value: Any, other: Any = MISSING) -> str:
    if value is MISSING:
        return "(absent)"
    if isinstance(value, dict):
        label = value.get("intent_id") or value.get("slot_id") or ""
        return f"{{{len(value)} fields{' ' + str(label) if label else ''}}}"
    if isinstance(value, list):
        return f"[{len(value)} items]"
    if isinstance(value, str) and isinstance(other, str) and len(value) > 100:
        # show where the two texts part, not their common beginning
        common = 0
        while common < min(len(value), len(other)) and value[common] == other[common]:
            common += 1
        start = max(0, common - 30)
        window = value[start : start + 90]
        return json.dumps(
            ("…" if start else "") + window + ("…" if start + 90 < len(value) else ""), ensure_ascii=False
        )
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 100 else text[:97] + "..."


def _first_error(error: ValidationError) -> str:
    first = error.errors(include_url=False)[0]
    location = ".".join(str(part) for part in first["loc"])
    return f"{location}: {first['msg']}"


def render_result(result: ReplayResult, limit: int = MAX_SHOWN) -> list[str]:
    """Readable lines describing a replay outcome."""
    lines = []
    verdict = "identical" if result.identical else f"DIFFERENT ({len(result.differences)} difference(s))"
    lines.append(f"decision seq {result.decision_seq} at {result.decision_ts}: replayed plan is {verdict}")
    if result.config_changed:
        lines.append(
            f"replayed under another strategy config ({result.replay_config_hash[:12]}…, recorded "
            f"{result.recorded_config_hash[:12]}…); settings that differ:"
        )
        lines.extend(f"  {difference.render()}" for difference in result.config_differences[:limit])
    if result.differences:
        lines.append("plan differences:")
        lines.extend(f"  {difference.render()}" for difference in result.differences[:limit])
        if len(result.differences) > limit:
            lines.append(f"  ... and {len(result.differences) - limit} more")
    lines.extend(f"note: {note}" for note in result.notes)
    return lines
