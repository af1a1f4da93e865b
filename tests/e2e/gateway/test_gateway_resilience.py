"""Reconnects and restarts: GTC orders, positions, executions and permIds survive; fills while away are found."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from ib_async import IB, LimitOrder, MarketOrder

from bot.sim.gateway import GatewayConfigError, GatewayServer
from bot.sim.listings import round_to_tick
from bot.sim.state import load_state
from tests.e2e.gateway.gateway_support import MONDAY, NY, SPEED, connect, quote, vix_call, wait_until

pytestmark = pytest.mark.e2e


async def test_reconnect_keeps_gtc_orders_and_finds_a_fill_made_while_away(gateway: GatewayServer, ib: IB) -> None:
    option = await vix_call(ib, index=0, strike=25.0)
    entry = ib.placeOrder(option, MarketOrder("BUY", 2, orderRef="alvh:open"))
    await wait_until(lambda: entry.orderStatus.status == "Filled")
    price = entry.orderStatus.avgFillPrice
    harvest = ib.placeOrder(
        option, LimitOrder("SELL", 2, round_to_tick(110, price * 4, "up"), tif="GTC", orderRef="alvh:harvest")
    )
    bid, _ = await quote(ib, option)
    resting = ib.placeOrder(
        option, LimitOrder("BUY", 1, round_to_tick(110, bid * 0.3, "down"), tif="GTC", orderRef="alvh:bid")
    )
    await wait_until(lambda: harvest.orderStatus.status == resting.orderStatus.status == "Submitted")
    harvest_perm, resting_perm = harvest.order.permId, resting.order.permId

    gateway.faults.drop_connections()
    await wait_until(lambda: not ib.isConnected())
    gateway.faults.shock_vix(65.0, half_life_days=2)  # the spike fills the harvest while the bot is away
    await wait_until(lambda: gateway.exchange.book.orders[harvest_perm].status == "Filled")

    again = await connect(gateway.port)
    try:
        open_trades = again.openTrades()
        assert [(t.order.permId, t.order.orderRef, t.order.orderId) for t in open_trades] == [
            (resting_perm, "alvh:bid", resting.order.orderId)
        ]
        assert all(p.contract.conId != option.conId for p in again.positions())
        fills = await again.reqExecutionsAsync()
        by_ref = {f.execution.orderRef: f for f in fills}
        assert set(by_ref) == {"alvh:open", "alvh:harvest"}
        assert by_ref["alvh:harvest"].execution.permId == harvest_perm
        # ib_async keeps the commission report on the fill it saw first (its startup sync).
        synced = {f.execution.execId: f for f in again.fills()}
        assert synced[by_ref["alvh:harvest"].execution.execId].commissionReport.realizedPNL > 0
        completed = {t.order.permId: t for t in await again.reqCompletedOrdersAsync(False)}
        assert completed[harvest_perm].orderStatus.status == "Filled"
        assert completed[harvest_perm].order.orderRef == "alvh:harvest"
        # New order ids continue above every id this client used.
        assert again.client.getReqId() > max(harvest.order.orderId, resting.order.orderId)
    finally:
        again.disconnect()


async def test_restart_with_state_file_keeps_orders_positions_and_perm_ids(tmp_path: Path) -> None:
    state = tmp_path / "gateway.json"
    first = GatewayServer(port=0, seed=3, start=MONDAY, speed=SPEED, state_path=state)
    await first.start()
    ib = await connect(first.port)
    option = await vix_call(ib)
    bought = ib.placeOrder(option, MarketOrder("BUY", 1, orderRef="intent-A"))
    await wait_until(lambda: bought.orderStatus.status == "Filled")
    bid, _ = await quote(ib, option)
    gtc = ib.placeOrder(
        option, LimitOrder("BUY", 2, round_to_tick(110, bid * 0.4, "down"), tif="GTC", orderRef="intent-B")
    )
    await wait_until(lambda: gtc.orderStatus.status == "Submitted")
    # What a crash leaves behind: the file as written after the last event (the gateway keeps running).
    crashed = tmp_path / "crashed.json"
    shutil.copy(state, crashed)
    crash_time = load_state(crashed).clock_time  # type: ignore[union-attr]
    clock_before = first.clock.now()
    ib.disconnect()
    await first.stop()

    # A clean stop saves the clock as it stood; after a crash the clock resumes from its last save.
    for path, resumes_from in ((state, clock_before), (crashed, crash_time)):
        second = GatewayServer(port=0, seed=3, speed=SPEED, state_path=path)
        await second.start()
        try:
            client = await connect(second.port)
            [trade] = client.openTrades()
            assert (trade.order.permId, trade.order.orderRef, trade.order.orderId, trade.order.clientId) == (
                gtc.order.permId,
                "intent-B",
                gtc.order.orderId,
                1,
            )
            assert trade.orderStatus.status == "Submitted"
            position = next(p for p in client.positions() if p.contract.conId == option.conId)
            assert position.position == 1
            [fill] = [f for f in await client.reqExecutionsAsync() if f.contract.conId == option.conId]
            assert (fill.execution.orderRef, fill.execution.permId) == ("intent-A", bought.order.permId)
            assert second.clock.now() >= resumes_from
            new = client.placeOrder(option, LimitOrder("BUY", 1, 0.05, tif="GTC", orderRef="intent-C"))
            await wait_until(lambda new=new: new.orderStatus.status == "Submitted")  # type: ignore[misc]
            assert new.order.permId > gtc.order.permId
            assert new.order.orderId > gtc.order.orderId
            client.disconnect()
        finally:
            await second.stop()

    with pytest.raises(GatewayConfigError, match="seed 3"):
        GatewayServer(port=0, seed=4, state_path=state)


async def test_gtc_order_rests_through_the_night_and_works_at_the_open() -> None:
    server = GatewayServer(port=0, start=dt.datetime(2025, 11, 24, 16, 13, tzinfo=NY), speed=1800, daily_restart=False)
    await server.start()
    try:
        ib = await connect(server.port)
        option = await vix_call(ib)
        await wait_until(lambda: not server.model.in_session(server.clock.now()), timeout=5)
        _, ask = await quote(ib, option)
        late = ib.placeOrder(option, LimitOrder("BUY", 1, round_to_tick(110, ask * 1.5, "up"), tif="GTC"))
        await wait_until(lambda: late.orderStatus.status == "PreSubmitted")  # held while the market is closed
        await wait_until(lambda: late.orderStatus.status == "Filled", timeout=10)
        assert late.fills[0].execution.time.astimezone(NY).time() >= dt.time(9, 30)
        ib.disconnect()
    finally:
        await server.stop()
