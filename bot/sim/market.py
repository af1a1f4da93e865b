"""The paper gateway's market: VIX, SPX, the VIX futures curve and option quotes, deterministic per seed.

Design: every value is a pure function of (seed, parameters, shock events, time), never of how often
anyone asked, so the same seed gives the same market at any speed, after a restart, and for delayed
data (which is just the model 15 minutes ago).

- A **daily skeleton** holds each trading session's open and close of log VIX and log SPX. Generated
  mode: log VIX is mean-reverting (Ornstein-Uhlenbeck) with rare upward jumps, plus scripted spikes;
  SPX's daily return is correlated with the VIX innovation and scaled by the VIX level. Each session
  draws its randomness from ``(seed, date)``, so the path does not depend on how far it was computed.
  The past (``history_sessions`` before the start) is generated the same way and bent to end exactly
  at the scenario's starting levels. Replay mode takes opens, highs, lows and closes from a history
  directory and continues with generated sessions after the data ends.
- **Intraday** paths are Brownian bridges on a 10-second grid through the session's knots (open,
  the pinned start, replay highs and lows, close); VIX and SPX bridges are negatively correlated.
  Outside sessions the market is frozen at the last close; the overnight change appears as a gap.
- **VIX futures**: ``F(τ) = L + (VIX - L)·e^(-kτ)`` (contango when calm, backwardation in a spike), or
  the replayed settlement curve interpolated by days to expiry, moved intraday with spot VIX.
- **VIX options**: Black-76 on the same-expiry future with a vol-of-vol smile (calls skewed up,
  steeper for short tenors, higher when VIX is high). **SPX options**: Black-Scholes with a put skew,
  at-the-money vol from the VIX curve. Spreads widen with price; sizes vary per contract and minute.
- **Shocks** (a fault/test hook) move log VIX by a given amount at a given time and decay with a
  half-life; SPX moves the other way. They are part of the model's inputs and persisted with state.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np

from bot.calendar import ExchangeCalendar
from bot.sim.history import DailyBar, ReplayData, interpolate_curve
from bot.sim.listings import (
    RULE_SPX_OPTION,
    RULE_VIX_OPTION,
    RULE_VX_FUTURE,
    round_to_tick,
)
from bot.sim.records import Greeks, Instrument, Quote
from strategies.alvh.models import TradingSession
from strategies.pricing import black76, black_scholes

NEW_YORK = ZoneInfo("America/New_York")
UTC = dt.UTC
GRID_SECONDS = 10.0
SECONDS_PER_YEAR = 365.0 * 86400.0
DELAYED_BY = dt.timedelta(minutes=15)
_NAN = float("nan")
_PATH_CACHE = 8
_CLOSE_CACHE = 5000


@dataclass(frozen=True)
class SpikeSpec:
    """A scripted volatility spike: VIX rises to ``peak`` then decays back."""

    after_sessions: int = 5
    rise_sessions: float = 3.0
    peak: float = 42.0
    half_life_sessions: float = 6.0


@dataclass(frozen=True)
class MarketParameters:
    vix_start: float = 15.0
    vix_long_run: float = 16.0
    vix_daily_vol: float = 0.065
    vix_mean_reversion: float = 0.05
    jump_probability: float = 0.006
    jump_size: float = 0.15
    spx_start: float = 5800.0
    spx_annual_drift: float = 0.07
    spx_vix_correlation: float = -0.75
    futures_long_run: float = 20.5
    futures_mean_reversion: float = 3.0
    rate: float = 0.04
    dividend_yield: float = 0.013
    vix_option_atm_vol: float = 0.75
    vix_option_call_skew: float = 1.6
    vix_option_put_skew: float = 0.3
    spx_option_skew: float = 0.25
    history_sessions: int = 400
    spikes: tuple[SpikeSpec, ...] = ()


@dataclass(frozen=True)
class Shock:
    """A jump in log VIX at ``at`` that decays with ``half_life_days`` (calendar days)."""

    at: dt.datetime
    log_shift: float
    half_life_days: float = 5.0


@dataclass(frozen=True)
class MarketState:
    """Spot levels at one instant (already including shocks)."""

    moment: dt.datetime
    vix: float
    spx: float
    session_index: int
    in_session: bool
    effective_epoch: float  # the instant the values belong to (the last close while the market is closed)


@dataclass
class _SessionPath:
    start_epoch: float
    vix_log: np.ndarray
    spx_log: np.ndarray
    vix_high: np.ndarray
    vix_low: np.ndarray
    spx_high: np.ndarray
    spx_low: np.ndarray


@dataclass
class _Skeleton:
    vix_open: list[float] = field(default_factory=list)
    vix_close: list[float] = field(default_factory=list)
    spx_open: list[float] = field(default_factory=list)
    spx_close: list[float] = field(default_factory=list)
    base: list[float] = field(default_factory=list)  # OU state without spike overlay (generated sessions)


def _epoch(moment: dt.datetime) -> float:
    return moment.timestamp()


class MarketModel:
    """Deterministic market for one scenario and seed."""

    def __init__(
        self,
        parameters: MarketParameters,
        seed: int,
        start: dt.datetime,
        calendar: ExchangeCalendar | None = None,
        replay: ReplayData | None = None,
        shocks: Sequence[Shock] = (),
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self.parameters = parameters
        self.seed = int(seed)
        self.start = start.astimezone(UTC)
        self.calendar = calendar or ExchangeCalendar()
        self.replay = replay
        self.shocks: list[Shock] = sorted(shocks, key=lambda s: s.at)
        self._paths: OrderedDict[int, _SessionPath] = OrderedDict()
        self._close_cache: OrderedDict[tuple[int, int], float] = OrderedDict()
        self._state_cache: tuple[float, MarketState] | None = None
        self._settle_cache: dict[tuple[dt.date, bool], dt.datetime] = {}
        self._sessions: list[TradingSession] = []
        self._opens: list[float] = []
        self._closes: list[float] = []
        self._skeleton = _Skeleton()
        self._build_sessions()
        self._build_past()

    # -- sessions ---------------------------------------------------------------------------------

    def _build_sessions(self) -> None:
        history = self.parameters.history_sessions
        first_day = self.start.date() - dt.timedelta(days=int(history * 1.5) + 10)
        if self.replay is not None:
            first_day = max(first_day, self.replay.first_date)
        sessions = self.calendar.sessions_between(first_day, self.start.date() + dt.timedelta(days=400))
        start_index = next(i for i, s in enumerate(sessions) if s.close > self.start)
        keep_from = max(0, start_index - history)
        self._sessions = sessions[keep_from:]
        self._opens = [_epoch(s.open) for s in self._sessions]
        self._closes = [_epoch(s.close) for s in self._sessions]
        self.start_index = start_index - keep_from
        if self.start_index < 1:
            raise ValueError("the scenario start leaves no session before it for the model's history")

    def _extend_sessions(self, until: dt.datetime) -> None:
        while self._sessions[-1].close < until:
            last = self._sessions[-1].date
            more = self.calendar.sessions_between(last + dt.timedelta(days=1), last + dt.timedelta(days=366))
            if not more:
                raise ValueError(f"no trading sessions after {last}")
            self._sessions.extend(more)
            self._opens.extend(_epoch(s.open) for s in more)
            self._closes.extend(_epoch(s.close) for s in more)

    @property
    def sessions(self) -> list[TradingSession]:
        return self._sessions

    def session_index_at(self, moment: dt.datetime) -> int:
        """Index of the session in progress at ``moment``, else of the last one that closed before it."""
        self._extend_sessions(moment)
        epoch = _epoch(moment)
        index = bisect.bisect_right(self._opens, epoch) - 1
        return max(index, 0)

    def in_session(self, moment: dt.datetime) -> bool:
        index = self.session_index_at(moment)
        epoch = _epoch(moment)
        return self._opens[index] <= epoch < self._closes[index]

    # -- skeleton ---------------------------------------------------------------------------------

    def _rng(self, day: dt.date, stream: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, day.toordinal(), stream])

    def _with_spikes(self, index: int, base: float) -> float:
        """Log VIX with scripted spikes: blended toward each spike's peak level with a weight that rises
        smoothly to 1 at the peak session and then decays with the spike's half-life."""
        total = base
        relative = index - self.start_index
        for spike in self.parameters.spikes:
            begin = spike.after_sessions
            peak_at = begin + spike.rise_sessions
            if relative <= begin:
                continue
            if relative < peak_at:
                fraction = (relative - begin) / max(spike.rise_sessions, 1e-9)
                weight = 3 * fraction**2 - 2 * fraction**3
            else:
                weight = 0.5 ** ((relative - peak_at) / max(spike.half_life_sessions, 1e-9))
            target = math.log(spike.peak)
            if target > total:
                total += weight * (target - total)
        return total

    def _draws(self, day: dt.date) -> tuple[float, float, float, float, float]:
        rng = self._rng(day, 1)
        z_vix, z_spx, uniform, magnitude, z_gap = (
            rng.standard_normal(),
            rng.standard_normal(),
            rng.random(),
            abs(rng.standard_normal()),
            rng.standard_normal(),
        )
        return float(z_vix), float(z_spx), float(uniform), float(magnitude), float(z_gap)

    def _generated_step(self, index: int, previous_base: float, previous_total: float) -> tuple[float, float, float]:
        """(base, total log VIX, standardized innovation) for session ``index``."""
        p = self.parameters
        z_vix, _, uniform, magnitude, _ = self._draws(self._sessions[index].date)
        target = math.log(p.vix_long_run)
        jump = p.jump_size * (1.0 + 0.5 * magnitude) if uniform < p.jump_probability else 0.0
        base = previous_base + p.vix_mean_reversion * (target - previous_base) + p.vix_daily_vol * z_vix + jump
        base = min(max(base, math.log(8.0)), math.log(150.0))
        total = self._with_spikes(index, base)
        expected = previous_base + p.vix_mean_reversion * (target - previous_base) + (previous_total - previous_base)
        innovation = (total - expected) / p.vix_daily_vol
        return base, total, max(-8.0, min(8.0, innovation))

    def _spx_return(self, index: int, previous_vix_log: float, innovation: float) -> float:
        p = self.parameters
        _, z_spx, _, _, _ = self._draws(self._sessions[index].date)
        daily_vol = math.exp(previous_vix_log) / 100.0 / math.sqrt(252.0)
        rho = p.spx_vix_correlation
        shock = rho * innovation + math.sqrt(1.0 - rho * rho) * z_spx
        return p.spx_annual_drift / 252.0 - 0.5 * daily_vol**2 + daily_vol * shock

    def _gap(self, index: int, previous: float, current: float, scale: float) -> float:
        _, _, _, _, z_gap = self._draws(self._sessions[index].date)
        return previous + 0.3 * (current - previous) + 0.25 * scale * z_gap

    def _build_past(self) -> None:
        p = self.parameters
        skeleton = self._skeleton
        count = self.start_index  # sessions strictly before the start session
        if self.replay is not None:
            for index in range(count):
                self._append_replay(index)
            return
        # The past has no scripted spikes (they are relative to the start); its jumps are in the base.
        base = math.log(p.vix_long_run)
        totals: list[float] = []
        for index in range(count):
            base, _, _ = self._generated_step(index, base, base)
            totals.append(base)
        # Bend the past so that it ends exactly at the starting level (a linear ramp over ~3 months).
        correction = math.log(p.vix_start) - totals[-1]
        ramp = min(60, count)
        for offset in range(ramp):
            index = count - ramp + offset
            totals[index] += correction * (offset + 1) / ramp
        bases = list(totals)
        spx = [0.0] * count
        spx[-1] = math.log(p.spx_start)
        for index in range(count - 1, 0, -1):
            innovation = (
                totals[index]
                - totals[index - 1]
                - p.vix_mean_reversion * (math.log(p.vix_long_run) - totals[index - 1])
            ) / p.vix_daily_vol
            innovation = max(-8.0, min(8.0, innovation))
            spx[index - 1] = spx[index] - self._spx_return(index, totals[index - 1], innovation)
        for index in range(count):
            previous_vix = totals[index - 1] if index else totals[0]
            previous_spx = spx[index - 1] if index else spx[0]
            skeleton.vix_open.append(self._gap(index, previous_vix, totals[index], p.vix_daily_vol))
            skeleton.spx_open.append(
                self._gap(index, previous_spx, spx[index], math.exp(previous_vix) / 100 / math.sqrt(252))
            )
            skeleton.vix_close.append(totals[index])
            skeleton.spx_close.append(spx[index])
            skeleton.base.append(bases[index])

    def _append_replay(self, index: int) -> None:
        assert self.replay is not None
        skeleton = self._skeleton
        day = self._sessions[index].date
        if day > self.replay.last_date:
            self._append_generated(index)
            return
        vix = self.replay.bar_on_or_before("VIX", day)
        spx = self.replay.bar_on_or_before("SPX", day)
        if vix is None or spx is None:
            raise ValueError(f"replay data has no values on or before {day}")
        vix_bar, spx_bar = vix[1], spx[1]
        skeleton.vix_open.append(math.log(vix_bar.open))
        skeleton.vix_close.append(math.log(vix_bar.close))
        skeleton.spx_open.append(math.log(spx_bar.open))
        skeleton.spx_close.append(math.log(spx_bar.close))
        skeleton.base.append(math.log(vix_bar.close))

    def _append_generated(self, index: int) -> None:
        p = self.parameters
        skeleton = self._skeleton
        previous_base = skeleton.base[index - 1]
        previous_total = skeleton.vix_close[index - 1]
        base, total, innovation = self._generated_step(index, previous_base, previous_total)
        spx = skeleton.spx_close[index - 1] + self._spx_return(index, previous_total, innovation)
        daily_spx_vol = math.exp(previous_total) / 100 / math.sqrt(252)
        if index == self.start_index and self.replay is None:
            vix_open, spx_open = previous_total, skeleton.spx_close[index - 1]
        else:
            vix_open = self._gap(index, previous_total, total, p.vix_daily_vol)
            spx_open = self._gap(index, skeleton.spx_close[index - 1], spx, daily_spx_vol)
        skeleton.vix_open.append(vix_open)
        skeleton.spx_open.append(spx_open)
        skeleton.vix_close.append(total)
        skeleton.spx_close.append(spx)
        skeleton.base.append(base)

    def _ensure_skeleton(self, index: int) -> None:
        while len(self._skeleton.vix_close) <= index:
            next_index = len(self._skeleton.vix_close)
            if next_index >= len(self._sessions):
                self._extend_sessions(self._sessions[-1].close + dt.timedelta(days=30))
            if self.replay is not None:
                self._append_replay(next_index)
            else:
                self._append_generated(next_index)

    # -- intraday paths ---------------------------------------------------------------------------

    def _path(self, index: int) -> _SessionPath:
        cached = self._paths.get(index)
        if cached is not None:
            self._paths.move_to_end(index)
            return cached
        self._ensure_skeleton(index)
        path = self._build_path(index)
        self._paths[index] = path
        if len(self._paths) > _PATH_CACHE:
            self._paths.popitem(last=False)
        return path

    def _build_path(self, index: int) -> _SessionPath:
        p = self.parameters
        session = self._sessions[index]
        skeleton = self._skeleton
        open_epoch, close_epoch = self._opens[index], self._closes[index]
        steps = max(1, math.ceil((close_epoch - open_epoch) / GRID_SECONDS))
        rng = self._rng(session.date, 2)
        z_vix = rng.standard_normal(steps)
        z_other = rng.standard_normal(steps)
        rho = p.spx_vix_correlation
        z_spx = rho * z_vix + math.sqrt(1 - rho * rho) * z_other
        previous_vix = skeleton.vix_close[index - 1] if index else skeleton.vix_open[index]
        vix_step = 0.8 * p.vix_daily_vol / math.sqrt(steps)
        spx_step = 0.8 * math.exp(previous_vix) / 100 / math.sqrt(252) / math.sqrt(steps)

        vix_knots = [(0, skeleton.vix_open[index]), (steps, skeleton.vix_close[index])]
        spx_knots = [(0, skeleton.spx_open[index]), (steps, skeleton.spx_close[index])]
        bounds: tuple[DailyBar, DailyBar] | None = None
        if index == self.start_index and self.replay is None and open_epoch < _epoch(self.start) < close_epoch:
            pinned = round((_epoch(self.start) - open_epoch) / GRID_SECONDS)
            if 0 < pinned < steps:
                vix_knots.insert(1, (pinned, skeleton.vix_close[index - 1]))
                spx_knots.insert(1, (pinned, skeleton.spx_close[index - 1]))
        if self.replay is not None and self.replay.covers(session.date):
            vix = self.replay.bar_on_or_before("VIX", session.date)
            spx = self.replay.bar_on_or_before("SPX", session.date)
            if vix is not None and spx is not None and vix[0] == session.date:
                bounds = (vix[1], spx[1])
                knot_rng = self._rng(session.date, 3)
                for knots, bar in ((vix_knots, vix[1]), (spx_knots, spx[1])):
                    high_at, low_at = (int(x) for x in knot_rng.integers(1, steps, size=2))
                    if high_at == low_at:
                        low_at = max(1, min(steps - 1, high_at + 1 if high_at < steps - 1 else high_at - 1))
                    knots.extend([(high_at, math.log(bar.high)), (low_at, math.log(bar.low))])
                    knots.sort()
        vix_log = _bridge(vix_knots, z_vix * vix_step)
        spx_log = _bridge(spx_knots, z_spx * spx_step)
        if bounds is not None:
            vix_log = np.clip(vix_log, math.log(bounds[0].low), math.log(bounds[0].high))
            spx_log = np.clip(spx_log, math.log(bounds[1].low), math.log(bounds[1].high))
        return _SessionPath(
            start_epoch=open_epoch,
            vix_log=vix_log,
            spx_log=spx_log,
            vix_high=np.maximum.accumulate(vix_log),
            vix_low=np.minimum.accumulate(vix_log),
            spx_high=np.maximum.accumulate(spx_log),
            spx_low=np.minimum.accumulate(spx_log),
        )

    # -- spot values --------------------------------------------------------------------------------

    def add_shock(self, shock: Shock) -> None:
        self.shocks.append(shock)
        self.shocks.sort(key=lambda s: s.at)
        self._state_cache = None
        self._close_cache.clear()

    def _shock_overlay(self, epoch: float) -> float:
        total = 0.0
        for shock in self.shocks:
            elapsed = epoch - _epoch(shock.at)
            if elapsed >= 0:
                total += shock.log_shift * 0.5 ** (elapsed / 86400.0 / max(shock.half_life_days, 1e-6))
        return total

    def _effective_epoch(self, moment: dt.datetime) -> tuple[int, float, bool]:
        """(session index, epoch the market is frozen at, in session) for ``moment``."""
        index = self.session_index_at(moment)
        epoch = _epoch(moment)
        if epoch < self._opens[index]:
            # Before the first known session: frozen at that session's open.
            return index, self._opens[index], False
        if epoch >= self._closes[index]:
            return index, self._closes[index], False
        return index, epoch, True

    def state(self, moment: dt.datetime) -> MarketState:
        """Spot VIX and SPX at ``moment`` (the last close while the market is closed)."""
        epoch = _epoch(moment)
        cached = self._state_cache
        if cached is not None and cached[0] == epoch:
            return cached[1]
        index, effective, in_session = self._effective_epoch(moment)
        path = self._path(index)
        position = (effective - path.start_epoch) / GRID_SECONDS
        vix_log = _interpolate(path.vix_log, position)
        spx_log = _interpolate(path.spx_log, position)
        overlay = self._shock_overlay(effective)
        state = MarketState(
            moment=moment,
            vix=math.exp(vix_log + overlay),
            spx=math.exp(spx_log - 0.12 * overlay),
            session_index=index,
            in_session=in_session,
            effective_epoch=effective,
        )
        self._state_cache = (epoch, state)
        return state

    def session_range(self, moment: dt.datetime, symbol: str) -> tuple[float, float, float, float]:
        """(open, high, low, previous close) of VIX or SPX for the session at ``moment``, up to then."""
        index, effective, _ = self._effective_epoch(moment)
        path = self._path(index)
        position = min(len(path.vix_log) - 1, max(0, int((effective - path.start_epoch) / GRID_SECONDS)))
        overlay = self._shock_overlay(effective)
        if symbol == "VIX":
            logs, highs, lows, sign = path.vix_log, path.vix_high, path.vix_low, 1.0
            previous = self._skeleton.vix_close[index - 1] if index else float(logs[0])
        else:
            logs, highs, lows, sign = path.spx_log, path.spx_high, path.spx_low, -0.12
            previous = self._skeleton.spx_close[index - 1] if index else float(logs[0])
        previous_overlay = self._shock_overlay(self._closes[index - 1]) if index else 0.0
        shift = sign * overlay
        return (
            math.exp(float(logs[0]) + shift),
            math.exp(float(highs[position]) + shift),
            math.exp(float(lows[position]) + shift),
            math.exp(previous + sign * previous_overlay),
        )

    def daily_bars(
        self, symbol: str, first: dt.date, last: dt.date, until: dt.datetime
    ) -> list[tuple[dt.date, DailyBar]]:
        """Daily OHLC of VIX or SPX for sessions in [first, last] that have started by ``until``."""
        bars: list[tuple[dt.date, DailyBar]] = []
        self._extend_sessions(until)
        for session in self._sessions:
            if session.date < first or session.date > last or session.open > until:
                continue
            moment = min(until, session.close - dt.timedelta(microseconds=1))
            opened, high, low, _ = self.session_range(moment, symbol)
            close = self.state(moment).vix if symbol == "VIX" else self.state(moment).spx
            bars.append((session.date, DailyBar(open=opened, high=max(high, close), low=min(low, close), close=close)))
        return bars

    # -- futures curve ----------------------------------------------------------------------------

    def settlement_moment(self, instrument: Instrument) -> dt.datetime:
        """When the contract settles: AM = the expiry day's open (special opening quotation), PM = close."""
        assert instrument.expiry is not None
        return self._settle_at(instrument.expiry, instrument.settlement == "AM" or instrument.is_future)

    def _settle_at(self, expiry: dt.date, morning: bool) -> dt.datetime:
        key = (expiry, morning)
        cached = self._settle_cache.get(key)
        if cached is not None:
            return cached
        session = self.calendar.session_on(expiry)
        if session is None:
            moment = dt.datetime.combine(expiry, dt.time(9, 30) if morning else dt.time(16, 0), NEW_YORK)
            found = moment.astimezone(UTC)
        else:
            found = session.open if morning else session.close
        self._settle_cache[key] = found
        return found

    def futures_price(self, expiry: dt.date, moment: dt.datetime) -> float:
        """The VIX future expiring on ``expiry`` at ``moment`` (spot VIX once it has settled)."""
        settle = self._settle_at(expiry, True)
        state = self.state(moment if moment <= settle else settle)
        years = max(0.0, (_epoch(settle) - state.effective_epoch) / SECONDS_PER_YEAR)
        p = self.parameters
        if self.replay is not None and self.replay.covers(self._sessions[state.session_index].date):
            return self._replayed_future(expiry, state, years)
        return p.futures_long_run + (state.vix - p.futures_long_run) * math.exp(-p.futures_mean_reversion * years)

    def _replayed_future(self, expiry: dt.date, state: MarketState, years: float) -> float:
        assert self.replay is not None
        p = self.parameters
        day = self._sessions[state.session_index].date
        today_curve = self.replay.curve_on_or_before(day)
        if today_curve is None:
            return p.futures_long_run + (state.vix - p.futures_long_run) * math.exp(-p.futures_mean_reversion * years)
        index = state.session_index
        today_settle = interpolate_curve(today_curve, (expiry - day).days)
        previous_day = self._sessions[index - 1].date if index else day
        previous_curve = self.replay.curve_on_or_before(previous_day) or today_curve
        previous_settle = interpolate_curve(previous_curve, (expiry - previous_day).days)
        open_epoch, close_epoch = self._opens[index], self._closes[index]
        fraction = min(1.0, max(0.0, (state.effective_epoch - open_epoch) / (close_epoch - open_epoch)))
        vix_previous = math.exp(self._skeleton.vix_close[index - 1]) if index else state.vix
        vix_close = math.exp(self._skeleton.vix_close[index])
        vix_linear = vix_previous + (vix_close - vix_previous) * fraction
        beta = math.exp(-p.futures_mean_reversion * years)
        return max(0.5, previous_settle + (today_settle - previous_settle) * fraction + beta * (state.vix - vix_linear))

    # -- volatility surfaces ------------------------------------------------------------------------

    def vix_option_vol(self, forward: np.ndarray, strike: np.ndarray, days: np.ndarray, vix: float) -> np.ndarray:
        p = self.parameters
        tenor = np.maximum(days, 0.5)
        atm = p.vix_option_atm_vol * (tenor / 45.0) ** -0.08 * (max(vix, 5.0) / 15.0) ** 0.5
        atm = np.clip(atm, 0.3, 2.5)
        moneyness = np.log(strike / forward)
        steepness = np.minimum(2.5, np.sqrt(30.0 / tenor))
        call_side = atm * (1.0 + p.vix_option_call_skew * steepness * moneyness)
        put_side = atm * (1.0 + p.vix_option_put_skew * steepness * moneyness)
        vol = np.where(moneyness > 0, call_side, put_side)
        return np.asarray(np.clip(vol, 0.35 * atm, 4.0), dtype=np.float64)

    def spx_option_vol(self, spot: float, strike: np.ndarray, days: np.ndarray, atm: np.ndarray) -> np.ndarray:
        years = np.maximum(days, 0.25) / 365.0
        standardized = np.log(strike / spot) / (atm * np.sqrt(years))
        vol = atm * (1.0 - self.parameters.spx_option_skew * standardized + 0.04 * standardized**2)
        return np.asarray(np.clip(vol, 0.4 * atm, 3.0 * atm), dtype=np.float64)

    # -- quotes -------------------------------------------------------------------------------------

    def quotes(self, instruments: Sequence[Instrument], moment: dt.datetime) -> list[Quote]:
        """Quotes for many instruments at one instant (vectorised per kind)."""
        results: list[Quote | None] = [None] * len(instruments)
        state = self.state(moment)
        vix_options: list[int] = []
        spx_options: list[int] = []
        for position, instrument in enumerate(instruments):
            if instrument.sec_type == "IND":
                results[position] = self._index_quote(instrument, moment)
            elif instrument.is_future:
                results[position] = self._future_quote(instrument, moment)
            elif instrument.symbol == "VIX":
                vix_options.append(position)
            else:
                spx_options.append(position)
        if vix_options:
            quotes = self._option_quotes([instruments[i] for i in vix_options], moment, state)
            for position, quote in zip(vix_options, quotes, strict=True):
                results[position] = quote
        if spx_options:
            quotes = self._option_quotes([instruments[i] for i in spx_options], moment, state)
            for position, quote in zip(spx_options, quotes, strict=True):
                results[position] = quote
        return [quote for quote in results if quote is not None]

    def quote(self, instrument: Instrument, moment: dt.datetime) -> Quote:
        return self.quotes([instrument], moment)[0]

    def _index_quote(self, instrument: Instrument, moment: dt.datetime) -> Quote:
        state = self.state(moment)
        value = state.vix if instrument.symbol == "VIX" else state.spx
        opened, high, low, previous = self.session_range(moment, instrument.symbol)
        last = round(value, 2)
        return Quote(
            bid=_NAN,
            ask=_NAN,
            bid_size=0.0,
            ask_size=0.0,
            last=last,
            last_size=0.0,
            close=round(previous, 2),
            open=round(opened, 2),
            high=round(max(high, last), 2),
            low=round(min(low, last), 2),
            mark=value,
        )

    def _future_quote(self, instrument: Instrument, moment: dt.datetime) -> Quote:
        assert instrument.expiry is not None
        fair = self.futures_price(instrument.expiry, moment)
        state = self.state(moment)
        ticks = 1 if state.vix < 30 else 2
        bid = round_to_tick(RULE_VX_FUTURE, fair - 0.025 * ticks, "down")
        ask = round(bid + 0.05 * ticks, 2)
        previous_close = self._previous_close_moment(moment)
        close = round_to_tick(RULE_VX_FUTURE, self.futures_price(instrument.expiry, previous_close))
        bid_size, ask_size, last_size = _sizes(instrument.con_id, moment, 40, 600)
        return Quote(
            bid=bid,
            ask=ask,
            bid_size=bid_size,
            ask_size=ask_size,
            last=round_to_tick(RULE_VX_FUTURE, fair),
            last_size=last_size,
            close=close,
            mark=fair,
        )

    def _previous_close_moment(self, moment: dt.datetime) -> dt.datetime:
        index = self.session_index_at(moment)
        epoch = _epoch(moment)
        if epoch >= self._closes[index]:
            return self._sessions[index].close
        return self._sessions[index - 1].close if index else self._sessions[0].open

    def _option_theoretical(
        self, instruments: Sequence[Instrument], moment: dt.datetime, state: MarketState
    ) -> tuple[np.ndarray, list[Greeks]]:
        p = self.parameters
        count = len(instruments)
        strikes = np.array([i.strike for i in instruments])
        rights = np.array([i.right == "C" for i in instruments])
        settle_epochs = np.array([_epoch(self.settlement_moment(i)) for i in instruments])
        seconds = np.maximum(settle_epochs - state.effective_epoch, 0.0)
        days = seconds / 86400.0
        years = seconds / SECONDS_PER_YEAR
        if instruments[0].symbol == "VIX":
            forwards = np.array([self.futures_price(_expiry(i), moment) for i in instruments])
            vols = self.vix_option_vol(forwards, strikes, days, state.vix)
            values = black76(rights, forwards, strikes, years, vols, p.rate)
            underlying = forwards
        else:
            level = p.futures_long_run + (state.vix - p.futures_long_run) * np.exp(-p.futures_mean_reversion * years)
            atm = 0.85 * level / 100.0
            vols = self.spx_option_vol(state.spx, strikes, days, atm)
            values = black_scholes(rights, state.spx, strikes, years, vols, p.rate, p.dividend_yield)
            underlying = np.full(count, state.spx)
        greeks = [
            Greeks(
                implied_vol=float(vols[k]),
                delta=float(values.delta[k]),
                price=float(values.price[k]),
                gamma=float(values.gamma[k]),
                vega=float(values.vega[k]),
                theta=float(values.theta[k]),
                underlying=float(underlying[k]),
            )
            for k in range(count)
        ]
        return values.price, greeks

    def _option_quotes(self, instruments: Sequence[Instrument], moment: dt.datetime, state: MarketState) -> list[Quote]:
        prices, greeks = self._option_theoretical(instruments, moment, state)
        closes = self._option_closes(instruments, moment)
        quotes: list[Quote] = []
        for k, instrument in enumerate(instruments):
            theo = float(prices[k])
            rule = RULE_VIX_OPTION if instrument.symbol == "VIX" else RULE_SPX_OPTION
            bid, ask = _option_touch(rule, theo, instrument.symbol == "VIX")
            bid_size, ask_size, last_size = _sizes(instrument.con_id, moment, 5, 400)
            last = round_to_tick(rule, theo)
            quotes.append(
                Quote(
                    bid=bid,
                    ask=ask,
                    bid_size=bid_size if bid > 0 else 0.0,
                    ask_size=ask_size,
                    last=last if last > 0 else _NAN,
                    last_size=last_size,
                    close=closes[k],
                    greeks=greeks[k],
                    mark=theo,
                )
            )
        return quotes

    def _option_closes(self, instruments: Sequence[Instrument], moment: dt.datetime) -> list[float]:
        previous = self._previous_close_moment(moment)
        key_epoch = int(_epoch(previous))
        missing = [i for i in instruments if (i.con_id, key_epoch) not in self._close_cache]
        if missing:
            state = self.state(previous)
            prices, _ = self._option_theoretical(missing, previous, state)
            for instrument, price in zip(missing, prices, strict=True):
                rule = RULE_VIX_OPTION if instrument.symbol == "VIX" else RULE_SPX_OPTION
                self._close_cache[(instrument.con_id, key_epoch)] = round_to_tick(rule, float(price))
                if len(self._close_cache) > _CLOSE_CACHE:
                    self._close_cache.popitem(last=False)
            self._state_cache = None
        return [self._close_cache.get((i.con_id, key_epoch), _NAN) for i in instruments]

    def theoretical_price(self, instrument: Instrument, moment: dt.datetime) -> float:
        """The model's fair value (marks, settlement of expired contracts, historical bars)."""
        if instrument.sec_type == "IND":
            state = self.state(moment)
            return state.vix if instrument.symbol == "VIX" else state.spx
        if instrument.is_future:
            assert instrument.expiry is not None
            return self.futures_price(instrument.expiry, moment)
        prices, _ = self._option_theoretical([instrument], moment, self.state(moment))
        return float(prices[0])

    def settlement_value(self, instrument: Instrument) -> float:
        """Cash settlement per unit: intrinsic value at the settlement print (futures: the print)."""
        moment = self.settlement_moment(instrument)
        state = self.state(moment)
        spot = state.vix if instrument.symbol == "VIX" else state.spx
        if instrument.is_future:
            return round(spot, 2)
        if instrument.right == "C":
            return round(max(0.0, spot - instrument.strike), 2)
        return round(max(0.0, instrument.strike - spot), 2)


def _expiry(instrument: Instrument) -> dt.date:
    if instrument.expiry is None:
        raise ValueError(f"{instrument.describe()} has no expiry")
    return instrument.expiry


def _bridge(knots: Sequence[tuple[int, float]], increments: np.ndarray) -> np.ndarray:
    """A path on grid points 0..N through (index, value) knots, Brownian bridges between them."""
    total = knots[-1][0]
    path = np.empty(total + 1)
    for (start, start_value), (end, end_value) in itertools.pairwise(knots):
        length = end - start
        if length <= 0:
            path[start] = end_value
            continue
        walk = np.concatenate(([0.0], np.cumsum(increments[start:end])))
        fraction = np.arange(length + 1) / length
        bridge = walk - fraction * walk[-1]
        path[start : end + 1] = start_value + (end_value - start_value) * fraction + bridge
    return path


def _interpolate(values: np.ndarray, position: float) -> float:
    if position <= 0:
        return float(values[0])
    last = len(values) - 1
    if position >= last:
        return float(values[last])
    low = int(position)
    weight = position - low
    return float(values[low] * (1 - weight) + values[low + 1] * weight)


SIZE_BUCKET_SECONDS = 5


def _sizes(con_id: int, moment: dt.datetime, low: int, high: int) -> tuple[float, float, float]:
    """Displayed sizes that vary per contract every few clock seconds, deterministically."""
    bucket = int(_epoch(moment) // SIZE_BUCKET_SECONDS)
    mixed = (con_id * 2654435761 + bucket * 40503) & 0xFFFFFFFF
    span = high - low
    return (
        float(low + mixed % span),
        float(low + (mixed >> 8) % span),
        float(1 + (mixed >> 16) % 20),
    )


def _option_touch(rule: int, theo: float, vix: bool) -> tuple[float, float]:
    """Bid and ask around the model value: wider in dollars for dearer options, never crossed."""
    if not math.isfinite(theo) or theo < 0:
        return 0.0, 0.0
    spread = (max(0.03, 0.04 * theo) if theo < 3 else max(0.1, 0.03 * theo)) if vix else max(0.1, 0.015 * theo)
    bid = round_to_tick(rule, theo - spread / 2, "down")
    ask = round_to_tick(rule, theo + spread / 2, "up")
    if ask <= bid:
        ask = round(bid + (0.01 if vix and bid < 3 else 0.05 if bid < 3 else 0.10), 2)
    if ask <= 0:
        ask = 0.01 if vix else 0.05
    return bid, ask
