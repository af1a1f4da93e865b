"""Each fault is observable by the unmodified ib_async client the way a real gateway would show it."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from typing import Any

import pytest
from ib_async import IB, Index, LimitOrder

from bot.sim.gateway import GatewayServer
from bot.sim.listings import round_to_tick
from tests.e2e.gateway.gateway_support import NY, ErrorLog, connect, quote, vix_call, wait_until

pytestmark = pytest.mark.e2e


async def test_drop_and_refuse_connections(gateway: GatewayServer, ib: IB) -> None:
    dropped = asyncio.Event()
    ib.disconnectedEvent += dropped.set
    assert gateway.faults.drop_connections() == 1
    await asyncio.wait_for(dropped.wait(), 5)
    assert not ib.isConnected()
    gateway.faults.refuse_connections(0.6)
    with pytest.raises(ConnectionRefusedError):
        await connect(gateway.port)
    await asyncio.sleep(0.8)
    again = await connect(gateway.port)
    assert again.isConnected()
    again.disconnect()


async def test_client_id_in_use_gets_326(gateway: GatewayServer, ib: IB) -> None:
    second = IB()
    errors = ErrorLog(second)
    # The gateway answers 326 and closes; ib_async then gives up on the handshake.
    with pytest.raises((ConnectionError, TimeoutError)):
        await second.connectAsync("127.0.0.1", gateway.port, clientId=1, timeout=1)
    assert 326 in errors.codes()
    assert ib.isConnected()  # the session holding the id is untouched
    gateway.faults.client_id_in_use(9)
    phantom = IB()
    phantom_errors = ErrorLog(phantom)
    with pytest.raises((ConnectionError, TimeoutError)):
        await phantom.connectAsync("127.0.0.1", gateway.port, clientId=9, timeout=1)
    assert 326 in phantom_errors.codes()


async def test_connectivity_lost_then_restored_with_data_kept_or_lost(gateway: GatewayServer, ib: IB) -> None:
    errors = ErrorLog(ib)
    option = await vix_call(ib)
    ticker = ib.reqMktData(option)
    await wait_until(lambda: ticker.modelGreeks is not None)
    gateway.faults.connectivity_lost()
    await wait_until(lambda: 1100 in errors.codes())
    bid, ask = await asyncio.wait_for(asyncio.shield(asyncio.sleep(0.1, result=(ticker.bid, ticker.ask))), 1)
    updates = 0

    def count(_: object) -> None:
        nonlocal updates
        updates += 1

    ticker.updateEvent += count
    # An order sent during the outage waits for the connection to IB.
    trade = ib.placeOrder(option, LimitOrder("BUY", 1, round_to_tick(110, bid * 0.5, "down"), tif="GTC"))
    await asyncio.sleep(0.4)
    assert updates == 0 and trade.orderStatus.status == "PendingSubmit"
    gateway.faults.connectivity_restored(data_lost=False)
    await wait_until(lambda: 1102 in errors.codes() and trade.orderStatus.status == "Submitted")
    await wait_until(lambda: updates > 0)  # data maintained: the line streams again

    gateway.faults.connectivity_lost(restore_after=0.2, data_lost=True)
    await wait_until(lambda: 1101 in errors.codes())
    assert gateway.market_data_lines_in_use() == 0  # data lost: resubscribe
    ib.cancelMktData(option)
    fresh = ib.reqMktData(option)
    await wait_until(lambda: fresh.modelGreeks is not None)
    assert not math.isnan(ask)


async def test_withheld_and_delayed_responses(gateway: GatewayServer, ib: IB) -> None:
    gateway.faults.withhold_responses("reqExecutions", count=1)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(ib.reqExecutionsAsync(), 0.5)
    assert await asyncio.wait_for(ib.reqExecutionsAsync(), 2) == []  # only one was withheld

    gateway.faults.delay_responses("reqContractDetails", 0.5, count=1)
    started = asyncio.get_running_loop().time()
    [vix] = await ib.qualifyContractsAsync(Index("VIX", "CBOE"))
    assert vix is not None and asyncio.get_running_loop().time() - started >= 0.45

    # A withheld placeOrder is working at the exchange, only never acknowledged.
    option = await vix_call(ib)
    bid, _ = await quote(ib, option)
    gateway.faults.withhold_responses("placeOrder", count=1)
    trade = ib.placeOrder(
        option, LimitOrder("BUY", 1, round_to_tick(110, bid * 0.5, "down"), tif="GTC", orderRef="lost-ack")
    )
    await asyncio.sleep(0.3)
    assert trade.orderStatus.status == "PendingSubmit"
    [working] = await ib.reqOpenOrdersAsync()
    assert working.order.orderRef == "lost-ack" and working.order.permId > 0


async def test_duplicate_execution_reports(gateway: GatewayServer, ib: IB) -> None:
    seen: list[str] = []
    original = ib.wrapper.execDetails

    def spy(req_id: int, contract: Any, execution: Any) -> None:
        seen.append(execution.execId)
        original(req_id, contract, execution)

    ib.wrapper.execDetails = spy  # type: ignore[method-assign]
    gateway.faults.duplicate_executions(count=1)
    option = await vix_call(ib)
    _, ask = await quote(ib, option)
    trade = ib.placeOrder(option, LimitOrder("BUY", 1, round_to_tick(110, ask + 0.10, "up")))
    await wait_until(lambda: trade.orderStatus.status == "Filled" and len(seen) == 2)
    assert seen[0] == seen[1]
    assert len(trade.fills) == 1  # the client dedupes by execId


async def test_lower_next_valid_id_after_restart_and_duplicate_order_id(gateway: GatewayServer, ib: IB) -> None:
    option = await vix_call(ib)
    other = await vix_call(ib, strike=22.0)
    bid, _ = await quote(ib, option)
    resting = ib.placeOrder(option, LimitOrder("BUY", 1, round_to_tick(110, bid * 0.5, "down"), tif="GTC"))
    await wait_until(lambda: resting.orderStatus.status == "Submitted")
    used_id = resting.order.orderId
    gateway.faults.restart(downtime=0.2, next_valid_id=1)
    await wait_until(lambda: not ib.isConnected())
    await asyncio.sleep(0.3)
    announced: list[int] = []
    client = IB()
    client.wrapper.nextValidId = announced.append  # type: ignore[method-assign]
    errors = ErrorLog(client)
    await client.connectAsync("127.0.0.1", gateway.port, clientId=1, timeout=5)
    assert announced == [1]
    # A client that trusted the lower id and reused an old one for a different contract gets 103.
    order = LimitOrder("BUY", 1, 0.05)
    order.orderId = used_id
    client.client.placeOrder(used_id, other, order)
    await wait_until(lambda: 103 in errors.codes())
    assert gateway.exchange.book.orders[resting.order.permId].con_id == option.conId  # untouched
    client.disconnect()


async def test_reject_next_order(gateway: GatewayServer, ib: IB) -> None:
    errors = ErrorLog(ib)
    option = await vix_call(ib)
    _, ask = await quote(ib, option)
    gateway.faults.reject_next_order()
    rejected = ib.placeOrder(option, LimitOrder("BUY", 1, ask))
    await wait_until(lambda: rejected.orderStatus.status == "Cancelled")
    assert (rejected.order.orderId, 201) in [(r, c) for r, c, _ in errors.entries]
    accepted = ib.placeOrder(option, LimitOrder("BUY", 1, ask))
    await wait_until(lambda: accepted.orderStatus.status == "Filled")


async def test_bad_quotes(gateway: GatewayServer, ib: IB) -> None:
    strikes = (20.0, 21.0, 22.0, 23.0)
    nan_call, empty_call, absent_call, crossed_call = [await vix_call(ib, strike=s) for s in strikes]
    gateway.faults.bad_quotes(nan_call.conId, "nan")
    gateway.faults.bad_quotes(empty_call.conId, "empty")
    gateway.faults.bad_quotes(absent_call.conId, "absent")
    gateway.faults.bad_quotes(crossed_call.conId, "crossed")
    nan_ticker, empty_ticker, absent_ticker, crossed_ticker = (
        ib.reqMktData(c) for c in (nan_call, empty_call, absent_call, crossed_call)
    )
    await wait_until(lambda: empty_ticker.modelGreeks is not None and not math.isnan(crossed_ticker.bid))
    await wait_until(lambda: nan_ticker.modelGreeks is not None)
    await asyncio.sleep(0.3)
    assert math.isnan(nan_ticker.bid) and math.isnan(nan_ticker.ask) and nan_ticker.bidSize > 0
    assert nan_ticker.modelGreeks is not None and math.isnan(nan_ticker.modelGreeks.delta or 0.0)
    # IB's "no quote": price -1 with size 0, which ib_async 2.x shows as its empty price (-1).
    assert empty_ticker.bid == ib.wrapper.defaultEmptyPrice and empty_ticker.bidSize == ib.wrapper.defaultEmptySize
    assert empty_ticker.modelGreeks is not None and empty_ticker.modelGreeks.delta is None
    assert math.isnan(absent_ticker.bid) and absent_ticker.modelGreeks is None
    assert crossed_ticker.bid > crossed_ticker.ask
    gateway.faults.bad_quotes(nan_call.conId, None)
    await wait_until(lambda: not math.isnan(nan_ticker.bid) and nan_ticker.bid > 0)


async def test_competing_session_10197(gateway: GatewayServer, ib: IB) -> None:
    errors = ErrorLog(ib)
    option = await vix_call(ib)
    gateway.faults.competing_session(True)
    ticker = ib.reqMktData(option)
    await wait_until(lambda: 10197 in errors.codes())
    await asyncio.sleep(0.3)
    assert ticker.modelGreeks is None and math.isnan(ticker.bid)
    gateway.faults.competing_session(False)
    await wait_until(lambda: ticker.modelGreeks is not None)


async def test_pacing_and_market_data_line_limits(gateway: GatewayServer, ib: IB) -> None:
    errors = ErrorLog(ib)
    ib.client.MaxRequests = 0  # switch off the client's own throttle
    for _ in range(70):
        ib.client.reqCurrentTime()
    await wait_until(lambda: 100 in errors.codes())
    assert ib.isConnected()  # 70 in a second: error 100, not yet a disconnect
    await asyncio.sleep(1.1)
    gateway.faults.set_market_data_lines(2)
    options = [await vix_call(ib, strike=s) for s in (18.0, 19.0, 20.0)]
    for option in options:
        ib.reqMktData(option)
    await wait_until(lambda: 101 in errors.codes())
    assert gateway.market_data_lines_in_use() == 2


async def test_delayed_only_entitlement(gateway: GatewayServer, ib: IB) -> None:
    errors = ErrorLog(ib)
    gateway.faults.delayed_data_only(True)
    ticker = ib.reqMktData(Index("VIX", "CBOE", conId=13455763))
    await wait_until(lambda: ticker.marketDataType == 3 and not math.isnan(ticker.last))
    assert 10167 in errors.codes()


async def test_nightly_reset_drops_connections_and_day_orders_expire() -> None:
    start = dt.datetime(2025, 11, 24, 16, 10, tzinfo=NY)
    server = GatewayServer(port=0, start=start, speed=600, restart_downtime=0.2)
    await server.start()
    try:
        ib = await connect(server.port)
        option = await vix_call(ib)
        day = ib.placeOrder(option, LimitOrder("BUY", 1, 0.05, tif="DAY", orderRef="day"))
        gtc = ib.placeOrder(option, LimitOrder("BUY", 1, 0.05, tif="GTC", orderRef="gtc"))
        await wait_until(lambda: day.orderStatus.status == gtc.orderStatus.status == "Submitted")
        # 16:15 close: the DAY order expires; 16:30 the clock jumps over the night and the reset window.
        await wait_until(lambda: day.orderStatus.status == "Cancelled", timeout=5)
        await wait_until(lambda: not ib.isConnected(), timeout=5)
        await asyncio.sleep(0.4)
        again = await connect(server.port)
        assert (await again.reqCurrentTimeAsync()).astimezone(NY).date() == dt.date(2025, 11, 25)
        assert [t.order.orderRef for t in await again.reqOpenOrdersAsync()] == ["gtc"]
        again.disconnect()
    finally:
        await server.stop()
