"""The broker as the engine sees it: connection, contracts, streams, history, orders, and the snapshot.

``Broker.market_inputs`` builds the planner's ``MarketSnapshot`` and the condor legs from live data.
Anything that fails or times out raises ``BrokerError``: the engine then records why it did not
trade. It never returns a quietly empty snapshot.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import structlog
from ib_async import Contract, Position

from bot.broker.chain import ChainListing, Contracts, candidate_options, window_expiries
from bot.broker.connection import IbConnection, LinkEvent
from bot.broker.convert import expiry_from_ib, number, option_contract_from_ib, option_quote
from bot.broker.errors import BrokerError
from bot.broker.history import DailyHistory
from bot.broker.market_data import MarketData
from bot.broker.orders import Orders
from bot.calendar import ExchangeCalendar
from bot.clock import Clock
from bot.config import BotConfig
from strategies.alvh.models import (
    CondorLeg,
    EvaluationRequest,
    FutureQuote,
    MarketSnapshot,
    OptionContract,
    OptionQuote,
)
from strategies.alvh.quotes import future_price_for

log = structlog.get_logger(__name__)

CALENDAR_HORIZON_DAYS = 130
CORE, FUTURE, CANDIDATE, HELD, CONDOR = "core", "future", "candidate", "held", "condor"


@dataclass(frozen=True)
class BrokerPosition:
    contract: OptionContract | None
    description: str
    con_id: int
    quantity: float
    average_cost: float  # IB avgCost: per contract, multiplier included


@dataclass(frozen=True)
class MarketInputs:
    snapshot: MarketSnapshot
    condor_legs: list[CondorLeg]
    vix_positions: list[BrokerPosition]
    missing_quotes: list[str]
    option_contracts: dict[str, Contract]


class Broker:
    def __init__(self, config: BotConfig, clock: Clock, on_event: Callable[[LinkEvent], None]) -> None:
        self.config = config
        self.clock = clock
        self.connection = IbConnection(config, clock, on_event)
        self.ib = self.connection.ib
        timeout = config.connection.request_timeout_seconds
        self.contracts = Contracts(self.ib, timeout)
        self.market = MarketData(self.ib, clock, config.connection.max_market_data_lines)
        self.history = DailyHistory(self.ib, timeout)
        self.orders = Orders(self.ib, timeout)
        self.calendar = ExchangeCalendar(config.strategy.schedule.calendar)
        self.timezone = ZoneInfo(config.strategy.schedule.timezone)
        self._listing: tuple[dt.date, ChainListing] | None = None
        self._futures: tuple[dt.date, list[Contract]] | None = None
        self._positions_lock = asyncio.Lock()

    async def start(self) -> None:
        await self.connection.connect()
        self.orders.account = self.connection.account
        self.connection.start_supervisor()

    async def close(self) -> None:
        await self.connection.close()

    # ------------------------------------------------------------------ positions

    async def positions(self) -> list[BrokerPosition]:
        try:
            async with self._positions_lock:  # ib_async answers concurrent position requests to one waiter
                raw: list[Position] = await asyncio.wait_for(
                    self.ib.reqPositionsAsync(), timeout=self.config.connection.request_timeout_seconds
                )
        except TimeoutError:
            raise BrokerError("positions request timed out") from None
        account = self.connection.account
        # ib_async also adds the position updates that stream in while the request is open (a fill meanwhile):
        # the same contract can be listed twice. The last message for a contract is the current position.
        latest: dict[tuple[str, int], Position] = {}
        for position in raw:
            latest[(position.account, position.contract.conId)] = position
        found = []
        for position in latest.values():
            if account and position.account != account:
                continue
            contract = position.contract
            model = None
            if contract.secType == "OPT" and contract.symbol in ("VIX", "SPX"):
                model = option_contract_from_ib(contract)
            found.append(
                BrokerPosition(
                    contract=model,
                    description=f"{contract.secType} {contract.localSymbol or contract.symbol}",
                    con_id=contract.conId,
                    quantity=float(position.position),
                    average_cost=float(position.avgCost),
                )
            )
        return found

    # ------------------------------------------------------------------ snapshot

    def today(self) -> dt.date:
        return self.clock.now().astimezone(self.timezone).date()

    async def market_inputs(
        self, request: EvaluationRequest, held: list[OptionContract], *, candidates: bool = True
    ) -> MarketInputs:
        """The planner's market inputs; ``candidates=False`` skips the contracts only a rebalance could buy."""
        if not self.connection.connected:
            raise BrokerError("not connected to the gateway")
        if self.connection.trading_blocked_reason:
            raise BrokerError(self.connection.trading_blocked_reason)
        today = self.today()
        timeout = self.config.connection.request_timeout_seconds
        positions = await self.positions()
        condor_legs, vix_positions = _split_positions(positions)

        vix_index, spx_index = await self.contracts.vix_index(), await self.contracts.spx_index()
        self.market.subscribe("VIX", vix_index, CORE)
        self.market.subscribe("SPX", spx_index, CORE)

        listing = await self._chain(today)
        windows = (
            {expiry for _, expiry, _ in window_expiries(listing, today, self.config.strategy)} if candidates else set()
        )
        futures = await self._vix_futures(today, windows | {c.expiry for c in held})
        future_keys = {
            f"VX {contract.lastTradeDateOrContractMonth[:8]} {contract.tradingClass}": contract for contract in futures
        }
        # Streams of contracts no longer needed (expired futures and layers, closed condors) are dropped.
        self.market.unsubscribe_purpose(FUTURE, keep=set(future_keys))
        self.market.unsubscribe_purpose(HELD, keep={c.key for c in held})
        self.market.unsubscribe_purpose(CONDOR, keep={leg.contract.key for leg in condor_legs})
        for key, contract in future_keys.items():
            self.market.subscribe(key, contract, FUTURE)
        await self.market.wait_for_quotes([*future_keys, "VIX", "SPX"], timeout / 2, price_only={"VIX", "SPX"})
        self._check_may_stream()
        future_quotes = [self._future_quote(key, contract) for key, contract in future_keys.items()]

        forwards = {}
        for expiry in {e for dates in listing.expirations.values() for e in dates}:
            price, _ = future_price_for(expiry, today, future_quotes)
            if price is not None:
                forwards[expiry] = price
        wanted = candidate_options(listing, today, self.config.strategy, forwards) if candidates else []
        held_keys = {c.key for c in held}
        wanted_keys = {c.key for c in wanted}
        # Candidates stay streamed from one evaluation to the next while they are still wanted.
        self.market.unsubscribe_purpose(CANDIDATE, keep=wanted_keys | held_keys)
        qualified = await self.contracts.options(
            [*wanted, *(c for c in held if c.key not in wanted_keys)], listing.exchange
        )
        option_keys: list[str] = []
        spare_lines = self.market.max_lines - self.market.lines_in_use
        for key, contract in sorted(qualified.items(), key=lambda item: (item[0] not in held_keys, item[0])):
            if self.market.subscribed(key):
                option_keys.append(key)
                continue
            if spare_lines <= len(condor_legs):
                log.warning("line_budget_reached", skipped=key)
                continue
            self.market.subscribe(key, contract, HELD if key in held_keys else CANDIDATE)
            option_keys.append(key)
            spare_lines -= 1
        condor_contracts = await self.contracts.options([leg.contract for leg in condor_legs], "SMART")
        for key, contract in condor_contracts.items():
            self.market.subscribe(key, contract, CONDOR)
        missing = await self.market.wait_for_quotes(
            [*option_keys, *condor_contracts], timeout / 2, need_greeks=set(option_keys)
        )
        self._check_may_stream()

        spx_history = await self.history.closes(spx_index, "SPX", today)
        vx1_history = await self.history.closes(DailyHistory.vx1_contract(), "VX1", today)
        snapshot = MarketSnapshot(
            as_of=self.clock.now(),
            request=request,
            vix=self._last_price("VIX"),
            spx=self._last_price("SPX"),
            vx_futures=future_quotes,
            vix_options=[self._option_quote(key, qualified[key]) for key in option_keys],
            spx_options=[self._option_quote(key, contract) for key, contract in condor_contracts.items()],
            spx_history=spx_history,
            vx1_history=vx1_history,
            sessions=self.calendar.sessions_between(today, today + dt.timedelta(days=CALENDAR_HORIZON_DAYS)),
        )
        return MarketInputs(snapshot, condor_legs, vix_positions, missing, {**qualified, **condor_contracts})

    def _check_may_stream(self) -> None:
        """A competing session (10197) or a lost entitlement announced while the cycle waited for quotes: the
        quotes that did not come are missing for that reason, not because the market is quiet."""
        if self.connection.trading_blocked_reason:
            raise BrokerError(self.connection.trading_blocked_reason)

    async def _chain(self, today: dt.date) -> ChainListing:
        if self._listing is None or self._listing[0] != today:
            self.contracts.forget_expired(today)
            self._listing = (today, await self.contracts.vix_chain())
        return self._listing[1]

    async def _vix_futures(self, today: dt.date, expiries: set[dt.date]) -> list[Contract]:
        """VX1 and VX2 (contango), the futures of the option expiries needed, and for an expiry with no
        future of its own the monthlies on either side of it (the planner interpolates between them)."""
        if self._futures is None or self._futures[0] != today:
            self._futures = (today, await self.contracts.vix_futures())
        listed = [c for c in self._futures[1] if expiry_from_ib(c.lastTradeDateOrContractMonth) > today]
        by_expiry = {expiry_from_ib(c.lastTradeDateOrContractMonth): c for c in listed}
        monthly = [c for c in listed if c.tradingClass == "VX"]
        chosen = {id(c): c for c in monthly[:2]}
        for expiry in expiries:
            if expiry in by_expiry:
                chosen[id(by_expiry[expiry])] = by_expiry[expiry]
                continue
            below = [c for c in monthly if expiry_from_ib(c.lastTradeDateOrContractMonth) < expiry]
            above = [c for c in monthly if expiry_from_ib(c.lastTradeDateOrContractMonth) > expiry]
            for contract in below[-1:] + above[:1]:
                chosen[id(contract)] = contract
        return sorted(chosen.values(), key=lambda c: c.lastTradeDateOrContractMonth)

    def _future_quote(self, key: str, contract: Contract) -> FutureQuote:
        subscription = self.market.get(key)
        price = None
        data_type = 1
        if subscription is not None:
            ticker = subscription.ticker
            data_type = ticker.marketDataType
            bid, ask = number(ticker.bid), number(ticker.ask)
            if bid is not None and ask is not None and 0 < bid <= ask:
                price = (bid + ask) / 2
            else:
                price = number(ticker.last) or number(ticker.close)
        return FutureQuote(
            expiry=expiry_from_ib(contract.lastTradeDateOrContractMonth),
            price=price,
            monthly=contract.tradingClass == "VX",
            con_id=contract.conId or None,
            local_symbol=contract.localSymbol or None,
            quote_time=self.market.quote_time(key),
            market_data_type=data_type,
        )

    def _option_quote(self, key: str, contract: Contract) -> OptionQuote:
        subscription = self.market.get(key)
        model = option_contract_from_ib(contract)
        if subscription is None:
            raise BrokerError(f"no stream for {key}")
        quote_time = self.market.quote_time(key) or self.clock.now()
        return option_quote(model, subscription.ticker, quote_time, subscription.ticker.marketDataType)

    def _last_price(self, key: str) -> float | None:
        subscription = self.market.get(key)
        if subscription is None:
            return None
        ticker = subscription.ticker
        for value in (ticker.last, ticker.close):
            found = number(value)
            if found is not None and found > 0:
                return found
        bid, ask = number(ticker.bid), number(ticker.ask)
        if bid is not None and ask is not None and 0 < bid <= ask:
            return (bid + ask) / 2
        return None


def _split_positions(positions: list[BrokerPosition]) -> tuple[list[CondorLeg], list[BrokerPosition]]:
    legs: list[CondorLeg] = []
    vix: list[BrokerPosition] = []
    for position in positions:
        contract = position.contract
        if contract is None or position.quantity == 0:
            continue
        if contract.symbol == "SPX":
            quantity = int(position.quantity)
            if quantity != position.quantity or not math.isfinite(position.average_cost):
                log.warning("odd_spx_position", position=position.description, quantity=position.quantity)
                continue
            legs.append(
                CondorLeg(
                    contract=contract, quantity=quantity, average_price=position.average_cost / contract.multiplier
                )
            )
        elif contract.symbol == "VIX":
            vix.append(position)
    return legs, vix
