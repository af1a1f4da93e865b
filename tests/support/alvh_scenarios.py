"""Builders for planner inputs with precise, readable market conditions (for rule and property tests)."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

from bot.examples import EXAMPLE_AS_OF, MarketParameters, example_condor_legs, example_snapshot
from strategies.alvh.config import StrategyConfig
from strategies.alvh.models import (
    Book,
    DailyClose,
    EvaluationRequest,
    Layer,
    MarketSnapshot,
    OptionContract,
    OptionQuote,
    Plan,
    Slot,
    WorkingOrder,
)
from strategies.alvh.planner import plan
from strategies.alvh.sizing import harvest_ladder

NEW_YORK = ZoneInfo("America/New_York")
MONDAY = EXAMPLE_AS_OF  # 2026-11-23 10:30 New York


def at(day: dt.date, hour: int = 10, minute: int = 30) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK).astimezone(dt.UTC)


# Market regimes by curve: (spot VIX, long-run level) -> contango VX2/VX1-1 of the example curve.
CALM = MarketParameters(vix=16.0, long_run_level=20.0)  # contango ~7 %: not extreme
STEEP = MarketParameters(vix=12.0, long_run_level=22.0)  # contango ~20 %: extreme
SPIKE = MarketParameters(vix=38.0, long_run_level=20.0)  # backwardation


@lru_cache(maxsize=32)
def _base(params: MarketParameters, as_of: dt.datetime, strikes: int, greeks: bool) -> MarketSnapshot:
    return example_snapshot(as_of=as_of, params=params, strikes_per_expiry=strikes, model_greeks=greeks)


def history(start: float, step: float, days: int, end: dt.date) -> list[DailyClose]:
    """A straight-line daily series ending the trading day before ``end`` (weekdays only)."""
    dates: list[dt.date] = []
    day = end - dt.timedelta(days=1)
    while len(dates) < days:
        if day.weekday() < 5:
            dates.append(day)
        day -= dt.timedelta(days=1)
    dates.reverse()
    return [DailyClose(date=d, close=round(start + step * i, 4)) for i, d in enumerate(dates)]


def snapshot(
    params: MarketParameters = CALM,
    as_of: dt.datetime = MONDAY,
    *,
    vx_trend: str = "down",
    spx: str = "neutral",
    trigger: str = "scheduled",
    reason: str | None = None,
    strikes: int = 40,
    model_greeks: bool = True,
) -> MarketSnapshot:
    """The example market with a chosen VX1 trend ("up"/"down"/"none") and SPX RSI ("hot"/"neutral")."""
    base = _base(params, as_of, strikes, model_greeks)
    today = as_of.astimezone(NEW_YORK).date()
    if vx_trend == "up":
        vx1 = history(14.0, 0.05, 80, today)
    elif vx_trend == "down":
        vx1 = history(22.0, -0.05, 80, today)
    else:
        vx1 = []
    if spx == "hot":
        closes = history(5000.0, 12.0, 80, today)  # only up days: RSI 100
    else:
        closes = [
            DailyClose(date=row.date, close=5000.0 + (25.0 if i % 2 else -25.0))
            for i, row in enumerate(history(0.0, 0.0, 80, today))
        ]  # alternating: RSI 50
    return base.model_copy(
        update={
            "vx1_history": vx1,
            "spx_history": closes,
            "request": EvaluationRequest(
                trigger=trigger, operator="tester" if trigger != "scheduled" else None, reason=reason
            ),  # type: ignore[arg-type]
        }
    )


def calls(snap: MarketSnapshot, expiry: dt.date) -> list[OptionQuote]:
    return sorted(
        (q for q in snap.vix_options if q.contract.expiry == expiry and q.contract.right == "C"),
        key=lambda q: q.contract.strike,
    )


def expiry_near_dte(snap: MarketSnapshot, dte: int) -> dt.date:
    today = snap.as_of.astimezone(NEW_YORK).date()
    expiries = sorted({q.contract.expiry for q in snap.vix_options})
    return min(expiries, key=lambda e: abs((e - today).days - dte))


def quote_near_delta(snap: MarketSnapshot, expiry: dt.date, delta: float) -> OptionQuote:
    return min(calls(snap, expiry), key=lambda q: abs((q.model_delta or 0.0) - delta))


def layer(
    snap: MarketSnapshot, slot_id: str, dte: int, delta: float, quantity: int = 3, entry: float | None = None
) -> Layer:
    quote = quote_near_delta(snap, expiry_near_dte(snap, dte), delta)
    mid = ((quote.bid or 0.0) + (quote.ask or 0.0)) / 2
    return Layer(
        contract=quote.contract,
        quantity=quantity,
        entry_price=entry if entry is not None else max(round(mid, 2), 0.05),
        opened_at=snap.as_of - dt.timedelta(days=7),
        opened_in_slot=slot_id,
    )


def ladder_orders(slot_id: str, held: Layer, tag: str = "old") -> list[WorkingOrder]:
    from strategies.alvh.config import HarvestConfig

    return [
        WorkingOrder(
            intent_id=f"alvh-{tag}-{slot_id}-hv{rung.rung}",
            slot_id=slot_id,
            role="harvest",
            side="SELL",
            contract=held.contract,
            quantity=rung.quantity,
            limit_price=rung.limit_price,
            tif="GTC",
        )
        for rung in harvest_ladder(held.quantity, held.entry_price, HarvestConfig())
    ]


def book(
    snap: MarketSnapshot,
    layers: dict[str, Layer] | None = None,
    *,
    condors: bool = True,
    with_ladders: bool = True,
    extra_orders: list[WorkingOrder] | None = None,
    rebalances: list[dt.datetime] | None = None,
    last_opportunity: dt.datetime | None = None,
) -> Book:
    layers = layers or {}
    today = snap.as_of.astimezone(NEW_YORK).date()
    orders: list[WorkingOrder] = []
    if with_ladders:
        for slot_id, held in layers.items():
            orders.extend(ladder_orders(slot_id, held))
    orders.extend(extra_orders or [])
    return Book(
        slots=[Slot(slot_id=slot_id, layer=held) for slot_id, held in layers.items()],
        working_orders=orders,
        condor_legs=example_condor_legs(today) if condors else [],
        recent_rebalances=rebalances or [],
        last_rebalance_opportunity=last_opportunity,
    )


def run(snap: MarketSnapshot, bk: Book, config: StrategyConfig | None = None) -> Plan:
    return plan(snap, bk, config or StrategyConfig())


def slot_decision(result: Plan, slot_id: str):  # type: ignore[no-untyped-def]
    return next(s for s in result.record.slots if s.slot_id == slot_id)


def actions_for(result: Plan, slot_id: str, kind: str | None = None) -> list:  # type: ignore[type-arg]
    return [a for a in result.actions if a.slot_id == slot_id and (kind is None or a.kind == kind)]


def contract_dte(contract: OptionContract, snap: MarketSnapshot) -> int:
    return (contract.expiry - snap.as_of.astimezone(NEW_YORK).date()).days
