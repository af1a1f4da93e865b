"""Quote hygiene and price arithmetic: what a usable quote is, mid prices, VIX option ticks, deltas.

A quote that is stale, NaN, crossed, one-sided or of an unaccepted market data type is not used:
the slot that needs it is refused with the reason. Prices are rounded on the exchange's tick grid
(0.05 at or above $3, 0.01 below) with integer cents so that no float residue reaches an order.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from strategies.alvh.config import QuotesConfig
from strategies.alvh.models import FutureQuote, OptionQuote
from strategies.pricing import black76, implied_vol_black76, years_from_days

TICK_BREAK = 3.0
MIN_PRICE = 0.01
WORTHLESS_ASK = 0.05
FUTURE_QUOTE_TOLERANCE = dt.timedelta(seconds=5)

Rounding = Literal["up", "down", "nearest"]


def tick_size(price: float) -> float:
    return 0.05 if price >= TICK_BREAK else 0.01


def round_to_tick(price: float, rounding: Rounding) -> float:
    """``price`` on the VIX option tick grid, at least one cent."""
    cents = price * 100.0
    tick_cents = 5 if price >= TICK_BREAK else 1
    steps = cents / tick_cents
    # A hair of tolerance so that 1.15 (114.99999 cents in binary) stays 1.15.
    if rounding == "up":
        whole = math.ceil(steps - 1e-7)
    elif rounding == "down":
        whole = math.floor(steps + 1e-7)
    else:
        whole = math.floor(steps + 0.5)
    rounded_cents = max(whole * tick_cents, 1)
    result = rounded_cents / 100.0
    # Crossing the $3 break can leave a price off the coarser grid; round once more on that grid.
    if result >= TICK_BREAK and rounded_cents % 5:
        result = round_to_tick(result, rounding)
    return result


def is_finite_number(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


@dataclass(frozen=True)
class QuoteCheck:
    usable: bool
    problem: str


def check_quote(quote: OptionQuote | None, as_of: dt.datetime, config: QuotesConfig) -> QuoteCheck:
    """Whether ``quote`` can price an order at ``as_of``: fresh, accepted type, numeric, not crossed."""
    if quote is None:
        return QuoteCheck(False, "no quote")
    if quote.market_data_type not in config.accepted_market_data_types:
        return QuoteCheck(
            False,
            f"market data type {quote.market_data_type} not accepted (accepted: {config.accepted_market_data_types})",
        )
    age = (as_of - quote.quote_time).total_seconds()
    if age > config.max_age_seconds:
        return QuoteCheck(False, f"stale quote: {age:.0f} s old (max {config.max_age_seconds:g} s)")
    if age < -FUTURE_QUOTE_TOLERANCE.total_seconds():
        return QuoteCheck(False, f"quote time {-age:.0f} s after the snapshot time")
    bid, ask = quote.bid, quote.ask
    if not is_finite_number(bid) or not is_finite_number(ask):
        return QuoteCheck(False, f"bid/ask not numbers (bid={bid}, ask={ask})")
    assert bid is not None and ask is not None
    if ask <= 0.0:
        return QuoteCheck(False, f"no offer (ask={ask})")
    if bid < 0.0:
        return QuoteCheck(False, f"negative bid ({bid})")
    if bid > ask:
        return QuoteCheck(False, f"crossed quote (bid {bid} > ask {ask})")
    return QuoteCheck(True, "")


def is_worthless(quote: OptionQuote | None, as_of: dt.datetime, config: QuotesConfig) -> bool:
    """A fresh quote with no bid at all and an offer of a few cents at most: nothing can be sold."""
    if quote is None or quote.market_data_type not in config.accepted_market_data_types:
        return False
    if abs((as_of - quote.quote_time).total_seconds()) > config.max_age_seconds:
        return False
    no_bid = quote.bid is None or quote.bid == 0.0
    ask = quote.ask
    return no_bid and ask is not None and math.isfinite(ask) and 0.0 < ask <= WORTHLESS_ASK


def mid_price(quote: OptionQuote) -> float:
    assert quote.bid is not None and quote.ask is not None
    return (quote.bid + quote.ask) / 2.0


def buy_limits(quote: OptionQuote) -> tuple[float, float]:
    """(first limit, highest limit) for a buy: from mid toward the ask, on tick."""
    assert quote.ask is not None
    bound = round_to_tick(quote.ask, "up")
    start = min(round_to_tick(mid_price(quote), "nearest"), bound)
    return start, bound


def sell_limits(quote: OptionQuote) -> tuple[float, float]:
    """(first limit, lowest limit) for a sell: from mid toward the bid, on tick, never below a cent."""
    assert quote.bid is not None
    bound = round_to_tick(max(quote.bid, MIN_PRICE), "down")
    start = max(round_to_tick(mid_price(quote), "nearest"), bound)
    return start, bound


def future_price_for(expiry: dt.date, today: dt.date, futures: list[FutureQuote]) -> tuple[float | None, str]:
    """The VIX future price for an option expiry: the same-expiry future, else linear in DTE between two."""
    priced = sorted(
        (f for f in futures if is_finite_number(f.price) and (f.price or 0.0) > 0.0 and f.expiry >= today),
        key=lambda f: f.expiry,
    )
    for future in priced:
        if future.expiry == expiry:
            assert future.price is not None
            return future.price, "same-expiry future"
    before = [f for f in priced if f.expiry < expiry]
    after = [f for f in priced if f.expiry > expiry]
    if not before or not after:
        return None, f"no VIX futures bracket {expiry.isoformat()}"
    lower, upper = before[-1], after[0]
    assert lower.price is not None and upper.price is not None
    span = (upper.expiry - lower.expiry).days
    weight = (expiry - lower.expiry).days / span
    price = lower.price + weight * (upper.price - lower.price)
    return price, f"interpolated between futures {lower.expiry.isoformat()} and {upper.expiry.isoformat()}"


@dataclass(frozen=True)
class DeltaEstimate:
    delta: float | None
    source: str


def call_deltas(
    quotes: list[OptionQuote], future_price: float | None, today: dt.date, rate: float
) -> list[DeltaEstimate]:
    """Call delta of each quote: IB's model delta, else Black-76 on the future from the quote's mid."""
    results: list[DeltaEstimate | None] = []
    need_own: list[int] = []
    for index, quote in enumerate(quotes):
        model = quote.model_delta
        if is_finite_number(model) and model is not None and 0.0 <= model <= 1.0:
            results.append(DeltaEstimate(model, "IB model greeks"))
        else:
            results.append(None)
            need_own.append(index)
    if need_own:
        if future_price is None:
            for index in need_own:
                results[index] = DeltaEstimate(None, "no IB greeks and no future price for Black-76")
        else:
            _fill_own_deltas(quotes, need_own, results, future_price, today, rate)
    return [r if r is not None else DeltaEstimate(None, "no delta") for r in results]


def _fill_own_deltas(
    quotes: list[OptionQuote],
    indices: list[int],
    results: list[DeltaEstimate | None],
    future_price: float,
    today: dt.date,
    rate: float,
) -> None:
    mids = np.array(
        [
            mid_price(quotes[i])
            if is_finite_number(quotes[i].bid) and is_finite_number(quotes[i].ask) and (quotes[i].ask or 0) > 0
            else np.nan
            for i in indices
        ]
    )
    strikes = np.array([quotes[i].contract.strike for i in indices])
    years = years_from_days(np.array([(quotes[i].contract.expiry - today).days for i in indices], dtype=float))
    vols = implied_vol_black76("C", mids, future_price, strikes, years, rate)
    deltas = black76("C", future_price, strikes, years, np.where(np.isfinite(vols), vols, 1.0), rate).delta
    for position, index in enumerate(indices):
        if math.isfinite(vols[position]):
            results[index] = DeltaEstimate(float(deltas[position]), "Black-76 on the future, IV from mid")
        else:
            results[index] = DeltaEstimate(None, "mid outside no-arbitrage bounds: no implied vol")
