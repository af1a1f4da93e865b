"""Faults and limits a real IB gateway shows, switchable from tests (Python) and from ``alvh gateway admin``.

Every method acts on the gateway's own event loop (``ThreadedGateway.faults`` marshals calls from other
threads). What the client observes is what a real gateway would send:

==========================  =========================================================================
method                      the client sees
==========================  =========================================================================
drop_connections            the socket closes (ib_async: disconnectedEvent)
refuse_connections(s)       connection refused for s seconds (the listener is closed)
connectivity_lost           error 1100; market data stops; orders/requests needing IB wait
connectivity_restored       error 1101 (data lost: market data lines are gone, resubscribe) or 1102
withhold_responses(req)     no answer to that request type (it is still carried out: a withheld
                            placeOrder is working at the exchange but never acknowledged)
delay_responses(req, s)     the answers arrive s seconds late
duplicate_executions        each execution report (execDetails + commission) arrives twice
lower_next_valid_id(n)      the next connections get nextValidId n (as after a gateway restart)
reject_next_order           error 201 (or the given code) for the next placeOrder
bad_quotes(conId, mode)     'nan' (NaN prices and greeks), 'empty' (IB's no-quote: -1 price, size 0,
                            greeks unset), 'absent' (no ticks), 'crossed', 'stale' (frozen),
                            'zero' (0.00 bid and ask)
competing_session           error 10197 for every market data line; no ticks while on
client_id_in_use(id)        error 326 then close for that client id
set_pacing_limit(n)         error 100 above n messages/s, disconnect at twice that (default 50)
set_market_data_lines(n)    error 101 beyond n streaming lines (default 100)
delayed_data_only           error 10167 and delayed ticks (66..) for live requests
partial_fills               fills limited to the displayed size per pass
shock_vix(level)            VIX jumps to level now and decays (half-life in days)
restart(downtime)           drop + refuse, like a gateway restart (orders and positions kept)
==========================  =========================================================================
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from bot.sim.market import Shock
from bot.sim.messages import REQUEST_NAMES

if TYPE_CHECKING:
    from bot.sim.gateway import GatewayServer

QuoteFault = Literal["nan", "empty", "absent", "crossed", "stale", "zero"]
QUOTE_FAULTS: tuple[QuoteFault, ...] = ("nan", "empty", "absent", "crossed", "stale", "zero")
REQUEST_TYPES = tuple(sorted(set(REQUEST_NAMES.values()) - {"startApi"}))


class FaultError(ValueError):
    """A fault switched with arguments that make no sense."""


@dataclass
class FaultState:
    refuse_until: float = 0.0
    outage: bool = False
    withheld: dict[str, int | None] = field(default_factory=dict)
    delayed: dict[str, tuple[float, int | None]] = field(default_factory=dict)
    duplicate_executions: int | None = 0  # None = until cleared
    next_valid_id: int | None = None
    bad_quotes: dict[int, QuoteFault] = field(default_factory=dict)
    competing_session: bool = False
    reserved_client_ids: set[int] = field(default_factory=set)
    pacing_limit: int | None = 50
    market_data_lines: int = 100
    delayed_only: bool = False

    def consume_withheld(self, request: str) -> bool:
        if request not in self.withheld:
            return False
        remaining = self.withheld[request]
        if remaining is not None:
            if remaining <= 1:
                del self.withheld[request]
            else:
                self.withheld[request] = remaining - 1
        return True

    def consume_delay(self, request: str) -> float | None:
        if request not in self.delayed:
            return None
        seconds, remaining = self.delayed[request]
        if remaining is not None:
            if remaining <= 1:
                del self.delayed[request]
            else:
                self.delayed[request] = (seconds, remaining - 1)
        return seconds

    def consume_duplicate(self) -> bool:
        if self.duplicate_executions is None:
            return True
        if self.duplicate_executions > 0:
            self.duplicate_executions -= 1
            return True
        return False


def _request_name(request: str) -> str:
    if request not in REQUEST_TYPES:
        raise FaultError(f"unknown request type {request!r}; one of: {', '.join(REQUEST_TYPES)}")
    return request


class Faults:
    """One method per fault; see the module docstring for what the client observes."""

    def __init__(self, server: GatewayServer) -> None:
        self._server = server
        self.state = FaultState()

    # -- connections -----------------------------------------------------------------------------

    def drop_connections(self, client_id: int | None = None) -> int:
        """Close client sockets abruptly (all, or those of one client id); returns how many."""
        return self._server.drop_sessions(client_id)

    def refuse_connections(self, seconds: float) -> None:
        """Stop listening for ``seconds`` (wall): new connections are refused, then accepted again."""
        if not 0 < seconds <= 3600:
            raise FaultError("seconds must be in (0, 3600]")
        self.state.refuse_until = time.monotonic() + seconds
        self._server.pause_listening(seconds)

    def restart(self, downtime: float = 1.0, next_valid_id: int | None = None) -> None:
        """What a gateway restart looks like: every connection drops and none is accepted for a while."""
        if next_valid_id is not None:
            self.lower_next_valid_id(next_valid_id)
        self.drop_connections()
        self.refuse_connections(max(downtime, 0.05))

    def client_id_in_use(self, client_id: int, active: bool = True) -> None:
        """Connections with ``client_id`` get error 326 and are closed (a phantom session holds it)."""
        if active:
            self.state.reserved_client_ids.add(client_id)
        else:
            self.state.reserved_client_ids.discard(client_id)

    def lower_next_valid_id(self, value: int | None) -> None:
        """Announce ``value`` as nextValidId to the next connections (None: back to normal)."""
        if value is not None and value < 1:
            raise FaultError("next valid id must be >= 1")
        self.state.next_valid_id = value

    # -- connectivity between "TWS" and "IB" -------------------------------------------------------

    def connectivity_lost(self, restore_after: float | None = None, data_lost: bool = False) -> None:
        """Error 1100; after ``restore_after`` seconds (if given) 1101 (data lost) or 1102."""
        self._server.connectivity_lost()
        self.state.outage = True
        if restore_after is not None:
            self._server.loop_call_later(restore_after, lambda: self.connectivity_restored(data_lost))

    def connectivity_restored(self, data_lost: bool = False) -> None:
        if not self.state.outage:
            return
        self.state.outage = False
        self._server.connectivity_restored(data_lost)

    # -- responses -------------------------------------------------------------------------------------

    def withhold_responses(self, request: str, count: int | None = None) -> None:
        """Carry out requests of this type but never answer them (``count`` times, or until cleared)."""
        if count is not None and count < 1:
            raise FaultError("count must be >= 1")
        self.state.withheld[_request_name(request)] = count

    def delay_responses(self, request: str, seconds: float, count: int | None = None) -> None:
        if not 0 <= seconds <= 3600:
            raise FaultError("seconds must be in [0, 3600]")
        self.state.delayed[_request_name(request)] = (seconds, count)

    def release_responses(self, request: str | None = None) -> None:
        """Stop withholding/delaying one request type (or all)."""
        if request is None:
            self.state.withheld.clear()
            self.state.delayed.clear()
        else:
            self.state.withheld.pop(request, None)
            self.state.delayed.pop(request, None)

    def duplicate_executions(self, count: int | None = None) -> None:
        """Send the next ``count`` execution reports twice (None: every one until cleared)."""
        self.state.duplicate_executions = count

    # -- orders ------------------------------------------------------------------------------------

    def reject_next_order(self, code: int = 201, reason: str = "Order rejected - reason:Simulated rejection") -> None:
        self._server.exchange.reject_queue.append((code, reason))

    def partial_fills(self, active: bool = True, max_size: float | None = None) -> None:
        """Fill at most the displayed size (and at most ``max_size``) each time an order meets the market."""
        self._server.exchange.partial_fills = active
        self._server.exchange.partial_fill_max = max_size if active else None

    # -- market data -------------------------------------------------------------------------------

    def bad_quotes(self, con_id: int, mode: str | None = "nan") -> None:
        """Spoil the quotes of one contract (``mode`` None restores them)."""
        if mode is None:
            self.state.bad_quotes.pop(con_id, None)
            return
        for known in QUOTE_FAULTS:
            if mode == known:
                self.state.bad_quotes[con_id] = known
                break
        else:
            raise FaultError(f"mode must be one of {', '.join(QUOTE_FAULTS)}")
        self._server.quotes_faulted(con_id)

    def competing_session(self, active: bool = True) -> None:
        """A live session elsewhere takes the market data: error 10197 on every line, no ticks."""
        self.state.competing_session = active
        self._server.competing_session_changed(active)

    def delayed_data_only(self, active: bool = True) -> None:
        self.state.delayed_only = active

    def set_pacing_limit(self, per_second: int | None) -> None:
        if per_second is not None and per_second < 1:
            raise FaultError("pacing limit must be >= 1 (or None to switch it off)")
        self.state.pacing_limit = per_second

    def set_market_data_lines(self, limit: int) -> None:
        if limit < 0:
            raise FaultError("market data lines must be >= 0")
        self.state.market_data_lines = limit

    def shock_vix(self, level: float, half_life_days: float = 5.0) -> float:
        """Move VIX to ``level`` now; it decays back with the half-life. Returns the level before."""
        if not 5 <= level <= 200 or not math.isfinite(level):
            raise FaultError("level must be within 5..200")
        now = self._server.clock.now()
        before = self._server.model.state(now).vix
        shift = math.log(level / before)
        self._server.model.add_shock(
            Shock(at=now - dt.timedelta(microseconds=1), log_shift=shift, half_life_days=half_life_days)
        )
        self._server.state_changed()
        return before

    # -- all ---------------------------------------------------------------------------------------

    def clear(self) -> None:
        """Back to a healthy gateway (limits to IB's defaults; shocks already applied stay)."""
        if self.state.outage:
            self.connectivity_restored(data_lost=False)
        if self.state.competing_session:
            self.competing_session(False)
        self.state = FaultState()
        self._server.exchange.reject_queue.clear()
        self.partial_fills(False)
        self._server.resume_listening()

    def status(self) -> dict[str, Any]:
        state = self.state
        return {
            "refusing_for": max(0.0, round(state.refuse_until - time.monotonic(), 2)),
            "outage": state.outage,
            "withheld": dict(state.withheld),
            "delayed": {k: {"seconds": v[0], "count": v[1]} for k, v in state.delayed.items()},
            "duplicate_executions": state.duplicate_executions,
            "next_valid_id": state.next_valid_id,
            "reject_next_orders": len(self._server.exchange.reject_queue),
            "bad_quotes": {str(k): v for k, v in state.bad_quotes.items()},
            "competing_session": state.competing_session,
            "client_ids_in_use": sorted(state.reserved_client_ids),
            "pacing_limit": state.pacing_limit,
            "market_data_lines": state.market_data_lines,
            "delayed_only": state.delayed_only,
            "partial_fills": self._server.exchange.partial_fills,
        }
