"""Typed inputs and outputs of the planner: market snapshot, book, plan.

These models are the contract between the pure core and everything around it. The live bot, dry
runs, the backtest and audit replay all build a ``MarketSnapshot`` and a ``Book`` and get a ``Plan``.
Snapshots and books are stored as JSON (``alvh plan --schema`` prints their JSON Schema); a NaN
price round-trips as the string "NaN" so a recorded bad quote stays a bad quote on replay.
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from strategies.alvh.config import BucketName, EventDate
from strategies.canonical import JsonValue, canonical_json

Right = Literal["C", "P"]
Side = Literal["BUY", "SELL"]
TimeInForce = Literal["DAY", "GTC"]
Trigger = Literal["scheduled", "manual", "forced"]
OrderRole = Literal["open", "roll_buy", "roll_sell", "close", "rebalance_harvest", "harvest"]
ActionKind = Literal["buy", "sell", "place_harvest", "cancel", "migrate", "release"]
REBALANCE_ROLES: frozenset[str] = frozenset({"open", "roll_buy", "roll_sell", "close", "rebalance_harvest"})


class FrozenModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="strings")


# --------------------------------------------------------------------------------------------------
# Market snapshot


class OptionContract(FrozenModel):
    symbol: Literal["VIX", "SPX"]
    trading_class: str = Field(min_length=1, max_length=12, description="VIX, VIXW, SPX or SPXW")
    expiry: dt.date = Field(description="expiration (settlement) date")
    strike: float = Field(gt=0.0)
    right: Right
    multiplier: int = Field(default=100, gt=0)
    con_id: int | None = Field(default=None, description="IB contract id, when known")
    last_trade_date: dt.date | None = Field(
        default=None, description="last trading day; default: the trading session before expiry (VIX)"
    )

    @cached_property
    def key(self) -> str:
        """A stable human-readable identity, independent of con_id."""
        return f"{self.symbol} {self.trading_class} {self.expiry:%Y%m%d} {self.right} {self.strike:g}"


class OptionQuote(FrozenModel):
    contract: OptionContract
    bid: float | None = None
    ask: float | None = None
    last: float | None = None
    bid_size: float | None = None
    ask_size: float | None = None
    model_iv: float | None = Field(default=None, description="IB model implied vol (1.0 = 100 %)")
    model_delta: float | None = None
    model_gamma: float | None = None
    model_vega: float | None = Field(default=None, description="per vol point, as IB reports it")
    model_theta: float | None = None
    underlying_price: float | None = Field(default=None, description="IB's underlying for the model greeks")
    quote_time: AwareDatetime
    market_data_type: int = Field(default=1, ge=1, le=4)


class FutureQuote(FrozenModel):
    expiry: dt.date = Field(description="final settlement date of the VIX future")
    price: float | None = Field(description="mid of bid/ask, or last when no two-sided quote")
    monthly: bool = Field(description="a monthly (VX) contract, not a weekly (VX01..VX52)")
    con_id: int | None = None
    local_symbol: str | None = None
    quote_time: AwareDatetime | None = None
    market_data_type: int = Field(default=1, ge=1, le=4)


class DailyClose(FrozenModel):
    date: dt.date
    close: float


class TradingSession(FrozenModel):
    date: dt.date
    open: AwareDatetime
    close: AwareDatetime


class EvaluationRequest(FrozenModel):
    trigger: Trigger = "scheduled"
    operator: str | None = Field(default=None, max_length=100)
    reason: str | None = Field(default=None, max_length=500)


class MarketSnapshot(FrozenModel):
    """Everything the planner sees of the market at one instant, plus what asked for the evaluation."""

    as_of: AwareDatetime
    request: EvaluationRequest = Field(default_factory=EvaluationRequest)
    vix: float | None = None
    spx: float | None = None
    vx_futures: list[FutureQuote] = Field(default_factory=list)
    vix_options: list[OptionQuote] = Field(default_factory=list)
    spx_options: list[OptionQuote] = Field(default_factory=list)
    spx_history: list[DailyClose] = Field(default_factory=list, description="SPX daily closes, oldest first")
    vx1_history: list[DailyClose] = Field(default_factory=list, description="VX1 settlements, oldest first")
    event_dates: list[EventDate] = Field(default_factory=list, description="in addition to the config's")
    sessions: list[TradingSession] = Field(
        default_factory=list,
        description="trading sessions of the exchange calendar from today (or the previous one) forward; "
        "at least as many as the longest buy window spans",
    )


# --------------------------------------------------------------------------------------------------
# Book


class Layer(FrozenModel):
    """One held VIX call position in a slot."""

    contract: OptionContract
    quantity: int = Field(ge=1)
    entry_price: float = Field(gt=0.0, description="average price paid per share (not x100)")
    opened_at: AwareDatetime
    opened_in_slot: str

    def plus(self, quantity: int, price: float) -> Layer:
        """This layer with ``quantity`` more bought at ``price``: the entry becomes the weighted average."""
        total = self.quantity + quantity
        entry = (self.entry_price * self.quantity + price * quantity) / total
        return self.model_copy(update={"quantity": total, "entry_price": entry})


class Slot(FrozenModel):
    slot_id: str
    layer: Layer | None = None


class WorkingOrder(FrozenModel):
    intent_id: str = Field(description="the orderRef the order was sent with")
    slot_id: str
    role: OrderRole
    side: Side
    contract: OptionContract
    quantity: int = Field(ge=1, description="quantity still working")
    limit_price: float = Field(gt=0.0)
    tif: TimeInForce


class CondorLeg(FrozenModel):
    contract: OptionContract
    quantity: int = Field(description="signed: + long, - short")
    average_price: float = Field(ge=0.0, description="average price per share (IB avgCost / multiplier)")

    @model_validator(mode="after")
    def _check_nonzero(self) -> CondorLeg:
        if self.quantity == 0:
            raise ValueError("a condor leg position must have a non-zero quantity")
        return self


class Book(FrozenModel):
    """The bot's own state: slots and their layers, its working orders, the condors, the week so far."""

    slots: list[Slot] = Field(default_factory=list)
    working_orders: list[WorkingOrder] = Field(default_factory=list)
    condor_legs: list[CondorLeg] = Field(default_factory=list)
    recent_rebalances: list[AwareDatetime] = Field(
        default_factory=list, description="times of past rebalances (at least those of the current week)"
    )
    last_rebalance_opportunity: AwareDatetime | None = Field(
        default=None, description="last evaluation that was allowed to rebalance (for the catch-up rule)"
    )
    hedge_realized_pnl: float = Field(default=0.0, description="realised P&L of closed layers, dollars")


# --------------------------------------------------------------------------------------------------
# Plan


class Action(FrozenModel):
    """One step for the executor. Orders carry a deterministic intent id used as IB orderRef."""

    intent_id: str
    kind: ActionKind
    role: OrderRole | Literal["migrate", "cancel_harvest", "release"]
    slot_id: str
    to_slot_id: str | None = None
    contract: OptionContract | None = None
    side: Side | None = None
    quantity: int = Field(default=0, ge=0)
    limit_start: float | None = Field(default=None, description="first limit price (mid, on tick)")
    limit_bound: float | None = Field(
        default=None, description="never pay more (buy) / accept less (sell) than this, on tick"
    )
    tif: TimeInForce | None = None
    cancels_intent_id: str | None = None
    harvest_rung: int | None = None
    after: list[str] = Field(
        default_factory=list,
        description="intent ids that must succeed first: a buy must fill (at least partly), a sell fully, a "
        "cancel must be confirmed; if one fails, this action is skipped and recorded",
    )
    reason: str


class SlotDecision(FrozenModel):
    slot_id: str
    bucket: BucketName
    delta_target: float
    state_before: str
    outcome: str
    rule: str
    reason: str
    details: dict[str, JsonValue] = Field(default_factory=dict)


class Signals(FrozenModel):
    vx1: float | None
    vx2: float | None
    contango: float | None
    contango_extreme: bool | None
    backwardation: bool | None
    vx1_macd: float | None
    vx1_macd_signal: float | None
    vx_trend_up: bool | None
    spx_rsi: float | None
    spx_overextended: bool | None
    events_ahead: list[str]
    event_ahead: bool
    opens_allowed: bool
    opens_rule: str


class Budget(FrozenModel):
    credit: float
    credit_source: str
    target: float
    cap: float
    bucket_budgets: dict[str, float]
    slot_budgets: dict[str, float]
    premium_at_risk_before: float
    premium_at_risk_after: float


class Coverage(FrozenModel):
    condor_dollars_per_vol_point: float
    hedge_dollars_per_vix_point_before: float
    hedge_dollars_per_vix_point_after: float
    coverage_before: float | None
    coverage_after: float | None
    max_coverage: float


class CondorSummary(FrozenModel):
    expiry: dt.date
    trading_class: str
    quantity: int
    long_put: float
    short_put: float
    short_call: float
    long_call: float
    credit: float
    credit_per_share: float
    max_loss: float
    lower_breakeven: float
    upper_breakeven: float
    vega_dollars: float | None
    mark_pnl: float | None
    spx_distance_to_breakeven_pct: float | None
    alert: str | None


class Evaluation(FrozenModel):
    trigger: Trigger
    operator: str | None
    reason: str | None
    in_trading_window: bool
    trading_window_reason: str
    rebalance_opportunity: bool
    rebalance_allowed: bool
    rebalance_rule: str
    rebalances_this_week: int
    max_rebalances_per_week: int
    next_scheduled_rebalance: dt.date | None


class DecisionRecord(FrozenModel):
    as_of: AwareDatetime
    evaluation: Evaluation
    signals: Signals
    budget: Budget
    coverage: Coverage
    slots: list[SlotDecision]
    condors: list[CondorSummary]
    unmatched_legs: list[str]
    combined_pnl: float | None
    hedge_unrealized_pnl: float | None
    alerts: list[str]
    refusals: list[str]
    summary: str


class Plan(FrozenModel):
    as_of: AwareDatetime
    actions: list[Action]
    record: DecisionRecord
    is_rebalance: bool = Field(description="sends at least one open/roll/close/rebalance-harvest order")

    def canonical_json(self) -> str:
        """Byte-stable JSON of the whole plan: replaying the same inputs must reproduce it exactly."""
        return canonical_json(self.model_dump(mode="json"))
