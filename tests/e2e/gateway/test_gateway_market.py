"""ib_async over TCP: connect and sync, qualify contracts, option chains, streaming ticks with greeks, history."""

from __future__ import annotations

import asyncio
import datetime as dt
import math

import pytest
from ib_async import IB, ContFuture, Future, Index, Option

from bot.sim.gateway import GatewayServer
from tests.e2e.gateway.gateway_support import MONDAY, ErrorLog, vix_call, wait_until

pytestmark = pytest.mark.e2e


async def test_connect_syncs_account_positions_and_time(gateway: GatewayServer, ib: IB) -> None:
    assert ib.isConnected()
    assert ib.client.serverVersion() == 178
    assert ib.managedAccounts() == ["DU1234567"]
    positions = ib.positions()
    assert len(positions) == 8
    assert {p.contract.symbol for p in positions} == {"SPX"}
    assert {p.contract.tradingClass for p in positions} == {"SPXW"}
    assert sorted(p.position for p in positions) == [-15.0] * 4 + [15.0] * 4
    values = {(v.tag, v.currency): v.value for v in ib.accountValues()}
    assert values[("AccountCode", "")] == "DU1234567"
    net_liquidation = float(values[("NetLiquidation", "USD")])
    assert 900_000 < net_liquidation < 1_100_000
    assert float(values[("AvailableFunds", "USD")]) < net_liquidation  # the condors use margin
    assert len(ib.portfolio()) == 8
    assert ib.openTrades() == []
    now = await ib.reqCurrentTimeAsync()
    assert abs((now - gateway.clock.now()).total_seconds()) < 5
    assert now.date() == MONDAY.date()
    summary = {v.tag: v.value for v in await ib.accountSummaryAsync()}
    assert float(summary["NetLiquidation"]) == pytest.approx(net_liquidation, rel=0.01)


async def test_qualify_indices_futures_and_options(ib: IB) -> None:
    errors = ErrorLog(ib)
    vix, spx = Index("VIX", "CBOE"), Index("SPX", "CBOE")
    assert await ib.qualifyContractsAsync(vix, spx) == [vix, spx]
    assert (vix.conId, spx.conId) == (13455763, 416904)

    future = Future("VIX", "202601", "CFE", tradingClass="VX")
    [qualified] = await ib.qualifyContractsAsync(future)
    assert qualified is not None and future.localSymbol == "VXF6" and future.multiplier == "1000"
    assert future.lastTradeDateOrContractMonth == "20260121"
    # Without tradingClass December also matches its weekly futures: ambiguous, as at IB.
    assert await ib.qualifyContractsAsync(Future("VIX", "202512", "CFE")) == [None]
    [front] = await ib.qualifyContractsAsync(ContFuture("VIX", "CFE"))
    assert front is not None and front.secType == "CONTFUT" and front.localSymbol == "VXZ5"

    chains = await ib.reqSecDefOptParamsAsync("VIX", "", "IND", 13455763)
    weekly = next(c for c in chains if c.tradingClass == "VIXW" and c.exchange == "SMART")
    monthly = next(c for c in chains if c.tradingClass == "VIX" and c.exchange == "SMART")
    call = Option("VIX", sorted(monthly.expirations)[1], 20, "C", "SMART", tradingClass="VIX")
    weekly_call = Option("VIX", sorted(weekly.expirations)[2], 21, "C", "SMART", tradingClass="VIXW")
    spx_put = Option("SPX", "20251219", 5500, "P", "SMART", tradingClass="SPX")
    qualified_options = await ib.qualifyContractsAsync(call, weekly_call, spx_put)
    assert all(c is not None and c.conId for c in qualified_options)
    assert call.multiplier == "100" and call.localSymbol.startswith("VIX   ")
    assert weekly_call.localSymbol.startswith("VIXW  ")
    assert spx_put.localSymbol == "SPX   251219P05500000"

    # A generated pair that is not listed: no weekly 12.5 strike.
    missing = Option("VIX", sorted(weekly.expirations)[0], 12.5, "C", "SMART", tradingClass="VIXW")
    assert await ib.qualifyContractsAsync(missing) == [None]
    assert 200 in errors.codes()
    details = await ib.reqContractDetailsAsync(
        Option("VIX", sorted(monthly.expirations)[0], 0, "C", "SMART", tradingClass="VIX")
    )
    assert len(details) > 30  # a partial spec lists the expiry's calls
    assert {d.contract.right for d in details} == {"C"}


async def test_option_chain_shape(ib: IB) -> None:
    chains = await ib.reqSecDefOptParamsAsync("VIX", "", "IND", 13455763)
    assert {(c.exchange, c.tradingClass) for c in chains} == {
        ("CBOE", "VIX"),
        ("CBOE", "VIXW"),
        ("SMART", "VIX"),
        ("SMART", "VIXW"),
    }
    all_expiries = sorted({e for c in chains for e in c.expirations})
    days = [(dt.datetime.strptime(e, "%Y%m%d").date() - MONDAY.date()).days for e in all_expiries]
    assert sum(30 <= d <= 45 for d in days) >= 2
    assert any(60 <= d <= 90 for d in days) and max(days) >= 180
    monthly = next(c for c in chains if c.tradingClass == "VIX")
    assert monthly.multiplier == "100" and 12.5 in monthly.strikes and 100.0 in monthly.strikes
    spx = await ib.reqSecDefOptParamsAsync("SPX", "", "IND", 416904)
    assert {c.tradingClass for c in spx} == {"SPX", "SPXW"}


async def test_streaming_ticks_with_model_greeks(gateway: GatewayServer, ib: IB) -> None:
    chains = await ib.reqSecDefOptParamsAsync("VIX", "", "IND", 13455763)
    monthly = next(c for c in chains if c.tradingClass == "VIX" and c.exchange == "SMART")
    expiry = sorted(monthly.expirations)[1]
    option = Option("VIX", expiry, 18, "C", "SMART", tradingClass="VIX")
    future = Future("VIX", expiry, "CFE", tradingClass="VX")
    vix = Index("VIX", "CBOE")
    await ib.qualifyContractsAsync(option, future, vix)
    ticker = ib.reqMktData(option)
    future_ticker = ib.reqMktData(future)
    index_ticker = ib.reqMktData(vix)
    updates = 0

    def count(_: object) -> None:
        nonlocal updates
        updates += 1

    ticker.updateEvent += count
    await wait_until(lambda: ticker.modelGreeks is not None and not math.isnan(ticker.ask) and updates >= 5)
    assert ticker.marketDataType == 1
    assert 0 < ticker.bid < ticker.ask
    greeks = ticker.modelGreeks
    assert greeks is not None and 0.2 < greeks.delta < 0.8 and greeks.impliedVol > 0.3
    # The greeks' underlying is the same-expiry VIX future, not spot VIX.
    await wait_until(lambda: not math.isnan(future_ticker.bid))
    assert greeks.undPrice == pytest.approx((future_ticker.bid + future_ticker.ask) / 2, abs=0.2)
    assert index_ticker.last == pytest.approx(gateway.model.state(gateway.clock.now()).vix, abs=0.5)
    assert index_ticker.close > 0 and index_ticker.high >= index_ticker.low
    assert ticker.minTick == 0.01
    # Trade times follow the gateway's clock, not the wall clock.
    assert ticker.lastTimestamp is not None
    assert abs((ticker.lastTimestamp - gateway.clock.now()).total_seconds()) < 600
    ib.cancelMktData(option)
    await asyncio.sleep(0.2)
    assert gateway.market_data_lines_in_use() == 2

    [snapshot] = await ib.reqTickersAsync(option)
    assert not math.isnan(snapshot.bid) and snapshot.modelGreeks is not None


async def test_delayed_and_frozen_market_data_types(gateway: GatewayServer, ib: IB) -> None:
    option = await vix_call(ib)
    ib.reqMarketDataType(3)
    ticker = ib.reqMktData(option)
    await wait_until(lambda: ticker.modelGreeks is not None and not math.isnan(ticker.bid))
    assert ticker.marketDataType == 3  # delayed: ticks 66/67/83 decoded into the same fields
    ib.cancelMktData(option)
    ib.reqMarketDataType(2)
    frozen = ib.reqMktData(Index("VIX", "CBOE", conId=13455763))
    await wait_until(lambda: frozen.marketDataType in (1, 2) and not math.isnan(frozen.last))
    assert frozen.marketDataType == 1  # the market is open: frozen requests stream live data


async def test_daily_history_for_rsi_and_macd(gateway: GatewayServer, ib: IB) -> None:
    spx = Index("SPX", "CBOE")
    await ib.qualifyContractsAsync(spx)
    bars = await ib.reqHistoricalDataAsync(spx, "", "1 Y", "1 day", "TRADES", True)
    assert len(bars) > 240
    assert bars[-1].date == MONDAY.date()
    assert all(b.low <= min(b.open, b.close) and b.high >= max(b.open, b.close) for b in bars)
    assert bars[-1].close == pytest.approx(gateway.model.state(gateway.clock.now()).spx, rel=0.01)
    front = ContFuture("VIX", "CFE")
    await ib.qualifyContractsAsync(front)
    vx1 = await ib.reqHistoricalDataAsync(front, "", "200 D", "1 day", "TRADES", True)
    assert len(vx1) > 120
    assert all(5 < b.close < 100 for b in vx1)
    future = Future("VIX", "202601", "CFE", tradingClass="VX")
    await ib.qualifyContractsAsync(future)
    own = await ib.reqHistoricalDataAsync(future, "", "1 Y", "1 day", "TRADES", True)
    assert 100 < len(own) < len(bars)  # only since the contract was listed
    hourly = await ib.reqHistoricalDataAsync(Index("VIX", "CBOE"), "", "2 D", "1 hour", "TRADES", True)
    assert len(hourly) >= 8
    errors = ErrorLog(ib)
    bad = await ib.reqHistoricalDataAsync(spx, "", "1 Y", "1 day", "MIDPOINT", True)
    assert len(bad) == 0 and 162 in errors.codes()
