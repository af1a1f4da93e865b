"""A deterministic example market and book: the planner's demo input, test fixture and benchmark load.

The market is modelled, not recorded: a VIX futures curve in contango, VIX options listed like the
real ones (monthly VIX and weekly VIXW classes on Wednesdays) priced with Black-76 on the
same-expiry future with a call skew, two SPX iron condors priced with Black-Scholes, and a year of
SPX / VX1 history from a seeded random walk. Sessions come from the real CBOE calendar.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

from bot.calendar import ExchangeCalendar
from strategies.alvh.config import HarvestConfig
from strategies.alvh.models import (
    Book,
    CondorLeg,
    DailyClose,
    FutureQuote,
    Layer,
    MarketSnapshot,
    OptionContract,
    OptionQuote,
    Slot,
    WorkingOrder,
)
from strategies.alvh.quotes import round_to_tick
from strategies.alvh.sizing import harvest_ladder
from strategies.pricing import black76, black_scholes, years_from_days

NEW_YORK = ZoneInfo("America/New_York")
EXAMPLE_AS_OF = dt.datetime(2026, 11, 23, 15, 30, tzinfo=dt.UTC)  # Monday 10:30 New York


@dataclass(frozen=True)
class MarketParameters:
    vix: float = 16.0
    long_run_level: float = 20.0
    curve_speed_days: float = 60.0
    vol_of_vol: float = 0.95
    call_skew: float = 0.35
    spx: float = 6000.0
    spx_vol: float = 0.16
    seed: int = 7


def third_friday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    offset = (4 - first.weekday()) % 7
    return first + dt.timedelta(days=offset + 14)


def vix_monthly_expiry(year: int, month: int, calendar: ExchangeCalendar) -> dt.date:
    """The Wednesday 30 days before the next month's third Friday; a holiday moves it a session earlier."""
    next_year, next_month = (year + 1, 1) if month == 12 else (year, month + 1)
    expiry = third_friday(next_year, next_month) - dt.timedelta(days=30)
    while not calendar.is_trading_day(expiry):
        expiry -= dt.timedelta(days=1)
    return expiry


def listed_vix_expiries(today: dt.date, calendar: ExchangeCalendar, months: int = 6) -> dict[dt.date, str]:
    """Expiry -> trading class: monthlies for ``months`` months, weeklies for the next 8 Wednesdays."""
    expiries: dict[dt.date, str] = {}
    year, month = today.year, today.month
    for _ in range(months + 1):
        expiry = vix_monthly_expiry(year, month, calendar)
        if expiry > today:
            expiries[expiry] = "VIX"
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    wednesday = today + dt.timedelta(days=(2 - today.weekday()) % 7 or 7)
    for week in range(8):
        day = wednesday + dt.timedelta(weeks=week)
        if day not in expiries and calendar.is_trading_day(day):
            expiries[day] = "VIXW"
    return dict(sorted(expiries.items())[:10])


def future_level(params: MarketParameters, dte: float) -> float:
    weight = 1.0 - math.exp(-dte / params.curve_speed_days)
    return params.vix + (params.long_run_level - params.vix) * weight


def vix_strikes(forward: float, count: int) -> list[float]:
    low = max(5.0, math.floor(forward * 0.6))
    return [low + step for step in range(count)]


def _spread(price: float) -> float:
    if price < 0.5:
        return 0.02
    if price < 3.0:
        return 0.05
    return 0.10


def example_snapshot(
    as_of: dt.datetime = EXAMPLE_AS_OF,
    params: MarketParameters | None = None,
    strikes_per_expiry: int = 60,
    model_greeks: bool = True,
) -> MarketSnapshot:
    params = params or MarketParameters()
    calendar = ExchangeCalendar()
    today = as_of.astimezone(NEW_YORK).date()
    rng = np.random.default_rng(params.seed)
    expiries = listed_vix_expiries(today, calendar)
    futures = []
    option_quotes: list[OptionQuote] = []
    for expiry, trading_class in expiries.items():
        dte = (expiry - today).days
        forward = future_level(params, dte)
        futures.append(
            FutureQuote(
                expiry=expiry,
                price=round(forward, 2),
                monthly=trading_class == "VIX",
                local_symbol=f"VX{expiry:%y%m%d}",
                quote_time=as_of,
            )
        )
        strikes = np.array(vix_strikes(forward, strikes_per_expiry))
        years = years_from_days(dte)
        tenor_vol = params.vol_of_vol * (30.0 / max(dte, 7)) ** 0.3
        vols = tenor_vol * (1.0 + params.call_skew * np.log(strikes / forward).clip(-0.5, 1.5))
        values = black76("C", forward, strikes, years, vols)
        for index, strike in enumerate(strikes):
            fair = float(values.price[index])
            half = _spread(fair) / 2.0
            bid = max(0.0, round_to_tick(fair - half, "down")) if fair - half > 0.0 else 0.0
            ask = round_to_tick(fair + half, "up")
            contract = OptionContract(
                symbol="VIX",
                trading_class=trading_class,
                expiry=expiry,
                strike=float(strike),
                right="C",
                con_id=int(1_000_000 + expiry.toordinal() % 100_000 * 100 + index),
            )
            with_greeks = model_greeks and index % 7 != 3  # some quotes without IB greeks
            option_quotes.append(
                OptionQuote(
                    contract=contract,
                    bid=bid,
                    ask=ask,
                    bid_size=float(rng.integers(5, 200)),
                    ask_size=float(rng.integers(5, 200)),
                    model_iv=float(vols[index]) if with_greeks else None,
                    model_delta=float(values.delta[index]) if with_greeks else None,
                    model_gamma=float(values.gamma[index]) if with_greeks else None,
                    model_vega=float(values.vega[index]) if with_greeks else None,
                    model_theta=float(values.theta[index]) if with_greeks else None,
                    underlying_price=round(forward, 2),
                    quote_time=as_of - dt.timedelta(seconds=int(rng.integers(0, 20))),
                )
            )
    legs = example_condor_legs(today, params)
    spx_quotes = [_spx_quote(leg.contract, today, params, as_of) for leg in legs]
    history_days = [s.date for s in calendar.sessions_between(today - dt.timedelta(days=200), today)]
    history_days = [day for day in history_days if day < today][-120:]
    spx_path = params.spx * np.exp(np.cumsum(rng.normal(0.0004, 0.009, len(history_days)))[::-1] * -1.0)
    vx1_path = np.clip(
        future_level(params, 25) + np.cumsum(rng.normal(0.0, 0.35, len(history_days)))[::-1] * -1.0, 10.0, 60.0
    )
    return MarketSnapshot(
        as_of=as_of,
        vix=params.vix,
        spx=params.spx,
        vx_futures=futures,
        vix_options=option_quotes,
        spx_options=spx_quotes,
        spx_history=[
            DailyClose(date=day, close=round(float(close), 2))
            for day, close in zip(history_days, spx_path, strict=True)
        ],
        vx1_history=[
            DailyClose(date=day, close=round(float(close), 3))
            for day, close in zip(history_days, vx1_path, strict=True)
        ],
        sessions=calendar.sessions_between(today, today + dt.timedelta(days=130)),
    )


def example_condor_legs(today: dt.date, params: MarketParameters | None = None) -> list[CondorLeg]:
    """Two SPXW iron condors, 15 lots each: 16-delta shorts, 100-point wings, opened for a credit."""
    params = params or MarketParameters()
    legs: list[CondorLeg] = []
    for days_out, short_distance in ((46, 0.075), (25, 0.055)):
        expiry = _next_friday(today + dt.timedelta(days=days_out))
        short_put = round(params.spx * (1 - short_distance) / 25) * 25
        short_call = round(params.spx * (1 + short_distance) / 25) * 25
        for strike, right, quantity in (
            (short_put - 100, "P", 15),
            (short_put, "P", -15),
            (short_call, "C", -15),
            (short_call + 100, "C", 15),
        ):
            contract = OptionContract(
                symbol="SPX", trading_class="SPXW", expiry=expiry, strike=float(strike), right=right
            )
            entry_vol = params.spx_vol * (1.25 if right == "P" else 0.95)
            price = black_scholes(right, params.spx, strike, years_from_days((expiry - today).days + 3), entry_vol)
            legs.append(CondorLeg(contract=contract, quantity=quantity, average_price=round(float(price.price), 2)))
    return legs


def _next_friday(day: dt.date) -> dt.date:
    return day + dt.timedelta(days=(4 - day.weekday()) % 7)


def _spx_quote(contract: OptionContract, today: dt.date, params: MarketParameters, as_of: dt.datetime) -> OptionQuote:
    vol = params.spx_vol * (1.2 if contract.right == "P" else 0.9)
    values = black_scholes(
        contract.right, params.spx, contract.strike, years_from_days((contract.expiry - today).days), vol
    )
    fair = float(values.price)
    return OptionQuote(
        contract=contract,
        bid=round(max(fair - 0.1, 0.05), 2),
        ask=round(fair + 0.1, 2),
        model_iv=vol,
        model_delta=float(values.delta),
        model_vega=float(values.vega),
        underlying_price=params.spx,
        quote_time=as_of,
    )


def example_book(snapshot: MarketSnapshot, held_slots: int = 0) -> Book:
    """A book holding the example condors and, optionally, layers in the first ``held_slots`` slots.

    Held layers sit at the delta targets of their buckets with resting harvest ladders, so the
    planner sees a realistic mid-life book: some layers due to migrate or roll, others held.
    """
    today = snapshot.as_of.astimezone(NEW_YORK).date()
    calls: dict[dt.date, list[OptionQuote]] = {}
    for quote in snapshot.vix_options:
        calls.setdefault(quote.contract.expiry, []).append(quote)
    expiries = sorted(calls)
    plan_of_held = [
        ("near-1", 2, 0.30),
        ("mid-1", 16, 0.40),
        ("mid-2", 37, 0.35),
        ("long-1", 44, 0.30),
        ("near-2", 9, 0.35),
        ("mid-3", 30, 0.25),
        ("mid-4", 37, 0.15),
        ("long-2", 86, 0.20),
        ("near-3", 9, 0.25),
        ("near-4", 9, 0.15),
    ][:held_slots]
    slots: list[Slot] = []
    orders: list[WorkingOrder] = []
    harvest_config = HarvestConfig()
    for slot_id, wanted_dte, wanted_delta in plan_of_held:
        expiry = min(expiries, key=lambda e: abs((e - today).days - wanted_dte))
        quote = min(calls[expiry], key=lambda q: abs((q.model_delta or 0.0) - wanted_delta))
        entry = max(round_to_tick(((quote.bid or 0) + (quote.ask or 0)) / 2 * 0.9, "nearest"), 0.05)
        layer = Layer(
            contract=quote.contract,
            quantity=3,
            entry_price=entry,
            opened_at=snapshot.as_of - dt.timedelta(days=7),
            opened_in_slot=slot_id,
        )
        slots.append(Slot(slot_id=slot_id, layer=layer))
        for rung in harvest_ladder(layer.quantity, entry, harvest_config):
            orders.append(
                WorkingOrder(
                    intent_id=f"alvh-example-{slot_id}-hv{rung.rung}",
                    slot_id=slot_id,
                    role="harvest",
                    side="SELL",
                    contract=quote.contract,
                    quantity=rung.quantity,
                    limit_price=rung.limit_price,
                    tif="GTC",
                )
            )
    return Book(
        slots=slots,
        working_orders=orders,
        condor_legs=example_condor_legs(today),
        recent_rebalances=[snapshot.as_of - dt.timedelta(days=7)],
    )
