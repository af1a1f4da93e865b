"""The strategy's configuration: every number of strategy.md, validated.

Defaults are the method's defaults. Every model forbids unknown keys so that a typo in a config file
is an error, never a silently ignored setting.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

BucketName = Literal["near", "mid", "long"]
BUCKET_ORDER: tuple[BucketName, ...] = ("near", "mid", "long")
Weekday = Literal["MON", "TUE", "WED", "THU", "FRI"]
WEEKDAY_NUMBERS: dict[str, int] = {"MON": 0, "TUE": 1, "WED": 2, "THU": 3, "FRI": 4}
EventKind = Literal["FOMC", "CPI", "PPI"]

DeltaTarget = Annotated[float, Field(gt=0.0, lt=1.0)]


class StrictModel(BaseModel):
    """Base of every config model: unknown keys are errors and values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class BucketConfig(StrictModel):
    slots: int = Field(ge=1, le=8, description="number of slots (layers) in the bucket")
    buy_window_min_dte: int = Field(ge=1, le=365, description="new contracts are bought at DTE >= this")
    buy_window_max_dte: int = Field(ge=1, le=365, description="new contracts are bought at DTE <= this")
    leave_below_dte: int = Field(ge=1, le=365, description="a layer leaves the bucket when DTE < this")
    delta_ladder: list[DeltaTarget] = Field(
        min_length=1, max_length=8, description="call delta target of each slot, slot 1 first"
    )

    @model_validator(mode="after")
    def _check_consistency(self) -> BucketConfig:
        if self.buy_window_min_dte > self.buy_window_max_dte:
            raise ValueError(
                f"buy_window_min_dte ({self.buy_window_min_dte}) must not exceed "
                f"buy_window_max_dte ({self.buy_window_max_dte})"
            )
        if self.leave_below_dte > self.buy_window_min_dte:
            raise ValueError(
                f"leave_below_dte ({self.leave_below_dte}) must be <= buy_window_min_dte "
                f"({self.buy_window_min_dte}), or a new layer would leave its bucket at once"
            )
        if len(self.delta_ladder) != self.slots:
            raise ValueError(f"delta_ladder has {len(self.delta_ladder)} targets but the bucket has {self.slots} slots")
        return self

    @property
    def window_midpoint_dte(self) -> float:
        return (self.buy_window_min_dte + self.buy_window_max_dte) / 2.0


def _near() -> BucketConfig:
    return BucketConfig(
        slots=4,
        buy_window_min_dte=7,
        buy_window_max_dte=14,
        leave_below_dte=4,
        delta_ladder=[0.45, 0.35, 0.25, 0.15],
    )


def _mid() -> BucketConfig:
    return BucketConfig(
        slots=4,
        buy_window_min_dte=30,
        buy_window_max_dte=45,
        leave_below_dte=21,
        delta_ladder=[0.45, 0.35, 0.25, 0.15],
    )


def _long() -> BucketConfig:
    return BucketConfig(
        slots=2, buy_window_min_dte=60, buy_window_max_dte=90, leave_below_dte=45, delta_ladder=[0.35, 0.20]
    )


class BucketsConfig(StrictModel):
    near: BucketConfig = Field(default_factory=_near)
    mid: BucketConfig = Field(default_factory=_mid)
    long: BucketConfig = Field(default_factory=_long)

    @model_validator(mode="after")
    def _check_tenors_ordered(self) -> BucketsConfig:
        if not self.near.buy_window_max_dte < self.mid.buy_window_min_dte:
            raise ValueError("the near buy window must end before the mid buy window starts")
        if not self.mid.buy_window_max_dte < self.long.buy_window_min_dte:
            raise ValueError("the mid buy window must end before the long buy window starts")
        return self

    def bucket(self, name: BucketName) -> BucketConfig:
        config: BucketConfig = getattr(self, name)
        return config

    def slot_ids(self) -> list[str]:
        return [f"{name}-{index + 1}" for name in BUCKET_ORDER for index in range(self.bucket(name).slots)]


class BucketBudgetShares(StrictModel):
    near: float = Field(ge=0.0, le=1.0)
    mid: float = Field(ge=0.0, le=1.0)
    long: float = Field(ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _check_sum(self) -> BucketBudgetShares:
        total = self.near + self.mid + self.long
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"bucket budget shares must add up to 1.0, they add up to {total:g}")
        return self


class SizingConfig(StrictModel):
    target_pct: float = Field(
        default=0.10, ge=0.08, le=0.12, description="target hedge premium as a fraction of condor credit"
    )
    cap_pct: float = Field(
        default=0.15, gt=0.0, le=0.15, description="hard cap on premium at risk as a fraction of credit"
    )
    bucket_budget_shares: BucketBudgetShares | None = Field(
        default=None, description="share of the target per bucket; default: proportional to slot counts"
    )

    @model_validator(mode="after")
    def _check_target_below_cap(self) -> SizingConfig:
        if self.target_pct > self.cap_pct:
            raise ValueError(f"target_pct ({self.target_pct}) must not exceed cap_pct ({self.cap_pct})")
        return self


class BetaPoint(StrictModel):
    dte: int = Field(ge=0, le=400)
    beta: float = Field(gt=0.0, le=1.5)


def _default_beta_table() -> list[BetaPoint]:
    return [
        BetaPoint(dte=0, beta=1.0),
        BetaPoint(dte=30, beta=0.75),
        BetaPoint(dte=60, beta=0.55),
        BetaPoint(dte=90, beta=0.45),
    ]


class CoverageConfig(StrictModel):
    max_coverage: float = Field(default=1.0, gt=0.0, le=3.0, description="buys never lift coverage above")
    alert_below: float = Field(default=0.1, ge=0.0, le=3.0, description="alert when coverage falls below")
    beta_table: list[BetaPoint] = Field(default_factory=_default_beta_table, min_length=1)

    @field_validator("beta_table")
    @classmethod
    def _check_sorted(cls, table: list[BetaPoint]) -> list[BetaPoint]:
        days = [point.dte for point in table]
        if days != sorted(set(days)):
            raise ValueError("beta_table must list strictly increasing dte values")
        return table


class SignalsConfig(StrictModel):
    contango_extreme: float = Field(default=0.10, gt=0.0, le=1.0, description="VX2/VX1-1 above this is extreme")
    macd_fast: int = Field(default=12, ge=2, le=100)
    macd_slow: int = Field(default=26, ge=3, le=200)
    macd_signal: int = Field(default=9, ge=2, le=100)
    rsi_period: int = Field(default=14, ge=2, le=100)
    rsi_overextended: float = Field(default=70.0, ge=50.0, le=100.0)
    event_lookahead_trading_days: int = Field(default=10, ge=1, le=60)

    @model_validator(mode="after")
    def _check_macd(self) -> SignalsConfig:
        if self.macd_fast >= self.macd_slow:
            raise ValueError(f"macd_fast ({self.macd_fast}) must be below macd_slow ({self.macd_slow})")
        return self


class EventDate(StrictModel):
    date: dt.date
    kind: EventKind
    note: str = Field(default="", max_length=200)


class HarvestConfig(StrictModel):
    enabled: bool = Field(default=True, description="rest a GTC sell ladder on every held layer")
    multiples: list[Annotated[float, Field(gt=1.0, le=1000.0)]] = Field(
        default_factory=lambda: [5.0, 10.0, 20.0],
        min_length=1,
        max_length=6,
        description="sell prices as multiples of entry; the layer is split evenly, the last rung takes the rest",
    )
    small_layer_multiple: float = Field(
        default=10.0, gt=1.0, le=1000.0, description="a layer too small to split rests whole here"
    )
    rebalance_harvest_enabled: bool = True
    rebalance_harvest_multiple: float = Field(
        default=5.0, gt=1.0, le=1000.0, description="in backwardation, sell layers marked at >= this x entry"
    )

    @field_validator("multiples")
    @classmethod
    def _check_increasing(cls, multiples: list[float]) -> list[float]:
        if multiples != sorted(set(multiples)):
            raise ValueError("multiples must be strictly increasing")
        return multiples


class MaintenanceWindow(StrictModel):
    start: dt.time
    end: dt.time


def _default_maintenance() -> list[MaintenanceWindow]:
    return [MaintenanceWindow(start=dt.time(0, 15), end=dt.time(1, 45))]


class ScheduleConfig(StrictModel):
    timezone: str = "America/New_York"
    calendar: str = Field(default="CBOE_Index_Options", description="pandas_market_calendars calendar name")
    evaluation_times: list[dt.time] = Field(
        default_factory=lambda: [dt.time(10, 0), dt.time(15, 30)], min_length=1, max_length=12
    )
    rebalance_weekday: Weekday = "MON"
    max_rebalances_per_week: int = Field(default=1, ge=1, le=2)
    open_margin_minutes: int = Field(default=15, ge=0, le=120)
    close_margin_minutes: int = Field(default=15, ge=0, le=120)
    maintenance_windows: list[MaintenanceWindow] = Field(default_factory=_default_maintenance)

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {name!r}") from error
        return name

    @field_validator("evaluation_times")
    @classmethod
    def _check_times(cls, times: list[dt.time]) -> list[dt.time]:
        if times != sorted(set(times)):
            raise ValueError("evaluation_times must be strictly increasing")
        return times


class QuotesConfig(StrictModel):
    max_age_seconds: float = Field(default=120.0, gt=0.0, le=3600.0, description="older quotes are stale")
    accepted_market_data_types: list[Annotated[int, Field(ge=1, le=4)]] = Field(
        default_factory=lambda: [1, 3],
        min_length=1,
        description="IB market data types the planner trades on: 1 live, 2 frozen, 3 delayed, 4 delayed-frozen",
    )
    risk_free_rate: float = Field(default=0.0, ge=-0.05, le=0.25, description="for Black-76 discounting")


class ExitsConfig(StrictModel):
    breakeven_alert_distance_pct: float = Field(
        default=0.01, ge=0.0, le=0.25, description="alert when SPX is within this fraction of a break-even"
    )


class CondorsConfig(StrictModel):
    on_no_condors: Literal["close", "hold"] = "close"
    credit_override: float | None = Field(
        default=None, gt=0.0, le=1e9, description="condor credit in dollars; default: from positions"
    )


class StrategyConfig(StrictModel):
    buckets: BucketsConfig = Field(default_factory=BucketsConfig)
    sizing: SizingConfig = Field(default_factory=SizingConfig)
    coverage: CoverageConfig = Field(default_factory=CoverageConfig)
    signals: SignalsConfig = Field(default_factory=SignalsConfig)
    events: list[EventDate] = Field(default_factory=list)
    harvest: HarvestConfig = Field(default_factory=HarvestConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    quotes: QuotesConfig = Field(default_factory=QuotesConfig)
    exits: ExitsConfig = Field(default_factory=ExitsConfig)
    condors: CondorsConfig = Field(default_factory=CondorsConfig)

    def bucket_budget_share(self, bucket: BucketName) -> float:
        shares = self.sizing.bucket_budget_shares
        if shares is not None:
            share: float = getattr(shares, bucket)
            return share
        total_slots = sum(self.buckets.bucket(name).slots for name in BUCKET_ORDER)
        return self.buckets.bucket(bucket).slots / total_slots
