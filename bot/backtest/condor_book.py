"""The standard iron condor book the hedge protects, simulated once and shared by every variant.

One condor position at a time, rolled monthly: on the first evaluation, and whenever the held condor
reaches ``exit_dte`` (21) days to expiry, it is closed and a new one opened on the SPX monthly expiry
nearest ``target_entry_dte`` (45) among those at least ``min_entry_dte`` (35) away. Rolling at 21 DTE
into the next monthly therefore enters at 49-56 DTE: the book is never without a condor, so the
hedge is never closed for lack of one (strategy.md §2, ``on_no_condors``).

Short put and short call are the listed strikes whose Black-Scholes delta (on the skewed vol) is
closest to -/+``short_delta``; the wings are ``wing_width`` points further out. Sells fill at the
modelled bid, buys at the modelled ask, plus a commission per leg contract. Marks are model mids.
The trades happen at the evaluation time, before the hedge's evaluation, so the planner sees the
condor that is held after the roll.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from bot.backtest.listing import spx_monthly_expiries_after
from bot.backtest.loaders import MarketHistory
from bot.backtest.settings import CondorBookSettings, SpxVolSettings
from bot.backtest.spx_model import atm_vol, bid_ask, price_options, skew_slope
from bot.calendar import ExchangeCalendar
from strategies.alvh.models import CondorLeg, OptionContract

RIGHTS = np.array(["P", "P", "C", "C"])
SIGNS = np.array([1, -1, -1, 1])  # long put, short put, short call, long call
MULTIPLIER = 100


@dataclass(frozen=True)
class CondorPosition:
    expiry: dt.date
    strikes: tuple[float, float, float, float]  # long put, short put, short call, long call
    quantity: int
    entry_prices: tuple[float, float, float, float]
    opened: dt.date
    closed: dt.date | None = None
    exit_prices: tuple[float, float, float, float] | None = None

    @property
    def credit_per_share(self) -> float:
        return float(-np.dot(SIGNS, self.entry_prices))

    @property
    def credit(self) -> float:
        return self.credit_per_share * self.quantity * MULTIPLIER

    def contracts(self) -> list[OptionContract]:
        return [
            OptionContract(symbol="SPX", trading_class="SPX", expiry=self.expiry, strike=strike, right=str(right))  # type: ignore[arg-type]
            for strike, right in zip(self.strikes, RIGHTS, strict=True)
        ]

    def legs(self) -> list[CondorLeg]:
        return [
            CondorLeg(contract=contract, quantity=int(sign) * self.quantity, average_price=price)
            for contract, sign, price in zip(self.contracts(), SIGNS, self.entry_prices, strict=True)
        ]


@dataclass
class CondorBookResult:
    """Per evaluation day: the held position, its legs' quotes and greeks, and the book's equity."""

    dates: np.ndarray
    position_index: np.ndarray  # index into positions, -1 when none
    positions: list[CondorPosition]
    leg_mid: np.ndarray  # (days, 4)
    leg_bid: np.ndarray
    leg_ask: np.ndarray
    leg_delta: np.ndarray
    leg_vega: np.ndarray
    leg_iv: np.ndarray
    equity: np.ndarray  # realised (after commissions) + open mark, dollars
    vega_dollars: np.ndarray  # |Σ leg vega x signed qty x 100|: loss per +1 vol point
    commissions: float = 0.0
    legs_cache: dict[int, list[CondorLeg]] = field(default_factory=dict)

    @property
    def credit_collected(self) -> float:
        return float(sum(position.credit for position in self.positions))

    def legs_on(self, day_index: int) -> list[CondorLeg]:
        position = int(self.position_index[day_index])
        if position < 0:
            return []
        if position not in self.legs_cache:
            self.legs_cache[position] = self.positions[position].legs()
        return self.legs_cache[position]


def _index_values(history: MarketHistory, index: int) -> tuple[float, float, float, float]:
    return (
        float(history.vix9d[index]),
        float(history.vix_close[index]),
        float(history.vix3m[index]),
        float(history.vix6m[index]),
    )


def _choose_expiry(day: dt.date, settings: CondorBookSettings, calendar: ExchangeCalendar) -> dt.date:
    candidates = [e for e in spx_monthly_expiries_after(day, 6, calendar) if (e - day).days >= settings.min_entry_dte]
    return min(candidates, key=lambda e: (abs((e - day).days - settings.target_entry_dte), e))


def _short_strikes(
    settings: CondorBookSettings, vol: SpxVolSettings, spot: float, dte: float, atm: float, slope: float
) -> tuple[float, float]:
    step = settings.strike_step
    grid = np.arange(np.floor(spot * 0.3 / step) * step, np.ceil(spot * 1.7 / step) * step + step, step)
    puts = grid[grid < spot]
    calls = grid[grid > spot]
    put_values, _ = price_options(vol, np.array(["P"] * len(puts)), puts, spot, dte, atm, slope)
    call_values, _ = price_options(vol, np.array(["C"] * len(calls)), calls, spot, dte, atm, slope)
    short_put = float(puts[int(np.argmin(np.abs(put_values.delta + settings.short_delta)))])
    short_call = float(calls[int(np.argmin(np.abs(call_values.delta - settings.short_delta)))])
    return short_put, short_call


def simulate_condors(
    history: MarketHistory,
    first_index: int,
    settings: CondorBookSettings,
    vol: SpxVolSettings,
    calendar: ExchangeCalendar | None = None,
) -> CondorBookResult:
    """The condor book over the evaluation days ``first_index`` .. end of ``history``."""
    calendar = calendar or ExchangeCalendar()
    days = len(history) - first_index
    shape = (days, 4)
    result = CondorBookResult(
        dates=history.dates[first_index:],
        position_index=np.full(days, -1, dtype=int),
        positions=[],
        leg_mid=np.full(shape, np.nan),
        leg_bid=np.full(shape, np.nan),
        leg_ask=np.full(shape, np.nan),
        leg_delta=np.full(shape, np.nan),
        leg_vega=np.full(shape, np.nan),
        leg_iv=np.full(shape, np.nan),
        equity=np.zeros(days),
        vega_dollars=np.zeros(days),
    )
    realized = 0.0
    commissions = 0.0
    current: CondorPosition | None = None
    for offset in range(days):
        index = first_index + offset
        day = history.date(index)
        spot = float(history.spx_close[index])
        values = _index_values(history, index)
        slope = skew_slope(vol, float(history.skew[index]))

        def quote(position: CondorPosition, atm: float) -> tuple[np.ndarray, ...]:
            return _quote(position, day, spot, atm, slope, settings, vol)  # noqa: B023 (called at once)

        if current is not None and (current.expiry - day).days <= settings.exit_dte:
            atm = atm_vol(float((current.expiry - day).days), values, vol.atm_ratio)
            _, bid, ask, *_ = quote(current, atm)
            exit_prices = np.where(SIGNS > 0, bid, ask)  # sell the longs at the bid, buy back shorts at the ask
            debit = float(-np.dot(SIGNS, exit_prices))
            fee = 4 * current.quantity * settings.commission_per_contract
            realized += (current.credit_per_share - debit) * current.quantity * MULTIPLIER - fee
            commissions += fee
            result.positions[-1] = _closed(current, day, exit_prices)
            current = None
        if current is None:
            expiry = _choose_expiry(day, settings, calendar)
            dte = float((expiry - day).days)
            atm = atm_vol(dte, values, vol.atm_ratio)
            short_put, short_call = _short_strikes(settings, vol, spot, dte, atm, slope)
            strikes = (short_put - settings.wing_width, short_put, short_call, short_call + settings.wing_width)
            draft = CondorPosition(expiry, strikes, settings.quantity, (0.0, 0.0, 0.0, 0.0), day)
            _, bid, ask, *_ = quote(draft, atm)
            entry = np.where(SIGNS > 0, ask, bid)  # buy the wings at the ask, sell the shorts at the bid
            current = CondorPosition(expiry, strikes, settings.quantity, tuple(float(p) for p in entry), day)  # type: ignore[arg-type]
            fee = 4 * current.quantity * settings.commission_per_contract
            realized -= fee
            commissions += fee
            result.positions.append(current)
        atm = atm_vol(float((current.expiry - day).days), values, vol.atm_ratio)
        mid, bid, ask, delta, vega, iv = quote(current, atm)
        result.position_index[offset] = len(result.positions) - 1
        result.leg_mid[offset], result.leg_bid[offset], result.leg_ask[offset] = mid, bid, ask
        result.leg_delta[offset], result.leg_vega[offset], result.leg_iv[offset] = delta, vega, iv
        open_pnl = float(np.dot(SIGNS, mid - np.array(current.entry_prices))) * current.quantity * MULTIPLIER
        result.equity[offset] = realized + open_pnl
        result.vega_dollars[offset] = abs(float(np.dot(SIGNS, vega))) * current.quantity * MULTIPLIER
    result.commissions = commissions
    return result


def _quote(
    position: CondorPosition,
    day: dt.date,
    spot: float,
    atm: float,
    slope: float,
    settings: CondorBookSettings,
    vol: SpxVolSettings,
) -> tuple[np.ndarray, ...]:
    """Model price, bid, ask, delta, vega and vol of the position's four legs."""
    dte = float((position.expiry - day).days)
    values, iv = price_options(vol, RIGHTS, np.array(position.strikes), spot, dte, atm, slope)
    bid, ask = bid_ask(settings, values.price)
    return values.price, bid, ask, values.delta, values.vega, iv


def _closed(position: CondorPosition, day: dt.date, exit_prices: np.ndarray) -> CondorPosition:
    return CondorPosition(
        position.expiry,
        position.strikes,
        position.quantity,
        position.entry_prices,
        position.opened,
        day,
        tuple(float(p) for p in exit_prices),  # type: ignore[arg-type]
    )
