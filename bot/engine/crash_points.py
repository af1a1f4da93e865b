"""Named crash points for fault tests: the bot kills itself (SIGKILL) at the point named in the environment.

``ALVH_TEST_CRASH_POINT=after_intent_journaled`` kills the process right after an order intent is durable
in the journal and the store but before ``placeOrder``; ``NAME:N`` waits for the N-th time the point is
reached. Unset (always, outside tests), ``crash_point`` does nothing.
"""

from __future__ import annotations

import os
import signal

VARIABLE = "ALVH_TEST_CRASH_POINT"
POINTS = ("after_intent_journaled", "after_order_sent", "after_first_fill", "mid_rebalance")
_reached: dict[str, int] = {}


def crash_point(name: str) -> None:
    wanted = os.environ.get(VARIABLE)
    if not wanted:
        return
    point, _, count = wanted.partition(":")
    if point != name:
        return
    _reached[name] = _reached.get(name, 0) + 1
    if _reached[name] >= (int(count) if count.isdigit() else 1):
        os.kill(os.getpid(), signal.SIGKILL)
