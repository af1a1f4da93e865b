"""The variants run side by side, and what each one's results hold.

- ``unhedged``: the condor book alone.
- ``alvh_weekly``: the default rules (the config's strategy), scheduled evaluations, weekly cap.
- ``alvh_daily``: the same rules, but every evaluation is a forced rebalance (reason "alvh_daily
  variant"), which bypasses the weekly cap: the "intraday tweaks" proxy.
- ``alvh_no_harvest``: the default rules without resting harvest ladders and without the
  rebalance harvest (``harvest.enabled = false``, ``rebalance_harvest_enabled = false``).
- ``vxth_style``: Cboe's VXTH index rule (see vxth.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from bot.backtest.hedge_book import Trade
from bot.backtest.settings import ALL_VARIANTS, VariantName
from strategies.alvh.config import StrategyConfig
from strategies.alvh.models import EvaluationRequest

VariantKind = Literal["none", "planner", "vxth"]
PROGRESS_EVERY = 25  # days between progress reports of a variant

DESCRIPTIONS: dict[str, str] = {
    "unhedged": "the condor book alone, no hedge",
    "alvh_weekly": "ALVH 4/4/2 with the default rules: at most one rebalance per ISO week, on Mondays",
    "alvh_daily": "the same rules with a forced rebalance at every daily evaluation (the 'intraday tweaks' proxy)",
    "alvh_no_harvest": "the default rules without resting harvest ladders and without the rebalance harvest",
    "vxth_style": "Cboe VXTH rule: one ~30-delta one-month VIX call bought at each monthly VIX expiry, "
    "allocation by the VIX future's level",
}


@dataclass(frozen=True)
class VariantSpec:
    name: VariantName
    kind: VariantKind
    config: StrategyConfig
    request: EvaluationRequest

    @property
    def description(self) -> str:
        return DESCRIPTIONS[self.name]


def build_variants(names: list[VariantName] | tuple[VariantName, ...], strategy: StrategyConfig) -> list[VariantSpec]:
    specs = []
    for name in names:
        if name not in ALL_VARIANTS:
            raise ValueError(f"unknown variant {name!r}; known: {', '.join(ALL_VARIANTS)}")
        if name == "unhedged":
            specs.append(VariantSpec(name, "none", strategy, EvaluationRequest()))
        elif name == "alvh_weekly":
            specs.append(VariantSpec(name, "planner", strategy, EvaluationRequest(trigger="scheduled")))
        elif name == "alvh_daily":
            request = EvaluationRequest(trigger="forced", operator="backtest", reason="alvh_daily variant")
            specs.append(VariantSpec(name, "planner", strategy, request))
        elif name == "alvh_no_harvest":
            harvest = strategy.harvest.model_copy(update={"enabled": False, "rebalance_harvest_enabled": False})
            config = strategy.model_copy(update={"harvest": harvest})
            specs.append(VariantSpec(name, "planner", config, EvaluationRequest(trigger="scheduled")))
        else:
            specs.append(VariantSpec(name, "vxth", strategy, EvaluationRequest()))
    return specs


@dataclass
class Decision:
    date: dt.date
    summary: str
    actions: int
    coverage_after: float | None


@dataclass
class VariantResult:
    """Everything one variant produced, per evaluation day and in total (dollars)."""

    name: str
    dates: np.ndarray
    hedge_equity: np.ndarray  # cash flows + marks of held options: the hedge's cumulative P&L
    hedge_value: np.ndarray  # marked value of held options
    coverage: np.ndarray  # NaN when the condor vega is zero
    premium_at_risk: np.ndarray
    cap: np.ndarray
    premium_paid: float = 0.0
    commissions: float = 0.0
    realized_pnl: float = 0.0
    rebalances: list[dt.datetime] = field(default_factory=list)
    cap_breaches: list[dict[str, object]] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    plan_calls: int = 0
    plan_seconds: float = 0.0
    snapshot_seconds: float = 0.0
    harvest_fills: int = 0
    alerts: int = 0
    refusals: int = 0
    executor_notes: list[str] = field(default_factory=list)
    refusal_reasons: dict[str, int] = field(default_factory=dict)
    layers_held: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @classmethod
    def empty(cls, name: str, dates: np.ndarray) -> VariantResult:
        days = len(dates)
        return cls(
            name=name,
            dates=dates,
            hedge_equity=np.zeros(days),
            hedge_value=np.zeros(days),
            coverage=np.full(days, np.nan),
            premium_at_risk=np.zeros(days),
            cap=np.zeros(days),
            layers_held=np.zeros(days),
        )
