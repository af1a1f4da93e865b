"""The anchor: the last durable record's seq and hash, kept beside the ledger and replaced atomically.

It is written after the records it names are durable, so the ledger may be ahead of the anchor
(a crash between the two) but never behind it: a ledger that ends before the anchor's seq, or
whose record at that seq has another hash, was truncated or rewritten. `alvh audit anchor` prints
it so that an operator can keep a copy off the machine and later check the ledger against it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from bot.journal.encoding import GENESIS_HASH, HEX64
from bot.journal.files import atomic_replace

ANCHOR_FILE = "anchor.json"


class AnchorError(ValueError):
    """An anchor file that cannot be read or is malformed."""


@dataclass(frozen=True, slots=True)
class Anchor:
    seq: int  # 0: an empty ledger
    hash: str
    ts: str | None  # the anchored record's ts

    def to_json(self) -> dict[str, object]:
        return {"format": "alvh-journal-anchor/1", "seq": self.seq, "hash": self.hash, "ts": self.ts}

    @staticmethod
    def empty() -> Anchor:
        return Anchor(seq=0, hash=GENESIS_HASH, ts=None)


def parse_anchor(text: str, source: str) -> Anchor:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise AnchorError(f"{source}: not valid JSON ({error.msg})") from None
    if not isinstance(data, dict):
        raise AnchorError(f"{source}: not a JSON object")
    seq, digest, ts = data.get("seq"), data.get("hash"), data.get("ts")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise AnchorError(f"{source}: seq {seq!r} is not a non-negative integer")
    if not isinstance(digest, str) or not HEX64.match(digest):
        raise AnchorError(f"{source}: hash {digest!r} is not a SHA-256 hex digest")
    if ts is not None and not isinstance(ts, str):
        raise AnchorError(f"{source}: ts {ts!r} is not a string")
    return Anchor(seq=seq, hash=digest, ts=ts)


def read_anchor(path: Path) -> Anchor | None:
    """The anchor in ``path``; None when the file does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise AnchorError(f"{path}: cannot read ({error})") from None
    return parse_anchor(text, str(path))


def write_anchor(path: Path, anchor: Anchor) -> None:
    text = json.dumps(anchor.to_json(), sort_keys=True, indent=2) + "\n"
    atomic_replace(path, text.encode("utf-8"))
