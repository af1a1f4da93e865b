"""The one poll-until-true wait the end-to-end tests share."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def wait_until(predicate: Callable[[], object], timeout: float, what: str = "condition") -> None:
    """Poll ``predicate`` every 20 ms, without blocking the event loop (the gateway may run on it); fail the
    test with ``what`` in the message once ``timeout`` wall seconds have passed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        await asyncio.sleep(0.02)
