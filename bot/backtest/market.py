"""The modelled market of each evaluation day, and the planner's ``MarketSnapshot`` built from it.

No look-ahead: everything for day ``i`` comes from rows ``<= i`` of the history. The 15:30 snapshot
uses that day's closing values (VIX and SPX closes, VX settlements) as its prices - the one
approximation of a daily backtest - and the histories hold completed daily closes of earlier days
only (``history_length`` of them, at least the warm-up). On half days the evaluation moves to
``minutes_before_early_close`` before the close.

The chain is kept small: only expiries inside a bucket's buy window plus the expiries of contracts
the variant holds or has orders on, and only strikes whose model call delta lies between
``min_delta`` and ``max_delta``, plus the held strikes. Quotes carry model greeks (as IB's model
greeks would), so the planner does not need to back out its own deltas.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from zoneinfo import ZoneInfo

import numpy as np

from bot.backtest.condor_book import CondorBookResult
from bot.backtest.listing import monthly_vix_expiries_after, vix_strikes_between, weekly_vix_expiries
from bot.backtest.loaders import MarketHistory
from bot.backtest.settings import BacktestSettings
from bot.backtest.vix_model import ForwardCurve, VixQuotes, VixVolParams, build_curve, fill_vvix, quote_calls
from bot.calendar import ExchangeCalendar
from strategies.alvh.config import BUCKET_ORDER, StrategyConfig
from strategies.alvh.models import (
    DailyClose,
    EvaluationRequest,
    FutureQuote,
    Layer,
    MarketSnapshot,
    OptionContract,
    OptionQuote,
    TradingSession,
)
from strategies.alvh.sizing import beta_at

NEW_YORK = ZoneInfo("America/New_York")
SESSIONS_AHEAD_DAYS = 130
HISTORY_LENGTH = 100
STRIKE_SEARCH_LOW = 0.5
STRIKE_SEARCH_HIGH = 8.0


@dataclass(frozen=True)
class Day:
    """One evaluation day: its time, prices and forward curve."""

    index: int
    date: dt.date
    as_of: dt.datetime
    vix: float
    vix_open: float
    vix_high: float
    spx: float
    vvix: float
    curve: ForwardCurve
    listed: tuple[tuple[dt.date, bool], ...]  # (expiry, weekly)


@cache
def vix_contract(expiry: dt.date, strike: float, weekly: bool) -> OptionContract:
    """The (shared, immutable) contract object of a VIX call."""
    return OptionContract.model_construct(
        symbol="VIX",
        trading_class="VIXW" if weekly else "VIX",
        expiry=expiry,
        strike=float(strike),
        right="C",
        multiplier=100,
        con_id=None,
        last_trade_date=None,
    )


class MarketModel:
    """Days, quotes and snapshots over a loaded history (shared by every variant of a run)."""

    def __init__(
        self,
        history: MarketHistory,
        first_index: int,
        params: VixVolParams,
        settings: BacktestSettings,
        condors: CondorBookResult,
        strategy: StrategyConfig,
        calendar: ExchangeCalendar | None = None,
    ) -> None:
        self.history = history
        self.first_index = first_index
        self.params = params
        self.settings = settings
        self.condors = condors
        self.strategy = strategy
        self.calendar = calendar or ExchangeCalendar(strategy.schedule.calendar)
        self.vvix, self.vvix_source = fill_vvix(
            history.vvix, history.vix_close, settings.vix_options.vvix_max_stale_days
        )
        first, last = history.date(0), history.date(len(history) - 1)
        self.sessions = self.calendar.sessions_between(first, last + dt.timedelta(days=SESSIONS_AHEAD_DAYS + 10))
        self.session_dates = [session.date for session in self.sessions]
        self.spx_closes = [
            DailyClose.model_construct(date=history.date(i), close=float(history.spx_close[i]))
            for i in range(len(history))
        ]
        self.vx1_closes = [
            DailyClose.model_construct(date=history.date(i), close=float(history.vx_prices[i, 0]))
            for i in range(len(history))
        ]
        windows = [strategy.buckets.bucket(name) for name in BUCKET_ORDER]
        self.buy_windows = [(w.buy_window_min_dte, w.buy_window_max_dte) for w in windows]
        self._day_cache: dict[int, Day] = {}
        self._quote_cache: dict[int, dict[tuple[dt.date, float], OptionQuote]] = {}
        self._window_chain: dict[int, list[OptionQuote]] = {}

    # ------------------------------------------------------------------ days

    def evaluation_time(self, day: dt.date) -> dt.datetime:
        wanted = dt.datetime.combine(day, self.settings.evaluation.time, tzinfo=NEW_YORK)
        session = self.sessions[bisect.bisect_left(self.session_dates, day)]
        latest = session.close - dt.timedelta(minutes=self.settings.evaluation.minutes_before_early_close)
        return min(wanted.astimezone(dt.UTC), latest.astimezone(dt.UTC))

    def day(self, index: int) -> Day:
        cached = self._day_cache.get(index)
        if cached is not None:
            return cached
        history = self.history
        date = history.date(index)
        vix = float(history.vix_close[index])
        curve = build_curve(date, vix, history.vx_prices[index], history.vx_expiries[index])
        options = self.settings.vix_options
        monthly = monthly_vix_expiries_after(date, options.monthly_listing_count, self.calendar)
        weekly = weekly_vix_expiries(date, options.weekly_listing_days, options.weeklies_from, self.calendar)
        listed = tuple(sorted([(e, False) for e in monthly] + [(e, True) for e in weekly]))
        result = Day(
            index=index,
            date=date,
            as_of=self.evaluation_time(date),
            vix=vix,
            vix_open=float(history.vix_open[index]),
            vix_high=float(history.vix_high[index]),
            spx=float(history.spx_close[index]),
            vvix=float(self.vvix[index]),
            curve=curve,
            listed=listed,
        )
        if len(self._day_cache) > 8:
            self._day_cache.clear()
            self._quote_cache.clear()
            self._window_chain.clear()
        self._day_cache[index] = result
        return result

    def is_weekly(self, day: Day, expiry: dt.date) -> bool:
        for listed, weekly in day.listed:
            if listed == expiry:
                return weekly
        return expiry not in day.curve.monthly_expiries

    def window_expiries(self, day: Day) -> list[dt.date]:
        found = []
        for expiry, _ in day.listed:
            dte = (expiry - day.date).days
            if any(low <= dte <= high for low, high in self.buy_windows):
                found.append(expiry)
        return found

    # ------------------------------------------------------------------ VIX option quotes

    def price(self, day: Day, expiries: list[dt.date], strikes: list[float], weekly: list[bool]) -> VixQuotes:
        """Model quotes of calls at the day's close (vectorised over the lists)."""
        by_expiry = {e: ((e - day.date).days, day.curve.for_expiry(e)) for e in set(expiries)}
        dte = np.array([by_expiry[e][0] for e in expiries], dtype=float)
        forward = np.array([by_expiry[e][1] for e in expiries])
        return quote_calls(self.params, day.vvix, dte, forward, np.array(strikes), np.array(weekly))

    def mark(self, day: Day, layers: list[Layer], covering: list[Layer]) -> tuple[float, float]:
        """Marked value of ``layers`` (model price x 100) and the hedge dollars per VIX point of ``covering``.

        Hedge dollars follow strategy.md §2: quantity x 100 x call delta x β(τ).
        """
        if not layers:
            return 0.0, 0.0
        quotes = self.price(
            day,
            [layer.contract.expiry for layer in layers],
            [layer.contract.strike for layer in layers],
            [layer.contract.trading_class == "VIXW" for layer in layers],
        )
        table = self.strategy.coverage.beta_table
        covering_ids = {id(layer) for layer in covering}
        value = 0.0
        hedge_dollars = 0.0
        for position, layer in enumerate(layers):
            value += float(quotes.mid[position]) * layer.quantity * 100
            if id(layer) in covering_ids:
                dte = (layer.contract.expiry - day.date).days
                hedge_dollars += layer.quantity * 100 * float(quotes.delta[position]) * beta_at(dte, table)
        return value, hedge_dollars

    def bids_at_high(self, day: Day, expiries: list[dt.date], strikes: list[float], weekly: list[bool]) -> np.ndarray:
        """Modelled bids with spot VIX at the day's high: each future moves by β(τ) x (high - close)."""
        dte = np.array([(e - day.date).days for e in expiries], dtype=float)
        table = self.strategy.coverage.beta_table
        move = day.vix_high - day.vix
        forward = np.array(
            [day.curve.for_expiry(e) + beta_at(t, table) * move for e, t in zip(expiries, dte, strict=True)]
        )
        return quote_calls(self.params, day.vvix, dte, forward, np.array(strikes), np.array(weekly)).bid

    def _make_quotes(
        self, day: Day, expiries: list[dt.date], strikes: list[float], quotes: VixQuotes, keep: np.ndarray
    ) -> None:
        cache = self._quote_cache.setdefault(day.index, {})
        for position in np.flatnonzero(keep):
            expiry, strike = expiries[position], strikes[position]
            weekly = self.is_weekly(day, expiry)
            cache[(expiry, strike)] = OptionQuote.model_construct(
                contract=vix_contract(expiry, strike, weekly),
                bid=float(quotes.bid[position]),
                ask=float(quotes.ask[position]),
                last=None,
                bid_size=None,
                ask_size=None,
                model_iv=float(quotes.iv[position]),
                model_delta=float(quotes.delta[position]),
                model_gamma=None,
                model_vega=float(quotes.vega[position]),
                model_theta=None,
                underlying_price=day.curve.for_expiry(expiry),
                quote_time=day.as_of,
                market_data_type=1,
            )

    def window_chain(self, day: Day) -> list[OptionQuote]:
        """Calls of the buy-window expiries whose model delta lies in [min_delta, max_delta] (cached per day)."""
        cached = self._window_chain.get(day.index)
        if cached is not None:
            return cached
        expiries: list[dt.date] = []
        strikes: list[float] = []
        for expiry in self.window_expiries(day):
            forward = day.curve.for_expiry(expiry)
            candidates = vix_strikes_between(forward * STRIKE_SEARCH_LOW, forward * STRIKE_SEARCH_HIGH)
            expiries.extend([expiry] * len(candidates))
            strikes.extend(float(k) for k in candidates)
        chain: list[OptionQuote] = []
        if expiries:
            weekly = [self.is_weekly(day, e) for e in expiries]
            quotes = self.price(day, expiries, strikes, weekly)
            options = self.settings.vix_options
            keep = (quotes.delta >= options.min_delta) & (quotes.delta <= options.max_delta)
            self._make_quotes(day, expiries, strikes, quotes, keep)
            cache = self._quote_cache[day.index]
            chain = [cache[(expiries[i], strikes[i])] for i in np.flatnonzero(keep)]
        self._window_chain[day.index] = chain
        return chain

    def vix_chain(self, day: Day, held: Iterable[OptionContract]) -> list[OptionQuote]:
        """The snapshot's VIX calls: buy-window expiries by delta range, plus every held contract."""
        chain = self.window_chain(day)
        cache = self._quote_cache.setdefault(day.index, {})
        listed = {(q.contract.expiry, q.contract.strike) for q in chain}
        extra = sorted(
            {(c.expiry, float(c.strike)) for c in held if c.expiry > day.date} - listed, key=lambda item: item
        )
        missing = [item for item in extra if item not in cache]
        if missing:
            expiries = [e for e, _ in missing]
            strikes = [k for _, k in missing]
            quotes = self.price(day, expiries, strikes, [self.is_weekly(day, e) for e in expiries])
            self._make_quotes(day, expiries, strikes, quotes, np.ones(len(missing), dtype=bool))
        if not extra:
            return chain
        merged = chain + [cache[item] for item in extra]
        return sorted(merged, key=lambda q: (q.contract.expiry, q.contract.strike))

    # ------------------------------------------------------------------ snapshot

    def futures(self, day: Day) -> list[FutureQuote]:
        return [
            FutureQuote.model_construct(
                expiry=expiry,
                price=price,
                monthly=True,
                con_id=None,
                local_symbol=None,
                quote_time=day.as_of,
                market_data_type=1,
            )
            for expiry, price in zip(day.curve.monthly_expiries, day.curve.monthly_prices, strict=True)
        ]

    def spx_quotes(self, day: Day) -> list[OptionQuote]:
        offset = day.index - self.first_index
        position = int(self.condors.position_index[offset])
        if position < 0:
            return []
        contracts = self.condors.positions[position].contracts()
        quotes = []
        for leg, contract in enumerate(contracts):
            quotes.append(
                OptionQuote.model_construct(
                    contract=contract,
                    bid=float(self.condors.leg_bid[offset, leg]),
                    ask=float(self.condors.leg_ask[offset, leg]),
                    last=None,
                    bid_size=None,
                    ask_size=None,
                    model_iv=float(self.condors.leg_iv[offset, leg]),
                    model_delta=float(self.condors.leg_delta[offset, leg]),
                    model_gamma=None,
                    model_vega=float(self.condors.leg_vega[offset, leg]),
                    model_theta=None,
                    underlying_price=day.spx,
                    quote_time=day.as_of,
                    market_data_type=1,
                )
            )
        return quotes

    def sessions_from(self, day: dt.date) -> list[TradingSession]:
        start = bisect.bisect_left(self.session_dates, day)
        stop = bisect.bisect_right(self.session_dates, day + dt.timedelta(days=SESSIONS_AHEAD_DAYS))
        return self.sessions[start:stop]

    def snapshot(self, day: Day, request: EvaluationRequest, held: Iterable[OptionContract]) -> MarketSnapshot:
        start = max(0, day.index - HISTORY_LENGTH)
        return MarketSnapshot(
            as_of=day.as_of,
            request=request,
            vix=day.vix,
            spx=day.spx,
            vx_futures=self.futures(day),
            vix_options=self.vix_chain(day, held),
            spx_options=self.spx_quotes(day),
            spx_history=self.spx_closes[start : day.index],
            vx1_history=self.vx1_closes[start : day.index],
            event_dates=[],
            sessions=self.sessions_from(day.date),
        )
