"""The ``vxth_style`` variant: the rule of Cboe's VIX Tail Hedge index (VXTH) applied to the condor book.

Cboe's description of VXTH (cboe.com/index/dashboard/VXTH): the index "buys one-month 30-delta call
options on the VIX"; new calls are bought monthly (the "roll") and their weight "varies at each roll
and depends on the forward value of VIX". The weights (as reported when the index launched,
optionmonster.com, "First Trust will offer tail hedge VIX fund"): no calls when the VIX future is at
or below 15 or above 50, 1 % of the portfolio from 15 to 30, 0.5 % from 30 to 50.

Here: at each monthly VIX expiry (or the first evaluation after it) the expiring calls settle and
calls of the next monthly expiry are bought at the ask, the strike whose model delta is closest to
0.30. The "portfolio" is the condor book's credit: the 1 % tier spends the ALVH target
(``target_pct`` x credit, 10 % by default), the 0.5 % tier half of it, so the two hedges start from the
same budget. The forward value of VIX is the price of the future of the expiry bought. Calls are held
to expiry and settle at the VIX open of the expiry day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np

from bot.backtest.hedge_book import MULTIPLIER, HedgeBook, Trade
from bot.backtest.listing import monthly_vix_expiries_after, vix_strikes_between
from bot.backtest.market import Day, MarketModel, vix_contract
from bot.backtest.variants import PROGRESS_EVERY, Decision, VariantResult, VariantSpec
from strategies.alvh.models import Layer

TARGET_DELTA = 0.30
SLOT = "vxth"


def vxth_weight(forward: float) -> float:
    """Share of the portfolio in VIX calls by the forward value of VIX (VXTH schedule)."""
    if forward <= 15.0 or forward > 50.0:
        return 0.0
    if forward <= 30.0:
        return 0.01
    return 0.005


def run_vxth(
    market: MarketModel, spec: VariantSpec, first: int, last: int, progress: Callable[[int], None] | None = None
) -> VariantResult:
    config = spec.config
    settings = market.settings
    dates = market.history.dates[first : last + 1]
    result = VariantResult.empty(spec.name, dates)
    book = HedgeBook(slot_ids=[SLOT], commission_per_contract=settings.vix_options.commission_per_contract)
    next_roll = monthly_vix_expiries_after(market.history.date(first) - dt.timedelta(days=1), 1, market.calendar)[0]
    for offset, index in enumerate(range(first, last + 1)):
        day = market.day(index)
        book.settle_expired(day.date, day.vix_open)
        condor_offset = index - market.first_index
        credit = market.condors.positions[int(market.condors.position_index[condor_offset])].credit
        if day.date >= next_roll:
            expiry = monthly_vix_expiries_after(day.date, 1, market.calendar)[0]
            _roll(market, book, day, expiry, credit * config.sizing.target_pct, result)
            next_roll = expiry
        _mark(market, book, day, offset, result, credit * config.sizing.cap_pct)
        if progress is not None and (offset + 1) % PROGRESS_EVERY == 0:
            progress(PROGRESS_EVERY)
    if progress is not None:
        progress((last - first + 1) % PROGRESS_EVERY)
    result.premium_paid = book.premium_paid
    result.commissions = book.commissions
    result.realized_pnl = book.realized_pnl
    result.rebalances = list(book.recent_rebalances)
    result.trades = book.trades
    return result


def _roll(
    market: MarketModel, book: HedgeBook, day: Day, expiry: dt.date, full_budget: float, result: VariantResult
) -> None:
    forward = day.curve.for_expiry(expiry)
    weight = vxth_weight(forward)
    budget = full_budget * weight / 0.01
    if budget <= 0.0:
        result.decisions.append(_decision(day, f"VIX future {forward:.2f}: VXTH weight 0, nothing bought", 0))
        return
    strikes = vix_strikes_between(forward * 0.5, forward * 8.0)
    weekly = [False] * len(strikes)
    quotes = market.price(day, [expiry] * len(strikes), list(strikes), weekly)
    choice = int(np.argmin(np.abs(quotes.delta - TARGET_DELTA)))
    ask = float(quotes.ask[choice])
    quantity = int(np.floor(budget / (ask * MULTIPLIER) + 1e-9))
    if quantity <= 0:
        result.decisions.append(_decision(day, f"budget ${budget:,.0f} buys no call at {ask:.2f}", 0))
        return
    contract = vix_contract(expiry, float(strikes[choice]), weekly=False)
    fee = quantity * book.commission_per_contract
    book.cash -= ask * quantity * MULTIPLIER + fee
    book.premium_paid += ask * quantity * MULTIPLIER
    book.commissions += fee
    book.realized_pnl -= fee
    book.layers[SLOT] = Layer(
        contract=contract, quantity=quantity, entry_price=ask, opened_at=day.as_of, opened_in_slot=SLOT
    )
    book.trades.append(Trade(day.date, "buy", "open", SLOT, contract.key, quantity, ask, fee, -fee, f"vxth-{day.date}"))
    book.recent_rebalances.append(day.as_of)
    result.decisions.append(
        _decision(
            day,
            f"VIX future {forward:.2f}: weight {weight:.1%}, bought {quantity} x {contract.key} at {ask:.2f} "
            f"(delta {quotes.delta[choice]:.2f})",
            1,
        )
    )


def _decision(day: Day, text: str, actions: int) -> Decision:
    return Decision(day.date, text, actions, None)


def _mark(market: MarketModel, book: HedgeBook, day: Day, offset: int, result: VariantResult, cap: float) -> None:
    value, hedge_dollars = market.mark(day, book.all_layers(), list(book.layers.values()))
    condor_vega = float(market.condors.vega_dollars[day.index - market.first_index])
    result.hedge_value[offset] = value
    result.hedge_equity[offset] = book.cash + value
    result.coverage[offset] = hedge_dollars / condor_vega if condor_vega > 0 else np.nan
    result.premium_at_risk[offset] = book.premium_at_risk()
    result.cap[offset] = cap
    result.layers_held[offset] = len(book.layers)
