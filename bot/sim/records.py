"""Plain records the gateway's parts exchange: instruments, quotes, orders, executions, positions.

Kept free of behaviour so that the protocol encoders, the market model, the account and the state
file can all use them without importing one another.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

SecType = Literal["IND", "FUT", "OPT", "CONTFUT"]
Right = Literal["C", "P", ""]
Action = Literal["BUY", "SELL"]
Settlement = Literal["AM", "PM", ""]


@dataclass(frozen=True)
class Instrument:
    """One listed contract, as IB describes it."""

    con_id: int
    symbol: str
    sec_type: SecType
    exchange: str  # primary listing exchange (CBOE, CFE)
    valid_exchanges: tuple[str, ...]
    currency: str = "USD"
    local_symbol: str = ""
    trading_class: str = ""
    multiplier: int = 1
    expiry: dt.date | None = None  # the expiration date IB reports as lastTradeDateOrContractMonth
    last_trade_date: dt.date | None = None  # the last day it trades (VIX options: the Tuesday before)
    strike: float = 0.0
    right: Right = ""
    settlement: Settlement = ""
    long_name: str = ""
    under_con_id: int = 0
    under_symbol: str = ""
    under_sec_type: str = ""
    market_rule_id: int = 0
    min_tick: float = 0.01
    time_zone_id: str = "US/Central"

    @property
    def is_option(self) -> bool:
        return self.sec_type == "OPT"

    @property
    def is_future(self) -> bool:
        return self.sec_type in ("FUT", "CONTFUT")

    @property
    def expiry_text(self) -> str:
        return self.expiry.strftime("%Y%m%d") if self.expiry else ""

    @property
    def contract_month(self) -> str:
        return self.expiry.strftime("%Y%m") if self.expiry else ""

    @property
    def multiplier_text(self) -> str:
        return str(self.multiplier) if self.sec_type in ("OPT", "FUT", "CONTFUT") else ""

    def describe(self) -> str:
        if self.sec_type == "OPT":
            return f"{self.trading_class} {self.expiry_text} {self.strike:g}{self.right}"
        if self.sec_type in ("FUT", "CONTFUT"):
            return f"{self.local_symbol or self.symbol} {self.expiry_text}"
        return f"{self.symbol} {self.sec_type}"


@dataclass(frozen=True)
class Greeks:
    """IB model greeks: vega per vol point, theta per calendar day, delta vs the underlying quoted."""

    implied_vol: float
    delta: float
    price: float
    gamma: float
    vega: float
    theta: float
    underlying: float


@dataclass(frozen=True)
class Quote:
    """What a market data line shows at one instant. NaN means "no value" for that field."""

    bid: float
    ask: float
    bid_size: float
    ask_size: float
    last: float
    last_size: float
    close: float
    open: float = float("nan")
    high: float = float("nan")
    low: float = float("nan")
    volume: float = float("nan")
    greeks: Greeks | None = None
    mark: float = float("nan")  # the model's fair value, used for marks and settlement


OrderStatusName = Literal[
    "PendingSubmit", "PreSubmitted", "Submitted", "Filled", "Cancelled", "ApiCancelled", "Inactive"
]
ACTIVE_STATUSES = frozenset({"PendingSubmit", "PreSubmitted", "Submitted"})


@dataclass
class OrderRecord:
    """An order at the paper broker. ``perm_id`` is durable; ``(client_id, order_id)`` is the client's key."""

    perm_id: int
    client_id: int
    order_id: int
    account: str
    con_id: int
    exchange: str
    action: Action
    total_quantity: float
    order_type: str
    limit_price: float | None
    aux_price: float | None
    tif: str
    order_ref: str = ""
    oca_group: str = ""
    outside_rth: bool = False
    transmit: bool = True
    parent_id: int = 0
    good_till_date: str = ""
    status: OrderStatusName = "PendingSubmit"
    filled: float = 0.0
    avg_fill_price: float = 0.0
    last_fill_price: float = 0.0
    commission_paid: float = 0.0
    created: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    completed_time: dt.datetime | None = None
    completed_status: str = ""
    why_held: str = ""

    @property
    def remaining(self) -> float:
        return max(0.0, self.total_quantity - self.filled)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


@dataclass(frozen=True)
class ExecutionRecord:
    """One fill."""

    exec_id: str
    time: dt.datetime
    account: str
    con_id: int
    exchange: str
    side: Literal["BOT", "SLD"]
    shares: float
    price: float
    perm_id: int
    client_id: int
    order_id: int
    cum_qty: float
    avg_price: float
    order_ref: str
    commission: float
    realized_pnl: float | None  # None for an opening fill (IB sends "unset")
    liquidity: int = 2  # 1 added, 2 removed, as IB's lastLiquidity


@dataclass
class PositionRecord:
    """A holding: quantity (negative = short) and IB's average cost (price x multiplier, incl. commission)."""

    con_id: int
    quantity: float
    average_cost: float
    realized_pnl: float = 0.0


@dataclass(frozen=True)
class MarginImpact:
    """What a what-if order reports."""

    init_before: float
    maint_before: float
    equity_before: float
    init_change: float
    maint_change: float
    equity_change: float
    init_after: float
    maint_after: float
    equity_after: float
    commission: float
    min_commission: float
    max_commission: float
    warning: str = ""
