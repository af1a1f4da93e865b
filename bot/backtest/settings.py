"""Settings of the backtest's own models: the condor book, costs, the evaluation time, the variants.

The strategy's rules come from the bot's config (``--config``, strategy.md defaults otherwise); these
settings describe the simulated world around it. Every model forbids unknown keys, like the bot's
config, and ``--settings FILE`` (TOML) may override any value.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from bot.config import ConfigError, ConfigProblem, validation_problems
from strategies.alvh.config import StrictModel

VariantName = Literal["unhedged", "alvh_weekly", "alvh_daily", "alvh_no_harvest", "vxth_style"]
ALL_VARIANTS: tuple[VariantName, ...] = ("unhedged", "alvh_weekly", "alvh_daily", "alvh_no_harvest", "vxth_style")


class CondorBookSettings(StrictModel):
    """The standard iron condor book the hedge protects (one condor position at a time, rolled monthly)."""

    quantity: int = Field(default=100, ge=1, le=10_000, description="condors (each leg this many contracts)")
    target_entry_dte: int = Field(default=45, ge=14, le=120, description="enter the monthly expiry nearest this DTE")
    min_entry_dte: int = Field(
        default=35, ge=7, le=120, description="never enter an expiry closer than this (so a roll never re-enters)"
    )
    exit_dte: int = Field(default=21, ge=1, le=60, description="close (and roll) when DTE falls to this or below")
    short_delta: float = Field(default=0.16, gt=0.02, lt=0.5, description="|delta| of the short put and call")
    wing_width: float = Field(default=50.0, ge=5.0, le=500.0, description="points between short and long strikes")
    strike_step: float = Field(default=5.0, gt=0.0, le=50.0, description="SPX strike grid")
    commission_per_contract: float = Field(default=1.00, ge=0.0, le=20.0, description="dollars per leg contract")
    spread_base: float = Field(default=0.10, ge=0.0, le=5.0, description="SPX bid/ask width: base, per share")
    spread_per_price: float = Field(default=0.04, ge=0.0, le=1.0, description="SPX bid/ask width: share of mid")
    spread_max: float = Field(default=3.00, gt=0.0, le=20.0, description="SPX bid/ask width cap, per share")

    @model_validator(mode="after")
    def _check_dtes(self) -> CondorBookSettings:
        if not self.exit_dte < self.min_entry_dte <= self.target_entry_dte:
            raise ValueError(
                f"need exit_dte ({self.exit_dte}) < min_entry_dte ({self.min_entry_dte}) "
                f"<= target_entry_dte ({self.target_entry_dte})"
            )
        return self


class SpxVolSettings(StrictModel):
    """SPX implied vol from the VIX term-structure indices, with a put skew."""

    atm_ratio: float = Field(
        default=0.90, gt=0.3, le=1.2, description="ATM implied vol / VIX-family index of the same tenor"
    )
    skew_slope: float = Field(
        default=0.18, ge=0.0, le=1.0, description="vol rises by this share of ATM per standard deviation down"
    )
    skew_curvature: float = Field(default=0.03, ge=0.0, le=0.5, description="smile convexity per squared std dev")
    skew_index_scaling: bool = Field(
        default=True, description="scale the slope by the SKEW index ((SKEW-100)/20) when it is available"
    )
    min_ratio: float = Field(default=0.5, gt=0.0, le=1.0, description="floor of the smile as a share of ATM")


class VixOptionSettings(StrictModel):
    """Costs and listing of VIX options (the vol surface itself is calibrated: see calibration.py)."""

    commission_per_contract: float = Field(
        default=1.00, ge=0.0, le=20.0, description="dollars per VIX option contract, IB commission plus fees"
    )
    weeklies_from: dt.date = Field(
        default=dt.date(2015, 10, 8), description="first day weekly VIX options (VIXW) are listed"
    )
    weekly_listing_days: int = Field(default=31, ge=7, le=120, description="weeklies are listed this far ahead")
    monthly_listing_count: int = Field(default=7, ge=3, le=12, description="monthly expiries listed at a time")
    max_delta: float = Field(default=0.65, gt=0.3, lt=1.0, description="quote strikes from this call delta ...")
    min_delta: float = Field(default=0.04, gt=0.0, lt=0.3, description="... down to this one")
    vvix_max_stale_days: int = Field(
        default=5, ge=0, le=30, description="a missing VVIX takes the last value up to this many trading days old"
    )


class EvaluationSettings(StrictModel):
    time: dt.time = Field(default=dt.time(15, 30), description="one evaluation per trading day, America/New_York")
    minutes_before_early_close: int = Field(
        default=30, ge=16, le=180, description="on half days the evaluation moves to this long before the close"
    )
    call_policy: Literal["when_actionable", "every_day"] = Field(
        default="when_actionable",
        description="call the planner only on days it can act (fast, same results), or on every trading day",
    )


class BacktestSettings(StrictModel):
    condors: CondorBookSettings = Field(default_factory=CondorBookSettings)
    spx_vol: SpxVolSettings = Field(default_factory=SpxVolSettings)
    vix_options: VixOptionSettings = Field(default_factory=VixOptionSettings)
    evaluation: EvaluationSettings = Field(default_factory=EvaluationSettings)
    warmup_days: int = Field(
        default=60, ge=40, le=400, description="VX1 and SPX closes needed before the first evaluation (MACD, RSI)"
    )
    drawdown_window_days: int = Field(
        default=20, ge=5, le=60, description="trading days after an episode start in which the condor trough is sought"
    )


def load_settings(path: Path | None) -> BacktestSettings:
    """Settings from a TOML file (unknown keys are errors); defaults when ``path`` is None."""
    if path is None:
        return BacktestSettings()
    source = str(path)
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(source, [ConfigProblem("(file)", "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(source, [ConfigProblem("(file)", "", f"cannot read: {error}")]) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(source, [ConfigProblem("(file)", "", f"not valid TOML: {error}")]) from None
    try:
        return BacktestSettings.model_validate(data)
    except ValidationError as error:
        raise ConfigError(source, validation_problems(error, BacktestSettings)) from None
