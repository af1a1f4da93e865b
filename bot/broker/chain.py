"""VIX option chain discovery and the candidate contracts the buy windows and delta ladders need.

``reqSecDefOptParams`` lists, per trading class (VIX monthly, VIXW weekly), the union of expirations
and strikes; not every pair is listed. Candidates are chosen before any option quote is seen: for each
expiry in a bucket's buy window, the strikes whose Black-76 delta at a nominal volatility brackets each
target of the delta ladder. Only those are qualified (a pair that is not listed gives error 200 and is
skipped) and streamed, which keeps the line budget small.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

import numpy as np
import structlog
from ib_async import IB, Contract, Future, Index, Option

from bot.broker.convert import expiry_from_ib, option_contract_from_ib
from bot.broker.errors import BrokerError
from strategies.alvh.config import BUCKET_ORDER, BucketConfig, StrategyConfig
from strategies.alvh.models import OptionContract
from strategies.pricing import black76, years_from_days

log = structlog.get_logger(__name__)

VIX_INDEX_CON_ID = 13455763
SPX_INDEX_CON_ID = 416904
VIX_TRADING_CLASSES = ("VIX", "VIXW")
NOMINAL_VOL_OF_VOL = 0.9  # only to pick candidate strikes; the planner uses IB's (or its own) greeks


@dataclass(frozen=True)
class ChainListing:
    """Expirations and strikes per trading class."""

    expirations: dict[str, list[dt.date]]
    strikes: dict[str, list[float]]
    exchange: str

    def expiries_between(self, first: dt.date, last: dt.date) -> list[tuple[dt.date, str]]:
        found = {
            (expiry, trading_class)
            for trading_class, dates in self.expirations.items()
            for expiry in dates
            if first <= expiry <= last
        }
        # A date listed by both classes is the monthly (VIX) one.
        by_date: dict[dt.date, str] = {}
        for expiry, trading_class in sorted(found):
            if expiry not in by_date or trading_class == "VIX":
                by_date[expiry] = trading_class
        return sorted(by_date.items())


class Contracts:
    """Qualification with a cache: each contract is looked up once per run."""

    def __init__(self, ib: IB, timeout: float) -> None:
        self.ib = ib
        self.timeout = timeout
        self._cache: dict[str, Contract | None] = {}
        self._expiries: dict[tuple[str, dt.date, str, str, str], dict[str, Contract]] = {}

    def forget_expired(self, today: dt.date) -> None:
        """Drop cached listings and contracts that expired: the caches would otherwise grow every day."""
        self._expiries = {key: listing for key, listing in self._expiries.items() if key[1] >= today}
        cutoff = today.strftime("%Y%m%d")
        self._cache = {
            key: contract
            for key, contract in self._cache.items()
            if contract is None
            or not contract.lastTradeDateOrContractMonth
            or contract.lastTradeDateOrContractMonth[:8] >= cutoff
        }

    async def qualify(self, contracts: list[Contract]) -> list[Contract | None]:
        # Keys first: ib_async fills in the contracts it qualifies, in place.
        keys = [_contract_key(contract) for contract in contracts]
        missing = [(key, contract) for key, contract in zip(keys, contracts, strict=True) if key not in self._cache]
        if missing:
            try:
                results = await asyncio.wait_for(
                    self.ib.qualifyContractsAsync(*(contract for _, contract in missing)), timeout=self.timeout
                )
            except TimeoutError:
                raise BrokerError(f"contract qualification of {len(missing)} contracts timed out") from None
            for (key, _), result in zip(missing, results, strict=True):
                self._cache[key] = result if isinstance(result, Contract) else None
        return [self._cache[key] for key in keys]

    async def vix_index(self) -> Contract:
        return await self._one(Index("VIX", "CBOE", "USD"), "the VIX index")

    async def spx_index(self) -> Contract:
        return await self._one(Index("SPX", "CBOE", "USD"), "the SPX index")

    async def _one(self, contract: Contract, what: str) -> Contract:
        (found,) = await self.qualify([contract])
        if found is None:
            raise BrokerError(f"cannot qualify {what}")
        return found

    async def vix_futures(self) -> list[Contract]:
        """All listed VIX futures (monthly VX and weeklies), from contract details."""
        try:
            details = await asyncio.wait_for(
                self.ib.reqContractDetailsAsync(Future(symbol="VIX", exchange="CFE", currency="USD")),
                timeout=self.timeout,
            )
        except TimeoutError:
            raise BrokerError("VIX futures contract details timed out") from None
        if not details:
            raise BrokerError("the gateway lists no VIX futures")
        return sorted(
            (d.contract for d in details if d.contract is not None),
            key=lambda c: c.lastTradeDateOrContractMonth,
        )

    async def vix_chain(self) -> ChainListing:
        try:
            chains = await asyncio.wait_for(
                self.ib.reqSecDefOptParamsAsync("VIX", "", "IND", VIX_INDEX_CON_ID), timeout=self.timeout
            )
        except TimeoutError:
            raise BrokerError("VIX option chain request (reqSecDefOptParams) timed out") from None
        wanted = [c for c in chains if c.tradingClass in VIX_TRADING_CLASSES]
        if not wanted:
            raise BrokerError("the gateway returned no VIX/VIXW option chain")
        exchange = "SMART" if any(c.exchange == "SMART" for c in wanted) else wanted[0].exchange
        expirations: dict[str, list[dt.date]] = {}
        strikes: dict[str, list[float]] = {}
        for chain in wanted:
            if chain.exchange != exchange:
                continue
            expirations[chain.tradingClass] = sorted(expiry_from_ib(e) for e in chain.expirations)
            strikes[chain.tradingClass] = sorted(float(s) for s in chain.strikes)
        return ChainListing(expirations, strikes, exchange)

    async def options(self, wanted: list[OptionContract], exchange: str) -> dict[str, Contract]:
        """Qualified IB contracts for the wanted options, by contract key; unlisted ones are left out.

        One contract-details request per (expiry, trading class) lists every strike of that expiry, so a
        chain of candidates costs a handful of requests, not one per option (IB paces messages)."""
        found: dict[str, Contract] = {}
        groups: dict[tuple[str, dt.date, str, str], list[OptionContract]] = {}
        for contract in wanted:
            groups.setdefault((contract.symbol, contract.expiry, contract.trading_class, contract.right), []).append(
                contract
            )
        singles: list[OptionContract] = []
        for (symbol, expiry, trading_class, right), members in groups.items():
            listed = await self._expiry_listing(symbol, expiry, trading_class, right, exchange)
            if listed is None:
                singles.extend(members)
                continue
            for contract in members:
                if contract.key in listed:
                    found[contract.key] = listed[contract.key]
                else:
                    log.info("option_not_listed", contract=contract.key)
        if singles:
            found.update(await self._options_one_by_one(singles, exchange))
        return found

    async def _expiry_listing(
        self, symbol: str, expiry: dt.date, trading_class: str, right: str, exchange: str
    ) -> dict[str, Contract] | None:
        key = (symbol, expiry, trading_class, right, exchange)
        if key in self._expiries:
            return self._expiries[key]
        query = Option(
            symbol=symbol,
            lastTradeDateOrContractMonth=expiry.strftime("%Y%m%d"),
            right=right,
            exchange=exchange,
            currency="USD",
            tradingClass=trading_class,
        )
        try:
            details = await asyncio.wait_for(self.ib.reqContractDetailsAsync(query), timeout=self.timeout)
        except TimeoutError:
            raise BrokerError(f"contract details of {symbol} {trading_class} {expiry} timed out") from None
        if not details:
            return None
        listing: dict[str, Contract] = {}
        for detail in details:
            contract = detail.contract
            if contract is None or contract.secType != "OPT":
                continue
            if exchange == "SMART":
                contract.exchange = "SMART"
            listing[option_contract_from_ib(contract).key] = contract
        self._expiries[key] = listing
        return listing

    async def _options_one_by_one(self, wanted: list[OptionContract], exchange: str) -> dict[str, Contract]:
        requests = [
            Option(
                symbol=c.symbol,
                lastTradeDateOrContractMonth=c.expiry.strftime("%Y%m%d"),
                strike=c.strike,
                right=c.right,
                exchange=exchange,
                currency="USD",
                tradingClass=c.trading_class,
                multiplier=str(c.multiplier),
            )
            for c in wanted
        ]
        qualified = await self.qualify(requests)
        found: dict[str, Contract] = {}
        for contract, result in zip(wanted, qualified, strict=True):
            if result is not None:
                found[option_contract_from_ib(result).key] = result
            else:
                log.info("option_not_listed", contract=contract.key)
        return found


def _contract_key(contract: Contract) -> str:
    if contract.conId:
        return f"conid:{contract.conId}"
    return "|".join(
        str(part)
        for part in (
            contract.secType,
            contract.symbol,
            contract.lastTradeDateOrContractMonth,
            contract.strike,
            contract.right,
            contract.tradingClass,
            contract.exchange,
        )
    )


def window_expiries(
    listing: ChainListing, today: dt.date, config: StrategyConfig
) -> list[tuple[BucketConfig, dt.date, str]]:
    """Each listed expiry (and its trading class) inside a bucket's buy window, with that bucket's config."""
    found = []
    for bucket in BUCKET_ORDER:
        bucket_config = config.buckets.bucket(bucket)
        first = today + dt.timedelta(days=bucket_config.buy_window_min_dte)
        last = today + dt.timedelta(days=bucket_config.buy_window_max_dte)
        found.extend(
            (bucket_config, expiry, trading_class) for expiry, trading_class in listing.expiries_between(first, last)
        )
    return found


def candidate_options(
    listing: ChainListing,
    today: dt.date,
    config: StrategyConfig,
    forward_for: dict[dt.date, float],
    per_target: int = 2,
) -> list[OptionContract]:
    """Calls in each buy window whose nominal delta brackets each ladder target (``per_target`` per target)."""
    wanted: dict[str, OptionContract] = {}
    for bucket_config, expiry, trading_class in window_expiries(listing, today, config):
        forward = forward_for.get(expiry)
        strikes = np.array(listing.strikes.get(trading_class, []))
        if forward is None or not len(strikes):
            continue
        deltas = black76("C", forward, strikes, years_from_days((expiry - today).days), NOMINAL_VOL_OF_VOL).delta
        for target in bucket_config.delta_ladder:
            nearest = np.argsort(np.abs(deltas - target))[:per_target]
            for index in nearest:
                contract = OptionContract(
                    symbol="VIX",
                    trading_class=trading_class,
                    expiry=expiry,
                    strike=float(strikes[index]),
                    right="C",
                )
                wanted[contract.key] = contract
    return sorted(wanted.values(), key=lambda c: (c.expiry, c.strike))
