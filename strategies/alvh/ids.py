"""Deterministic intent ids, used as IB ``orderRef``.

The same inputs give the same ids, so a plan re-run after a crash names the same intents and the
executor can tell "already sent" from "new". The prefix ``alvh-`` lets reconciliation find the bot's
own orders among those of other clients.
"""

from __future__ import annotations

import datetime as dt
import hashlib

INTENT_PREFIX = "alvh-"

ROLE_CODES: dict[str, str] = {
    "open": "op",
    "roll_buy": "rb",
    "roll_sell": "rs",
    "close": "cl",
    "rebalance_harvest": "rh",
    "harvest": "hv",
    "cancel_harvest": "cx",
    "migrate": "mg",
    "release": "rl",
}


def intent_id(as_of: dt.datetime, slot_id: str, role: str, *identity: object) -> str:
    """``alvh-<UTC yymmddHHMMSS>-<slot>-<role code>-<6 hex of the action's identity>`` (at most 40 chars)."""
    stamp = as_of.astimezone(dt.UTC).strftime("%y%m%d%H%M%S")
    digest_input = "|".join([as_of.isoformat(), slot_id, role, *(str(part) for part in identity)])
    digest = hashlib.sha256(digest_input.encode()).hexdigest()[:6]
    return f"{INTENT_PREFIX}{stamp}-{slot_id}-{ROLE_CODES[role]}-{digest}"
