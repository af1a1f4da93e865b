"""Scenarios end to end: a spike fills resting harvest orders, a replay follows the history files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from ib_async import IB, Index, LimitOrder, MarketOrder

from bot.sim.gateway import GatewayServer
from bot.sim.listings import round_to_tick
from bot.sim.scenarios import REPO_SHARED_DATA
from tests.e2e.gateway.gateway_support import NY, connect, vix_call, wait_until

pytestmark = pytest.mark.e2e


async def test_spike_fills_the_resting_harvest_ladder(tmp_path: Path) -> None:
    scenario = tmp_path / "quick_spike.toml"
    scenario.write_text('base = "spike"\n[[spikes]]\nafter_sessions = 0\nrise_sessions = 1\npeak = 45\n')
    start = dt.datetime(2025, 11, 24, 15, 50, tzinfo=NY)
    server = GatewayServer(port=0, scenario=str(scenario), start=start, speed=12_000, daily_restart=False)
    await server.start()
    try:
        ib = await connect(server.port)
        option = await vix_call(ib, index=1, strike=22.0)
        entry = ib.placeOrder(option, MarketOrder("BUY", 3, orderRef="layer"))
        await wait_until(lambda: entry.orderStatus.status == "Filled")
        price = entry.orderStatus.avgFillPrice
        ladder = [
            ib.placeOrder(
                option, LimitOrder("SELL", 1, round_to_tick(110, price * k, "up"), tif="GTC", orderRef=f"x{k}")
            )
            for k in (2, 3, 4)
        ]
        # At 12,000x a slow machine may see the spike fill an order before the whole ladder reports resting.
        await wait_until(lambda: all(t.orderStatus.status in ("Submitted", "Filled") for t in ladder))
        # Overnight the clock jumps; the next session's spike fills the ladder without any client action.
        await wait_until(lambda: all(t.orderStatus.status == "Filled" for t in ladder), timeout=15)
        assert [t.fills[0].execution.price for t in ladder] == [t.order.lmtPrice for t in ladder]
        assert server.model.state(server.clock.now()).vix > 25
        assert all(p.contract.conId != option.conId for p in ib.positions())
        ib.disconnect()
    finally:
        await server.stop()


async def test_replay_scenario_streams_the_history() -> None:
    if not REPO_SHARED_DATA.is_dir():
        pytest.skip(f"shared history data not found at {REPO_SHARED_DATA}")
    start = dt.datetime(2018, 2, 5, 15, 59, tzinfo=NY)
    server = GatewayServer(port=0, scenario="replay", start=start, speed=1)
    await server.start()
    try:
        ib = await connect(server.port)
        vix = Index("VIX", "CBOE")
        await ib.qualifyContractsAsync(vix)
        [ticker] = await ib.reqTickersAsync(vix)
        assert ticker.high == pytest.approx(38.80, abs=0.01)  # 2018-02-05: high 38.80, close 37.32
        assert 30 < ticker.last < 38.81
        bars = await ib.reqHistoricalDataAsync(
            vix, "20180202 16:15:00 America/New_York", "5 D", "1 day", "TRADES", True
        )
        assert [round(b.close, 2) for b in bars][-2:] == [13.47, 17.31]
        ib.disconnect()
    finally:
        await server.stop()


async def test_keep_up_to_date_bars(tmp_path: Path) -> None:
    server = GatewayServer(port=0, start=dt.datetime(2025, 11, 24, 11, 0, tzinfo=NY), speed=600)
    await server.start()
    try:
        ib: IB = await connect(server.port)
        vix = Index("VIX", "CBOE")
        await ib.qualifyContractsAsync(vix)
        bars = await ib.reqHistoricalDataAsync(vix, "", "1 D", "5 mins", "TRADES", True, keepUpToDate=True)
        first_count = len(bars)
        updates: list[bool] = []
        bars.updateEvent += lambda _bars, has_new: updates.append(has_new)
        await wait_until(lambda: any(updates), timeout=5)
        assert len(bars) > first_count
        ib.cancelHistoricalData(bars)
        ib.disconnect()
    finally:
        await server.stop()
