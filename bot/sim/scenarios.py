"""Scenarios: the market regime and the paper account a gateway starts with.

Built in:

- ``default``: calm market (VIX 15, SPX 5800); the account holds two SPX iron condors opened for a
  credit (45 and 59 days out, 16 and 12 delta short strikes, 100-point wings, 15 contracts each) and
  no VIX calls. Sized so that the ALVH hedge budget (10 % of the credit, split 40/40/20 over the
  near/mid/long buckets and equally over their slots) buys at least one contract for every slot.
- ``spike``: the default book, and a volatility spike five sessions after the start: VIX rises from
  ~15 to 42 over three sessions, then decays with a six-session half-life.
- ``empty``: the default market with no positions.
- ``replay``: the default book in a market replayed from a daily history directory shaped like
  ``../shared/data`` (VIX_History.csv, SPX_History.csv, VX_term_structure.csv), from 2018-01-22
  (two weeks before the February 2018 VIX spike) unless a start is given.

A scenario FILE (TOML or JSON) starts from one of these (``base``) and can set the start, VIX and SPX
levels, cash, account, spikes, condors, explicit positions and market parameters. Unknown keys are
errors that name the key.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.sim.listings import Listings
from bot.sim.market import MarketModel, MarketParameters, SpikeSpec
from bot.sim.records import Instrument

NEW_YORK = ZoneInfo("America/New_York")
BUILT_IN = ("default", "spike", "empty", "replay")
DEFAULT_CASH = 1_000_000.0
REPLAY_START = dt.datetime(2018, 1, 22, 10, 30, tzinfo=NEW_YORK)
REPO_SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


class ScenarioError(ValueError):
    """A scenario name or file that cannot be used, with the reason."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SpikeConfig(_Strict):
    after_sessions: int = Field(5, ge=0, le=500)
    rise_sessions: float = Field(3.0, gt=0, le=60)
    peak: float = Field(42.0, gt=8, le=150)
    half_life_sessions: float = Field(6.0, gt=0, le=250)


class CondorConfig(_Strict):
    days_to_expiry: int = Field(45, ge=1, le=365)
    short_delta: float = Field(0.16, gt=0.01, lt=0.5)
    wing_width: float = Field(100.0, gt=0, le=1000)
    quantity: int = Field(15, ge=1, le=100_000)
    trading_class: Literal["SPX", "SPXW"] = "SPXW"

    @field_validator("wing_width")
    @classmethod
    def _multiple_of_five(cls, value: float) -> float:
        if value % 5:
            raise ValueError("must be a multiple of 5 (SPX strikes)")
        return value


class PositionConfig(_Strict):
    symbol: Literal["VIX", "SPX"]
    sec_type: Literal["OPT", "FUT"]
    expiry: dt.date
    strike: float = Field(0.0, ge=0)
    right: Literal["C", "P", ""] = ""
    trading_class: str | None = None
    quantity: float
    average_cost: float | None = Field(None, ge=0, description="per contract incl. multiplier")

    @field_validator("quantity")
    @classmethod
    def _non_zero(cls, value: float) -> float:
        if value == 0 or not math.isfinite(value):
            raise ValueError("must be a non-zero number")
        return value


class MarketConfig(_Strict):
    vix_long_run: float | None = Field(None, gt=5, le=80)
    vix_daily_vol: float | None = Field(None, gt=0, le=0.5)
    vix_mean_reversion: float | None = Field(None, ge=0, le=1)
    jump_probability: float | None = Field(None, ge=0, le=0.5)
    jump_size: float | None = Field(None, ge=0, le=2)
    spx_annual_drift: float | None = Field(None, ge=-1, le=1)
    spx_vix_correlation: float | None = Field(None, ge=-0.99, le=0.99)
    futures_long_run: float | None = Field(None, gt=5, le=80)
    futures_mean_reversion: float | None = Field(None, gt=0, le=50)
    rate: float | None = Field(None, ge=-0.05, le=0.25)
    dividend_yield: float | None = Field(None, ge=0, le=0.2)
    vix_option_atm_vol: float | None = Field(None, gt=0.05, le=5)
    vix_option_call_skew: float | None = Field(None, ge=0, le=10)
    vix_option_put_skew: float | None = Field(None, ge=0, le=10)
    spx_option_skew: float | None = Field(None, ge=0, le=2)
    history_sessions: int | None = Field(None, ge=30, le=2000)


class ScenarioConfig(_Strict):
    base: Literal["default", "spike", "empty", "replay"] = "default"
    description: str = ""
    start: AwareDatetime | None = None
    vix: float | None = Field(None, gt=5, le=150)
    spx: float | None = Field(None, gt=100, le=100_000)
    cash: float | None = Field(None, ge=0)
    account: str | None = Field(None, pattern=r"^(DU|DF|U)[0-9]{4,10}$")
    history_dir: Path | None = None
    spikes: list[SpikeConfig] | None = None
    condors: list[CondorConfig] | None = None
    positions: list[PositionConfig] = Field(default_factory=list)
    market: MarketConfig | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    parameters: MarketParameters
    start: dt.datetime | None
    cash: float
    account: str | None
    condors: tuple[CondorConfig, ...]
    positions: tuple[PositionConfig, ...]
    history_dir: Path | None
    description: str = ""

    @property
    def is_replay(self) -> bool:
        return self.history_dir is not None


@dataclass(frozen=True)
class SeededPosition:
    instrument: Instrument
    quantity: float
    average_cost: float


DEFAULT_CONDORS = (
    CondorConfig(days_to_expiry=45, short_delta=0.16, wing_width=100, quantity=15),
    CondorConfig(days_to_expiry=59, short_delta=0.12, wing_width=100, quantity=15),
)
CALM = MarketParameters(jump_probability=0.003)


def _built_in(name: str, history_dir: Path | None) -> Scenario:
    if name == "default":
        return Scenario("default", CALM, None, DEFAULT_CASH, None, DEFAULT_CONDORS, (), None, "calm, two condors")
    if name == "spike":
        parameters = replace(
            CALM, spikes=(SpikeSpec(after_sessions=5, rise_sessions=3, peak=42, half_life_sessions=6),)
        )
        return Scenario("spike", parameters, None, DEFAULT_CASH, None, DEFAULT_CONDORS, (), None, "spike to 42")
    if name == "empty":
        return Scenario("empty", CALM, None, DEFAULT_CASH, None, (), (), None, "calm, no positions")
    if name == "replay":
        directory = history_dir or REPO_SHARED_DATA
        return Scenario(
            "replay",
            MarketParameters(),
            REPLAY_START,
            DEFAULT_CASH,
            None,
            DEFAULT_CONDORS,
            (),
            directory.resolve(),
            "daily history replay",
        )
    raise ScenarioError(f"unknown scenario {name!r}: use one of {', '.join(BUILT_IN)} or a .toml/.json file")


def _apply_file(config: ScenarioConfig, name: str, history_dir: Path | None, base_dir: Path) -> Scenario:
    directory = history_dir or (base_dir / config.history_dir if config.history_dir else None)
    scenario = _built_in(config.base, directory)
    parameters = scenario.parameters
    if config.market is not None:
        overrides = {key: value for key, value in config.market.model_dump().items() if value is not None}
        parameters = replace(parameters, **overrides)
    if config.vix is not None:
        parameters = replace(parameters, vix_start=config.vix)
    if config.spx is not None:
        parameters = replace(parameters, spx_start=config.spx)
    if config.spikes is not None:
        parameters = replace(parameters, spikes=tuple(SpikeSpec(**s.model_dump()) for s in config.spikes))
    return Scenario(
        name=name,
        parameters=parameters,
        start=config.start or scenario.start,
        cash=config.cash if config.cash is not None else scenario.cash,
        account=config.account,
        condors=tuple(config.condors) if config.condors is not None else scenario.condors,
        positions=tuple(config.positions),
        history_dir=scenario.history_dir,
        description=config.description or scenario.description,
    )


def load_scenario(name_or_file: str, history_dir: Path | None = None) -> Scenario:
    """A built-in scenario by name, or a TOML/JSON scenario file."""
    if name_or_file in BUILT_IN:
        return _built_in(name_or_file, history_dir)
    path = Path(name_or_file)
    if path.suffix.lower() not in (".toml", ".json"):
        raise ScenarioError(
            f"unknown scenario {name_or_file!r}: use one of {', '.join(BUILT_IN)} or a .toml/.json file"
        )
    if not path.is_file():
        raise ScenarioError(f"scenario file {path} not found")
    try:
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (OSError, ValueError) as error:
        raise ScenarioError(f"{path}: cannot parse: {error}") from None
    try:
        config = ScenarioConfig.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'])} = {problem.get('input')!r}: {problem['msg']}"
            for problem in error.errors()
        )
        raise ScenarioError(f"{path}: {problems}") from None
    return _apply_file(config, path.stem, history_dir, path.parent)


def parameter_names() -> list[str]:
    return [f.name for f in fields(MarketParameters)]


def build_positions(
    scenario: Scenario, model: MarketModel, listings: Listings, moment: dt.datetime
) -> list[SeededPosition]:
    """The scenario's opening book: condors built on the listed chain at ``moment``, plus explicit positions."""
    seeded: list[SeededPosition] = []
    today = moment.astimezone(NEW_YORK).date()
    for condor in scenario.condors:
        seeded.extend(_condor(condor, model, listings, moment, today))
    for position in scenario.positions:
        instrument = _explicit_instrument(position, listings, today)
        cost = position.average_cost
        if cost is None:
            cost = round(model.theoretical_price(instrument, moment) * instrument.multiplier, 2)
        seeded.append(SeededPosition(instrument, position.quantity, cost))
    return seeded


def _explicit_instrument(position: PositionConfig, listings: Listings, today: dt.date) -> Instrument:
    if position.sec_type == "FUT":
        instrument = listings.vx_future(position.expiry)
    elif position.symbol == "VIX":
        if not position.right:
            raise ScenarioError(f"position {position}: an option needs right C or P")
        instrument = listings.vix_option(position.expiry, position.strike, position.right, position.trading_class)
    else:
        if not position.right:
            raise ScenarioError(f"position {position}: an option needs right C or P")
        instrument = listings.spx_option(
            position.expiry, position.strike, position.right, position.trading_class or "SPXW"
        )
    if not listings.is_listed(instrument, today):
        raise ScenarioError(f"position {instrument.describe()} is not listed on {today}")
    return instrument


def _condor(
    condor: CondorConfig, model: MarketModel, listings: Listings, moment: dt.datetime, today: dt.date
) -> list[SeededPosition]:
    expiries = listings.spx_option_expiries(today)[condor.trading_class]
    expiry = min(expiries, key=lambda e: (abs((e - today).days - condor.days_to_expiry), e))
    spot = model.state(moment).spx
    strikes = [k for k in listings.spx_strikes() if 0.6 * spot <= k <= 1.4 * spot]
    puts = [listings.spx_option(expiry, k, "P", condor.trading_class) for k in strikes if k < spot]
    calls = [listings.spx_option(expiry, k, "C", condor.trading_class) for k in strikes if k > spot]
    short_put = _closest_delta(puts, -condor.short_delta, model, moment)
    short_call = _closest_delta(calls, condor.short_delta, model, moment)
    long_put_strike = short_put.strike - condor.wing_width
    long_call_strike = short_call.strike + condor.wing_width
    listed = set(listings.spx_strikes())
    if long_put_strike not in listed or long_call_strike not in listed:
        raise ScenarioError(f"condor wings {long_put_strike:g}/{long_call_strike:g} are not listed strikes")
    long_put = listings.spx_option(expiry, long_put_strike, "P", condor.trading_class)
    long_call = listings.spx_option(expiry, long_call_strike, "C", condor.trading_class)
    legs = ((long_put, 1), (short_put, -1), (short_call, -1), (long_call, 1))
    quotes = model.quotes([leg for leg, _ in legs], moment)
    seeded = []
    for (instrument, sign), quote in zip(legs, quotes, strict=True):
        # Opened at the mid, which the model value approximates, rounded to the 0.05 grid.
        price = max(0.05, round(quote.mark / 0.05) * 0.05)
        seeded.append(SeededPosition(instrument, float(sign * condor.quantity), round(price * 100, 2)))
    return seeded


def _closest_delta(options: list[Instrument], target: float, model: MarketModel, moment: dt.datetime) -> Instrument:
    quotes = model.quotes(options, moment)
    best = min(
        zip(options, quotes, strict=True),
        key=lambda pair: abs((pair[1].greeks.delta if pair[1].greeks else 0.0) - target),
    )
    return best[0]


def condor_credit(positions: list[SeededPosition]) -> float:
    """Credit received on the SPX option legs: shorts' premium minus longs' cost (dollars)."""
    return -sum(p.quantity * p.average_cost for p in positions if p.instrument.symbol == "SPX")
