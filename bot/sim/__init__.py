"""The embedded paper gateway: a TWS API socket server with a simulated market and a DU paper account.

``GatewayServer`` (asyncio, in the caller's loop), ``ThreadedGateway`` (its own thread and loop) and
``Faults`` are the Python API; ``alvh gateway`` is the command line. Imports are lazy so that the
protocol modules stay light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.sim.faults import Faults
    from bot.sim.gateway import GatewayServer
    from bot.sim.scenarios import Scenario, load_scenario
    from bot.sim.threaded import ThreadedGateway

__all__ = ["Faults", "GatewayServer", "Scenario", "ThreadedGateway", "load_scenario"]

_HOMES = {
    "Faults": "bot.sim.faults",
    "GatewayServer": "bot.sim.gateway",
    "Scenario": "bot.sim.scenarios",
    "load_scenario": "bot.sim.scenarios",
    "ThreadedGateway": "bot.sim.threaded",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'bot.sim' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(home), name)
