"""The ledger's record format: one canonical JSON object per line, hash-chained.

A record is a JSON object with exactly the keys of ``RECORD_KEYS``. ``hash`` is the SHA-256 (hex) of
the canonical JSON (strategies.canonical) of the record without ``hash``; ``prev_hash`` is the
``hash`` of the record before it (``GENESIS_HASH`` for the first). The line written to the ledger is
the canonical JSON of the whole record followed by ``\\n``.

Because canonical JSON sorts keys and ``hash`` is never the first key, the line with the text
``,"hash":"<hash>"`` removed is byte for byte the canonical JSON that was hashed. ``check_line``
uses that to verify a line without re-encoding it in Python: a JSON string cannot contain an
unescaped ``"``, so the first occurrence of that text is always the top-level key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Final, Literal

from strategies.canonical import JsonValue, canonical_json

FORMAT_VERSION: Final = 1
GENESIS_HASH: Final = "0" * 64

Mode = Literal["paper", "live"]
MODES: Final = frozenset({"paper", "live"})

# The record kinds the bot writes. Unknown kinds are accepted on read (a newer bot may add some).
KINDS: Final = (
    "cycle",
    "snapshot",
    "decision",
    "gate",
    "intent",
    "sent",
    "status",
    "fill",
    "harvest_fill",
    "reconcile",
    "halt",
    "resume",
    "operator",
    "alert",
    "error",
)
KIND_PATTERN: Final = re.compile(r"^[a-z][a-z_]{0,31}$")

# Keys of ``refs`` that the index makes searchable; values are a string, an int or a list of them.
REF_KEYS: Final = frozenset(
    {"slot", "intent", "order_id", "perm_id", "exec_id", "snapshot", "decision", "quarantine", "blob"}
)

RECORD_KEYS: Final = frozenset(
    {
        "v",
        "seq",
        "ts",
        "kind",
        "cycle_id",
        "payload",
        "refs",
        "code_version",
        "config_hash",
        "mode",
        "account",
        "prev_hash",
        "hash",
    }
)

LEDGER_NAME: Final = re.compile(r"^ledger-(\d{4})-(\d{2})\.jsonl$")
HEX64: Final = re.compile(r"^[0-9a-f]{64}$")
TS_FORMAT: Final = "%Y-%m-%dT%H:%M:%S.%fZ"
TS_PATTERN: Final = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{6}Z$")
# one encoder/decoder for every line: json.dumps with options builds a new encoder on each call
_ENCODER: Final = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_DECODER: Final = json.JSONDecoder()


def format_ts(moment: dt.datetime) -> str:
    """RFC 3339 UTC with microseconds, fixed width so that text order is time order."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"the journal clock returned a naive datetime ({moment.isoformat()}); it must be aware")
    return moment.astimezone(dt.UTC).strftime(TS_FORMAT)


def parse_ts(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, TS_FORMAT).replace(tzinfo=dt.UTC)


def ledger_name_for(ts: str) -> str:
    """The monthly ledger file a record with this ``ts`` belongs in."""
    return f"ledger-{ts[0:4]}-{ts[5:7]}.jsonl"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def normalize_refs(refs: dict[str, Any] | None) -> dict[str, JsonValue]:
    """Refs with empty values dropped and single-item lists kept as lists (stable shape for the index)."""
    if not refs:
        return {}
    normalized: dict[str, JsonValue] = {}
    for key, value in refs.items():
        if key not in REF_KEYS:
            raise ValueError(f"unknown ref key {key!r}; allowed: {', '.join(sorted(REF_KEYS))}")
        if value is None:
            continue
        if isinstance(value, (list, tuple, set, frozenset)):
            items = [_ref_scalar(key, item) for item in value if item is not None]
            # sets have no order; lists keep theirs but lose duplicates
            unique = sorted(set(items), key=str) if isinstance(value, (set, frozenset)) else list(dict.fromkeys(items))
            if unique:
                normalized[key] = list(unique)
            continue
        normalized[key] = _ref_scalar(key, value)
    return normalized


def _ref_scalar(key: str, value: object) -> str | int:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"ref {key!r} must be a string or an integer, not {type(value).__name__}")
    return value


@dataclass(frozen=True, slots=True)
class Record:
    """One ledger record as written (or read back and verified)."""

    seq: int
    ts: str
    kind: str
    cycle_id: str | None
    payload: dict[str, JsonValue]
    refs: dict[str, JsonValue]
    code_version: str
    config_hash: str
    mode: str
    account: str | None
    prev_hash: str
    hash: str

    @property
    def time(self) -> dt.datetime:
        return parse_ts(self.ts)

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "v": FORMAT_VERSION,
            "seq": self.seq,
            "ts": self.ts,
            "kind": self.kind,
            "cycle_id": self.cycle_id,
            "payload": self.payload,
            "refs": self.refs,
            "code_version": self.code_version,
            "config_hash": self.config_hash,
            "mode": self.mode,
            "account": self.account,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }

    def ref_values(self, key: str) -> list[str | int]:
        value = self.refs.get(key)
        if value is None:
            return []
        if isinstance(value, list):
            return [item for item in value if isinstance(item, (str, int))]
        return [value] if isinstance(value, (str, int)) else []


def encode_record(
    *,
    seq: int,
    ts: str,
    kind: str,
    cycle_id: str | None,
    payload: dict[str, JsonValue],
    refs: dict[str, JsonValue],
    code_version: str,
    config_hash: str,
    mode: str,
    account: str | None,
    prev_hash: str,
) -> tuple[Record, bytes]:
    """The record (with its hash) and the exact line to append, ``\\n`` included.

    The payload is stored as its canonical form (floats rounded, NaN as a string), so the returned
    record holds exactly what a reader will get back.
    """
    body: dict[str, JsonValue] = {
        "v": FORMAT_VERSION,
        "seq": seq,
        "ts": ts,
        "kind": kind,
        "cycle_id": cycle_id,
        "payload": payload,
        "refs": refs,
        "code_version": code_version,
        "config_hash": config_hash,
        "mode": mode,
        "account": account,
        "prev_hash": prev_hash,
    }
    body_text = canonical_json(body)
    digest = sha256_hex(body_text.encode("utf-8"))
    canonical_body = json.loads(body_text)
    # "hash" sorts right before "kind", and every key before it holds a scalar: the first ',"kind":'
    # is the top-level key, so inserting there gives the canonical JSON of the record with its hash.
    line = body_text.replace(',"kind":', f',"hash":"{digest}","kind":', 1)
    record = Record(
        seq=seq,
        ts=ts,
        kind=kind,
        cycle_id=cycle_id,
        payload=canonical_body["payload"],
        refs=canonical_body["refs"],
        code_version=code_version,
        config_hash=config_hash,
        mode=mode,
        account=account,
        prev_hash=prev_hash,
        hash=digest,
    )
    return record, (line + "\n").encode("utf-8")


class LineError(ValueError):
    """A ledger line that is not a valid record; the message says what is wrong with it."""


def check_line(line: bytes, *, canonical: bool = True) -> Record:
    """Parse and verify one ledger line (without its ``\\n``); raise ``LineError`` saying what is wrong.

    Checks: UTF-8, JSON object, exactly the record keys with the right types, canonical encoding
    (re-encoding gives the same bytes; skipped with ``canonical=False``, e.g. to build the index)
    and the hash, which is computed over the line's own bytes either way.
    """
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        raise LineError(f"not UTF-8 text ({error.reason} at byte {error.start})") from None
    try:
        obj = _DECODER.decode(text)
    except json.JSONDecodeError as error:
        raise LineError(f"not valid JSON ({error.msg} at column {error.colno})") from None
    if not isinstance(obj, dict):
        raise LineError("not a JSON object")
    keys = obj.keys()
    if keys != RECORD_KEYS:
        missing = sorted(RECORD_KEYS - keys)
        extra = sorted(keys - RECORD_KEYS)
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected {', '.join(extra)}")
        raise LineError(f"wrong record keys: {'; '.join(parts)}")
    record = _typed_record(obj)
    # Canonical form: the C encoder reproduces canonical_json for a value read back from canonical JSON
    # (floats were rounded when written, NaN is a string), so any other spelling is a modification.
    if canonical and _ENCODER.encode(obj) != text:
        raise LineError("not in canonical form (the bytes were edited)")
    segment = f',"hash":"{record.hash}"'
    position = text.find(segment)
    if position < 0:
        raise LineError("not in canonical form (hash field out of place)")
    body = text[:position] + text[position + len(segment) :]
    if sha256_hex(body.encode("utf-8")) != record.hash:
        raise LineError("content does not match its hash")
    return record


def _typed_record(obj: dict[str, Any]) -> Record:
    problems = []
    if obj["v"] != FORMAT_VERSION:
        problems.append(f"format version {obj['v']!r} (expected {FORMAT_VERSION})")
    seq = obj["seq"]
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        problems.append(f"seq {seq!r} is not a positive integer")
    for key in ("ts", "kind", "code_version", "config_hash", "mode"):
        if not isinstance(obj[key], str):
            problems.append(f"{key} is not a string")
    for key in ("prev_hash", "hash"):
        if not isinstance(obj[key], str) or not HEX64.match(obj[key]):
            problems.append(f"{key} is not a SHA-256 hex digest")
    for key in ("cycle_id", "account"):
        if obj[key] is not None and not isinstance(obj[key], str):
            problems.append(f"{key} is neither a string nor null")
    for key in ("payload", "refs"):
        if not isinstance(obj[key], dict):
            problems.append(f"{key} is not an object")
    if isinstance(obj["ts"], str) and not TS_PATTERN.match(obj["ts"]):
        problems.append(f"ts {obj['ts']!r} is not RFC 3339 UTC")
    if isinstance(obj["kind"], str) and not KIND_PATTERN.match(obj["kind"]):
        problems.append(f"kind {obj['kind']!r} is not a record kind")
    if isinstance(obj["mode"], str) and obj["mode"] not in MODES:
        problems.append(f"mode {obj['mode']!r} is neither paper nor live")
    if problems:
        raise LineError("; ".join(problems))
    return Record(
        seq=obj["seq"],
        ts=obj["ts"],
        kind=obj["kind"],
        cycle_id=obj["cycle_id"],
        payload=obj["payload"],
        refs=obj["refs"],
        code_version=obj["code_version"],
        config_hash=obj["config_hash"],
        mode=obj["mode"],
        account=obj["account"],
        prev_hash=obj["prev_hash"],
        hash=obj["hash"],
    )


# --------------------------------------------------------------------------------------------------
# Fast check (verify): hash over the raw bytes, chain fields read from the line's fixed layout

_HASH_KEY: Final = b',"hash":"'
_PAYLOAD_KEY: Final = b',"payload":{'
_PREV_KEY: Final = b'},"prev_hash":"'
_HEAD_END: Final = re.compile(rb',"kind":"([a-z][a-z_]{0,31})","mode":"(?:paper|live)"\Z')
_TAIL: Final = re.compile(
    rb'\},"prev_hash":"([0-9a-f]{64})","refs":(\{.*\}),"seq":([1-9][0-9]{0,17}),'
    rb'"ts":"(\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{6}Z)",'
    rb'"v":1\}\Z',
    re.S,
)
_HEX: Final = re.compile(rb"[0-9a-f]{64}\Z")
_REFS_KINDS: Final = frozenset({"snapshot", "decision"})


@dataclass(frozen=True, slots=True)
class RecordHeader:
    """A record's chain fields, checked without parsing its payload (refs only for snapshot/decision)."""

    seq: int
    ts: str
    kind: str
    prev_hash: str
    hash: str
    refs: dict[str, JsonValue]

    def ref_values(self, key: str) -> list[str | int]:
        value = self.refs.get(key)
        if value is None:
            return []
        if isinstance(value, list):
            return [item for item in value if isinstance(item, (str, int))]
        return [value] if isinstance(value, (str, int)) else []


def check_line_fast(line: bytes) -> RecordHeader:
    """Verify a line's hash and read its chain fields; raise ``LineError`` saying what is wrong.

    The SHA-256 is computed over the line's bytes with the hash field taken out, which is exactly the
    canonical JSON that was hashed, so a change to any byte is detected. Seq, ts, kind and prev_hash
    are read from their fixed places in the canonical layout; the payload is not parsed.
    ``check_line`` (``alvh audit verify --deep``) also parses everything and re-encodes it.
    """
    start = line.find(_HASH_KEY)
    digest_end = start + len(_HASH_KEY) + 64
    digest = line[start + len(_HASH_KEY) : digest_end]
    if start < 0 or not _HEX.match(digest) or line[digest_end : digest_end + 1] != b'"':
        return _fast_failure(line)
    if hashlib.sha256(line[:start] + line[digest_end + 1 :]).hexdigest().encode("ascii") != digest:
        return _fast_failure(line)
    payload_at = line.find(_PAYLOAD_KEY)
    prev_at = line.rfind(_PREV_KEY)
    if payload_at < 0 or prev_at < payload_at or not line.startswith(b'{"account":'):
        return _fast_failure(line)
    head = _HEAD_END.search(line, max(0, payload_at - 60), payload_at)
    tail = _TAIL.match(line, prev_at)
    if head is None or tail is None:
        return _fast_failure(line)
    kind = head.group(1).decode("ascii")
    refs: dict[str, JsonValue] = {}
    if kind in _REFS_KINDS:
        try:
            parsed = _DECODER.decode(tail.group(2).decode("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _fast_failure(line)
        if not isinstance(parsed, dict):
            return _fast_failure(line)
        refs = parsed
    return RecordHeader(
        seq=int(tail.group(3)),
        ts=tail.group(4).decode("ascii"),
        kind=kind,
        prev_hash=tail.group(1).decode("ascii"),
        hash=digest.decode("ascii"),
        refs=refs,
    )


def _fast_failure(line: bytes) -> RecordHeader:
    """The fast path found something wrong: the full check says exactly what (it raises)."""
    record = check_line(line)
    # the full check accepted what the fast path rejected: valid, but not laid out as the writer lays out
    raise LineError(f"record seq {record.seq} has a matching hash but not the ledger's canonical layout")
