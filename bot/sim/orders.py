"""Orders at the paper broker: the book (by permId and by client key), executions, and fill rules.

Fill rules (``decide_fill``): a marketable order fills at the touch (a buy at the ask, a sell at the
bid) when it arrives or is modified; an order that rested fills at its own limit once the market
reaches it (the ask falls to a resting buy's limit, the bid rises to a resting sell's). Market orders
take the touch. With partial fills on, each pass fills at most the displayed size.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.sim.records import ExecutionRecord, OrderRecord, Quote

RETENTION = dt.timedelta(days=7)
_EPSILON = 1e-9


@dataclass(frozen=True)
class Fill:
    quantity: float
    price: float
    liquidity: int  # 1 added (resting order filled), 2 removed (took the touch)


@dataclass(frozen=True)
class ExecutionQuery:
    """reqExecutions' filter; empty fields (and client id 0) match everything."""

    client_id: int = 0
    account: str = ""
    since: dt.datetime | None = None
    symbol: str = ""
    sec_type: str = ""
    exchange: str = ""
    side: str = ""


def valid_price(price: float) -> bool:
    """A usable price: finite and positive."""
    return math.isfinite(price) and price > 0


def decide_fill(
    order: OrderRecord, quote: Quote, resting: bool, partial: bool, cap: float | None = None
) -> Fill | None:
    """What (if anything) the order fills against ``quote`` now; with ``partial``, at most the displayed size
    (and at most ``cap``) per pass."""
    remaining = order.remaining
    if remaining <= 0:
        return None
    buying = order.action == "BUY"
    touch = quote.ask if buying else quote.bid
    touch_size = quote.ask_size if buying else quote.bid_size
    if not valid_price(touch):
        return None
    if order.order_type == "MKT":
        price, liquidity = touch, 2
    else:
        limit = order.limit_price
        if limit is None:
            return None
        marketable = touch <= limit + _EPSILON if buying else touch >= limit - _EPSILON
        if not marketable:
            return None
        price, liquidity = (limit, 1) if resting else (touch, 2)
    quantity = remaining
    if partial:
        quantity = min(remaining, max(1.0, math.floor(touch_size if math.isfinite(touch_size) else 1.0)))
        if cap is not None:
            quantity = min(quantity, max(1.0, cap))
    return Fill(quantity=quantity, price=round(price, 4), liquidity=liquidity)


@dataclass
class OrderBook:
    """Every order and execution the paper broker knows, with the counters that make ids unique."""

    next_perm_id: int
    exec_prefix: str
    exec_sequence: int = 0
    orders: dict[int, OrderRecord] = field(default_factory=dict)
    executions: list[ExecutionRecord] = field(default_factory=list)
    max_order_id: dict[int, int] = field(default_factory=dict)
    _keys: dict[tuple[int, int], int] = field(default_factory=dict)
    _fresh: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        for order in self.orders.values():
            self._keys[(order.client_id, order.order_id)] = order.perm_id

    def new_perm_id(self) -> int:
        perm_id = self.next_perm_id
        self.next_perm_id += 1
        return perm_id

    def new_exec_id(self) -> str:
        self.exec_sequence += 1
        return f"{self.exec_prefix}.{self.exec_sequence:08x}.01.01"

    def add(self, order: OrderRecord) -> None:
        self.orders[order.perm_id] = order
        self._keys[(order.client_id, order.order_id)] = order.perm_id
        self.note_order_id(order.client_id, order.order_id)
        self._fresh.add(order.perm_id)

    def note_order_id(self, client_id: int, order_id: int) -> None:
        if order_id > self.max_order_id.get(client_id, 0):
            self.max_order_id[client_id] = order_id

    def get(self, client_id: int, order_id: int) -> OrderRecord | None:
        perm_id = self._keys.get((client_id, order_id))
        return self.orders.get(perm_id) if perm_id is not None else None

    def mark_aggressive(self, order: OrderRecord) -> None:
        """The order was just placed or modified: its next fill may take the touch."""
        self._fresh.add(order.perm_id)

    def is_resting(self, order: OrderRecord) -> bool:
        return order.perm_id not in self._fresh

    def rested(self, order: OrderRecord) -> None:
        self._fresh.discard(order.perm_id)

    def active(self) -> list[OrderRecord]:
        return [order for order in self.orders.values() if order.is_active]

    def open_orders(self, client_id: int | None = None) -> list[OrderRecord]:
        return [o for o in self.active() if client_id is None or o.client_id == client_id]

    def completed(self) -> list[OrderRecord]:
        done = [o for o in self.orders.values() if not o.is_active]
        return sorted(done, key=lambda o: o.completed_time or o.created)

    def record_execution(self, execution: ExecutionRecord) -> None:
        self.executions.append(execution)

    def executions_matching(
        self, query: ExecutionQuery, symbol_of: Mapping[int, tuple[str, str]]
    ) -> list[ExecutionRecord]:
        found = []
        for execution in self.executions:
            if query.client_id and execution.client_id != query.client_id:
                continue
            if query.account and execution.account != query.account:
                continue
            if query.since is not None and execution.time < query.since:
                continue
            symbol, sec_type = symbol_of.get(execution.con_id, ("", ""))
            if query.symbol and query.symbol.upper() != symbol:
                continue
            if query.sec_type and query.sec_type.upper() != sec_type:
                continue
            if query.exchange and query.exchange.upper() not in (execution.exchange, "SMART"):
                continue
            if query.side:
                wanted = {"BUY": "BOT", "BOT": "BOT", "SELL": "SLD", "SLD": "SLD"}.get(query.side.upper(), "")
                if wanted and execution.side != wanted:
                    continue
            found.append(execution)
        return found

    def prune(self, now: dt.datetime) -> None:
        """Forget executions and completed orders older than the retention (IB shows about a week)."""
        horizon = now - RETENTION
        self.executions = [e for e in self.executions if e.time >= horizon]
        stale = [
            perm_id
            for perm_id, order in self.orders.items()
            if not order.is_active and (order.completed_time or order.created) < horizon
        ]
        for perm_id in stale:
            order = self.orders.pop(perm_id)
            self._keys.pop((order.client_id, order.order_id), None)
            self._fresh.discard(perm_id)
