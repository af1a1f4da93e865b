"""The record format: canonical JSON lines whose hash is the SHA-256 of the record without ``hash``."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.journal.encoding import GENESIS_HASH, LineError, check_line, check_line_fast, encode_record, normalize_refs
from strategies.canonical import canonical_json, canonicalize

JSON_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)),  # any code point a JSON string can hold
    max_size=20,
) | st.sampled_from([',"kind":', ',"hash":"', "\n", "\u2028", '"', "\\", "NaN"])
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=True, allow_infinity=True)
    | JSON_TEXT
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(JSON_TEXT, children, max_size=4),
    max_leaves=25,
)


def _encode(payload: dict[str, Any], **overrides: Any) -> tuple[Any, bytes]:
    fields: dict[str, Any] = {
        "seq": 1,
        "ts": "2026-11-23T15:30:00.000000Z",
        "kind": "alert",
        "cycle_id": None,
        "payload": payload,
        "refs": {},
        "code_version": "0.1.0",
        "config_hash": "ab" * 32,
        "mode": "paper",
        "account": "DU****567#00000000",
        "prev_hash": GENESIS_HASH,
    }
    fields.update(overrides)
    return encode_record(**fields)


@settings(max_examples=150, deadline=None)
@given(payload=st.dictionaries(JSON_TEXT, JSON_VALUES, max_size=6), cycle=st.none() | JSON_TEXT)
def test_any_payload_round_trips_as_one_verified_line(payload: dict[str, Any], cycle: str | None) -> None:
    record, line = _encode(payload, cycle_id=cycle)
    assert line.endswith(b"\n") and line.count(b"\n") == 1  # never split by a newline inside a value
    read = check_line(line[:-1])
    assert read == record
    fast = check_line_fast(line[:-1])
    assert (fast.seq, fast.ts, fast.kind, fast.prev_hash, fast.hash) == (
        record.seq,
        record.ts,
        record.kind,
        record.prev_hash,
        record.hash,
    )
    assert read.payload == canonicalize(payload)
    # the definition: SHA-256 of the canonical JSON of the record without "hash"
    body = json.loads(line)
    digest = body.pop("hash")
    assert digest == hashlib.sha256(canonical_json(body).encode()).hexdigest()
    assert line[:-1].decode() == canonical_json({**body, "hash": digest})


def test_hash_depends_on_the_previous_record() -> None:
    first, _ = _encode({"a": 1})
    second, _ = _encode({"a": 1}, seq=2, prev_hash=first.hash)
    other, _ = _encode({"a": 1}, seq=2, prev_hash="1" * 64)
    assert second.hash != other.hash


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda text: text.replace('"seq":1', '"seq":2'), "does not match its hash"),
        (lambda text: text.replace('{"account"', '{ "account"'), "canonical form"),
        (lambda text: text.replace('"mode":"paper"', '"mode":"demo"'), "neither paper nor live"),
        (lambda text: text.replace(',"v":1', ""), "missing v"),
        (lambda text: text[:-1], "not valid JSON"),
        (lambda text: "[1]", "not a JSON object"),
    ],
)
def test_check_line_says_what_is_wrong(mutate: Any, message: str) -> None:
    _, line = _encode({"message": "hello"})
    for check in (check_line, check_line_fast):
        with pytest.raises(LineError, match=message):
            check(mutate(line[:-1].decode()).encode())


def test_invalid_utf8_is_reported() -> None:
    _, line = _encode({"message": "hello"})
    with pytest.raises(LineError, match="not UTF-8"):
        check_line(line[:-1].replace(b"hello", b"hel\xfflo"))


def test_refs_are_normalized_and_checked() -> None:
    assert normalize_refs({"slot": ["near-1", "near-1", "mid-2"], "intent": None, "order_id": 7}) == {
        "slot": ["near-1", "mid-2"],
        "order_id": 7,
    }
    assert normalize_refs({"slot": []}) == {}
    with pytest.raises(ValueError, match="unknown ref key"):
        normalize_refs({"colour": "red"})
    with pytest.raises(ValueError, match="string or an integer"):
        normalize_refs({"order_id": 1.5})
