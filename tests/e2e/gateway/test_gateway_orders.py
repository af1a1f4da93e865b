"""ib_async over TCP: place, modify, cancel and fill orders; executions, commissions, positions, what-if."""

from __future__ import annotations

import math

import pytest
from ib_async import IB, ExecutionFilter, LimitOrder, MarketOrder, Option, Order

from bot.sim.gateway import GatewayServer
from bot.sim.listings import round_to_tick
from tests.e2e.gateway.gateway_support import ErrorLog, quote, vix_call, wait_until

pytestmark = pytest.mark.e2e


async def test_place_modify_fill_with_executions_commissions_positions(gateway: GatewayServer, ib: IB) -> None:
    option = await vix_call(ib)
    bid, _ = await quote(ib, option)
    low = round_to_tick(110, bid * 0.5, "down")
    order = LimitOrder("BUY", 2, low, tif="GTC", orderRef="alvh:intent:0001", account="DU1234567")
    trade = ib.placeOrder(option, order)
    await wait_until(lambda: trade.orderStatus.status == "Submitted")
    assert trade.order.permId > 0
    assert [t.order.orderRef for t in ib.openTrades()] == ["alvh:intent:0001"]
    assert gateway.exchange.book.orders[trade.order.permId].order_ref == "alvh:intent:0001"

    # Modify through the same order id: now marketable, it fills at the touch.
    _, ask = await quote(ib, option)
    order.lmtPrice = round_to_tick(110, ask + 0.20, "up")
    ib.placeOrder(option, order)
    await wait_until(lambda: trade.orderStatus.status == "Filled")
    assert trade.orderStatus.filled == 2 and trade.orderStatus.remaining == 0
    assert len(trade.fills) == 1
    fill = trade.fills[0]
    assert fill.execution.price <= order.lmtPrice
    assert fill.execution.orderRef == "alvh:intent:0001"
    assert fill.execution.permId == trade.order.permId
    assert fill.execution.side == "BOT" and fill.execution.shares == 2
    await wait_until(lambda: fill.commissionReport.commission > 0)
    assert fill.commissionReport.commission == pytest.approx(2.10)
    assert [entry.status for entry in trade.log][:2] == ["PendingSubmit", "Submitted"]
    await wait_until(lambda: any(p.contract.conId == option.conId for p in ib.positions()))
    position = next(p for p in ib.positions() if p.contract.conId == option.conId)
    assert position.position == 2
    assert position.avgCost == pytest.approx(fill.execution.price * 100 + 1.05)

    fills = await ib.reqExecutionsAsync(ExecutionFilter(symbol="VIX"))
    assert [f.execution.execId for f in fills] == [fill.execution.execId]
    assert fills[0].execution.orderRef == "alvh:intent:0001"
    completed = await ib.reqCompletedOrdersAsync(False)
    [done] = [t for t in completed if t.order.permId == trade.order.permId]
    assert done.order.orderRef == "alvh:intent:0001" and done.orderStatus.status == "Filled"
    assert done.order.filledQuantity == 2


async def test_cancel_and_global_cancel(ib: IB) -> None:
    errors = ErrorLog(ib)
    option = await vix_call(ib)
    bid, ask = await quote(ib, option)
    far = round_to_tick(110, ask * 3, "up")
    sell = ib.placeOrder(option, LimitOrder("SELL", 1, far, tif="GTC", orderRef="r-sell"))
    buy = ib.placeOrder(
        option, LimitOrder("BUY", 1, round_to_tick(110, bid * 0.5, "down"), tif="DAY", orderRef="r-buy")
    )
    third = ib.placeOrder(
        option, LimitOrder("BUY", 1, round_to_tick(110, bid * 0.4, "down"), tif="GTC", orderRef="r-3")
    )
    await wait_until(lambda: all(t.orderStatus.status == "Submitted" for t in (sell, buy, third)))
    ib.cancelOrder(sell.order)
    await wait_until(lambda: sell.orderStatus.status == "Cancelled")
    assert (sell.order.orderId, 202) in [(req_id, code) for req_id, code, _ in errors.entries]
    open_trades = await ib.reqOpenOrdersAsync()
    assert sorted(t.order.orderRef for t in open_trades) == ["r-3", "r-buy"]
    ib.reqGlobalCancel()
    await wait_until(lambda: buy.orderStatus.status == third.orderStatus.status == "Cancelled")
    assert await ib.reqAllOpenOrdersAsync() == []
    # Cancelling again: IB says it cannot.
    ib.client.cancelOrder(third.order.orderId)
    await wait_until(lambda: 10148 in errors.codes())


async def test_what_if_order(ib: IB) -> None:
    option = await vix_call(ib)
    _, ask = await quote(ib, option)
    state = await ib.whatIfOrderAsync(option, LimitOrder("BUY", 3, ask))
    assert state.commission == pytest.approx(3.15)
    assert float(state.initMarginChange) == 0.0  # a long option is paid in full
    assert float(state.equityWithLoanAfter) < float(state.equityWithLoanBefore)
    naked = await ib.whatIfOrderAsync(option, LimitOrder("SELL", 3, ask))
    assert float(naked.initMarginChange) > 0
    assert ib.openTrades() == []  # nothing was placed


async def test_rejections_use_ib_codes(gateway: GatewayServer, ib: IB) -> None:
    errors = ErrorLog(ib)
    option = await vix_call(ib, strike=12.0)  # deep in the money: priced above $3, ticks of 0.05
    _, ask = await quote(ib, option)
    assert ask >= 3
    off_tick = ib.placeOrder(option, LimitOrder("BUY", 1, round(ask + 0.01, 2)))  # 0.05 ticks above $3
    await wait_until(lambda: off_tick.orderStatus.status == "Cancelled")
    assert 110 in errors.codes()
    huge = ib.placeOrder(option, LimitOrder("BUY", 100_000, ask))
    await wait_until(lambda: huge.orderStatus.status == "Cancelled")
    assert 201 in errors.codes()
    unknown = Option("VIX", "20251125", 20, "C", "SMART", conId=0)
    ghost = ib.placeOrder(unknown, LimitOrder("BUY", 1, 1.0))
    await wait_until(lambda: ghost.orderStatus.status == "Cancelled")
    assert 200 in errors.codes()
    stop = Order(action="BUY", totalQuantity=1, orderType="STP", auxPrice=1.0)
    stopped = ib.placeOrder(option, stop)
    await wait_until(lambda: stopped.orderStatus.status == "Cancelled")
    assert 387 in errors.codes()
    assert gateway.exchange.book.active() == []


async def test_market_order_and_resting_sell_filled_by_a_spike(gateway: GatewayServer, ib: IB) -> None:
    option = await vix_call(ib, index=0, strike=25.0)
    buy = ib.placeOrder(option, MarketOrder("BUY", 3, orderRef="layer"))
    await wait_until(lambda: buy.orderStatus.status == "Filled")
    entry = buy.orderStatus.avgFillPrice
    target = round_to_tick(110, max(entry * 5, entry + 0.5), "up")
    harvest = ib.placeOrder(option, LimitOrder("SELL", 3, target, tif="GTC", orderRef="harvest"))
    await wait_until(lambda: harvest.orderStatus.status == "Submitted")
    gateway.faults.shock_vix(60.0, half_life_days=3)
    await wait_until(lambda: harvest.orderStatus.status == "Filled", timeout=10)
    [fill] = harvest.fills
    assert fill.execution.price == pytest.approx(target)  # a resting order fills at its limit
    assert fill.execution.orderRef == "harvest"
    await wait_until(lambda: fill.commissionReport.realizedPNL != 0)
    assert fill.commissionReport.realizedPNL == pytest.approx((target - entry) * 300 - 2 * 3.15, abs=0.05)
    await wait_until(lambda: all(p.contract.conId != option.conId for p in ib.positions()))
    assert not math.isnan(fill.execution.price)


async def test_ioc_and_partial_fills(gateway: GatewayServer, ib: IB) -> None:
    option = await vix_call(ib)
    bid, _ = await quote(ib, option)
    missed = ib.placeOrder(option, LimitOrder("BUY", 1, round_to_tick(110, bid * 0.5, "down"), tif="IOC"))
    await wait_until(lambda: missed.orderStatus.status == "Cancelled")
    assert missed.fills == []
    gateway.faults.partial_fills(True)
    big = ib.placeOrder(option, MarketOrder("BUY", 1500, orderRef="big"))
    await wait_until(lambda: big.orderStatus.status == "Filled", timeout=10)
    assert len(big.fills) >= 2  # filled in slices of the displayed size
    assert sum(f.execution.shares for f in big.fills) == 1500
    assert big.fills[-1].execution.cumQty == 1500
    assert max(f.execution.shares for f in big.fills) <= 400
