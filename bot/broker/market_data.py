"""Streaming market data within a line budget, with quote freshness measured on the bot's clock.

IB streams a quote only when it changes, so "time of the last tick" says little about whether a quiet
quote is still current. Here a quote counts as current when it arrived after the last break of the
link (disconnect, 1100, market data farm broken) and the link is healthy now; its ``quote_time`` is
then the snapshot time. Otherwise its ``quote_time`` is when it last ticked, and the planner's age
limit refuses it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from dataclasses import dataclass

import structlog
from ib_async import IB, Contract, Ticker

from bot.broker.errors import BrokerError
from bot.clock import Clock

log = structlog.get_logger(__name__)


class LineBudgetError(BrokerError):
    pass


@dataclass
class Subscription:
    key: str
    contract: Contract
    purpose: str
    ticker: Ticker
    last_tick: dt.datetime | None = None


class MarketData:
    def __init__(self, ib: IB, clock: Clock, max_lines: int) -> None:
        self.ib = ib
        self.clock = clock
        self.max_lines = max_lines
        self._subscriptions: dict[str, Subscription] = {}
        self._by_ticker: dict[int, Subscription] = {}
        self.last_break: dt.datetime | None = None
        self.healthy = True
        self.peak_lines = 0
        ib.pendingTickersEvent += self._on_tickers

    # ------------------------------------------------------------------ subscriptions

    @property
    def lines_in_use(self) -> int:
        return len(self._subscriptions)

    def subscribed(self, key: str) -> bool:
        return key in self._subscriptions

    def subscribe(self, key: str, contract: Contract, purpose: str) -> Subscription:
        """Stream ``contract`` under ``key``; LineBudgetError when the budget is used up."""
        existing = self._subscriptions.get(key)
        if existing is not None:
            return existing
        if len(self._subscriptions) >= self.max_lines:
            raise LineBudgetError(f"market data line budget of {self.max_lines} used up; cannot stream {key}")
        ticker = self.ib.reqMktData(contract, "", False, False)
        subscription = Subscription(key, contract, purpose, ticker)
        self._subscriptions[key] = subscription
        self._by_ticker[id(ticker)] = subscription
        self.peak_lines = max(self.peak_lines, len(self._subscriptions))
        return subscription

    def unsubscribe(self, key: str) -> None:
        subscription = self._subscriptions.pop(key, None)
        if subscription is None:
            return
        self._by_ticker.pop(id(subscription.ticker), None)
        if self.ib.isConnected():
            self.ib.cancelMktData(subscription.contract)

    def unsubscribe_purpose(self, purpose: str, keep: set[str] | None = None) -> None:
        for key, subscription in list(self._subscriptions.items()):
            if subscription.purpose == purpose and (keep is None or key not in keep):
                self.unsubscribe(key)

    def resubscribe_all(self) -> None:
        """After a reconnect or 1101 the gateway forgot every stream: request them all again."""
        old = list(self._subscriptions.values())
        self._subscriptions.clear()
        self._by_ticker.clear()
        for subscription in old:
            ticker = self.ib.reqMktData(subscription.contract, "", False, False)
            renewed = Subscription(subscription.key, subscription.contract, subscription.purpose, ticker)
            self._subscriptions[subscription.key] = renewed
            self._by_ticker[id(ticker)] = renewed
        log.info("market_data_resubscribed", lines=len(self._subscriptions))

    def get(self, key: str) -> Subscription | None:
        return self._subscriptions.get(key)

    # ------------------------------------------------------------------ freshness

    def mark_break(self) -> None:
        self.last_break = self.clock.now()
        self.healthy = False

    def mark_healthy(self) -> None:
        self.healthy = True

    def quote_time(self, key: str) -> dt.datetime | None:
        subscription = self._subscriptions.get(key)
        if subscription is None or subscription.last_tick is None:
            return None
        received_after_break = self.last_break is None or subscription.last_tick >= self.last_break
        if self.healthy and received_after_break:
            return self.clock.now()
        return subscription.last_tick

    def has_quote(self, key: str) -> bool:
        """A quote has arrived: an offer (IB sends bid -1 for "no bid", a complete answer) or a bid."""
        subscription = self._subscriptions.get(key)
        if subscription is None:
            return False
        ticker = subscription.ticker
        return (_valid(ticker.ask) and (ticker.ask or 0) > 0) or (_valid(ticker.bid) and (ticker.bid or 0) > 0)

    def has_price(self, key: str) -> bool:
        """An index has no bid/ask: a last or close price is what it quotes."""
        subscription = self._subscriptions.get(key)
        if subscription is None:
            return False
        ticker = subscription.ticker
        return any(_valid(value) and (value or 0) > 0 for value in (ticker.last, ticker.close))

    async def wait_for_quotes(
        self,
        keys: list[str],
        timeout: float,
        need_greeks: set[str] | None = None,
        greeks_grace: float = 0.5,
        price_only: set[str] | None = None,
    ) -> list[str]:
        """Wait until every key quotes (two-sided, or a price for ``price_only`` keys); then give the model
        greeks of ``need_greeks`` a short grace (the planner computes its own delta without them). Returns the
        keys still without a quote."""
        price_only = price_only or set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout

        def quoting(key: str) -> bool:
            return self.has_price(key) if key in price_only else self.has_quote(key)

        while True:
            missing = [key for key in keys if not quoting(key)]
            if not missing or loop.time() >= deadline:
                break
            await asyncio.sleep(0.005)
        greeks_deadline = min(deadline, loop.time() + greeks_grace)
        while need_greeks and loop.time() < greeks_deadline:
            waiting = [
                key
                for key in need_greeks
                if key in self._subscriptions and self._subscriptions[key].ticker.modelGreeks is None and quoting(key)
            ]
            if not waiting:
                break
            await asyncio.sleep(0.005)
        return missing

    def _on_tickers(self, tickers: set[Ticker]) -> None:
        now = self.clock.now()
        for ticker in tickers:
            subscription = self._by_ticker.get(id(ticker))
            if subscription is not None:
                subscription.last_tick = now


def _valid(value: float | None) -> bool:
    return value is not None and math.isfinite(value) and value >= 0
