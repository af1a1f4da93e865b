"""The link to the gateway fails mid-rebalance: dropped, restarted with a lower next-valid-id, down while
orders fill; or it stays up but may not trade (10197 competing session, 326 client id in use).

Each test runs the real bot and the embedded gateway in-process on one accelerated clock (speed 300: the
first Monday rebalance starts at 10:00 New York a few wall seconds in) and ends with the invariants: no
duplicate order per intent, every execution journaled exactly once, the journal chain verifies.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt

import pytest

from bot.broker.orders import Orders
from bot.control.protocol import ControlRequest
from bot.engine.order_state import IntentStatus
from bot.sim.gateway import GatewayServer
from tests.e2e.bot.fault_support import (
    alerts,
    assert_invariants,
    first_evaluation,
    gateway_bot_executions,
    ib_errors,
    listed_vix_call,
    reconciles,
    settled,
    wait_until,
)
from tests.e2e.gateway.gateway_support import connect
from tests.support.bot_harness import MONDAY, Harness, running_bot, short_tmp_dir

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

# Long walks (4 steps over 20 clock minutes, 0.8 wall s a step): the orders rest long enough to be hit mid-walk.
SLOW_WALK = {"walk_seconds": 1200.0, "walk_steps": 4}


async def mid_walk(bot: Harness) -> list[str]:
    """Run to Monday's rebalance and return once the price walks have taken a step: the intents still working."""
    await bot.fast_forward(MONDAY.replace(hour=9, minute=59, second=30))
    await bot.wait_for(lambda: any(r.payload["status"] == "Amended" for r in bot.records("status")), 30)
    store = bot.service.store
    assert store is not None
    working = [i.intent_id for i in store.intents(statuses=[IntentStatus.WORKING]) if i.role != "harvest"]
    assert working, "some opening orders should still be working mid-walk"
    return working


async def test_connection_dropped_mid_walk_resumes_the_same_orders() -> None:
    with short_tmp_dir() as tmp:
        async with running_bot(tmp, speed=300, execution=SLOW_WALK) as bot:
            working = await mid_walk(bot)
            amended_before = {r.payload["intent_id"] for r in bot.records("status") if r.payload["status"] == "Amended"}
            assert bot.gateway.faults.drop_connections() == 1
            evaluation = await first_evaluation(bot)
            await settled(bot)

            assert evaluation.rebalance and evaluation.error is None, evaluation.summary
            codes = [a.payload["code"] for a in alerts(bot.state_dir)]
            assert "link_disconnected" in codes and "link_reconnected" in codes, codes
            assert any("after reconnect" in r.payload["summary"] for r in reconciles(bot.state_dir))
            # The walks went on after the reconnect, amending the orders they had (no new order per intent).
            seqs = [r.seq for r in bot.records("alert") if r.payload["code"] == "link_reconnected"]
            amended_after = {
                r.payload["intent_id"]
                for r in bot.records("status")
                if r.payload["status"] == "Amended" and r.seq > seqs[0]
            }
            assert amended_after & set(working), (amended_after, working)
            assert amended_before
            assert not ib_errors(bot)[103], "no order id reused"
            assert bot.service.store is not None and bot.service.store.halt_state() is None
            assert_invariants(bot.state_dir, bot.gateway, store=bot.service.store)


async def test_gateway_restart_with_a_lower_next_valid_id_keeps_order_ids_rising() -> None:
    with short_tmp_dir() as tmp:
        async with running_bot(tmp, speed=300, execution=SLOW_WALK) as bot:
            await mid_walk(bot)
            book = bot.gateway.exchange.book
            before = {o.perm_id for o in book.orders.values()}
            highest_before = max(o.order_id for o in book.orders.values())
            # A restarted gateway forgets order ids: it announces 1 as the next valid id, as IB may.
            bot.gateway.faults.restart(downtime=0.5, next_valid_id=1)
            evaluation = await first_evaluation(bot)
            await settled(bot)
            # New orders after the restart either way: ladders for what the walks filled, or (when a slow
            # reconnect ran the walks out of time) the buys a forced rebalance sends for the empty slots.
            forced = await bot.control(ControlRequest(command="rebalance", force=True, reason="test: after restart"))
            await settled(bot)

            assert evaluation.rebalance and evaluation.error is None, evaluation.summary
            assert forced.ok, forced.message
            after = [o for o in book.orders.values() if o.perm_id not in before]
            assert after, "orders are placed after the restart"
            assert min(o.order_id for o in after) > highest_before, "order ids only go up"
            assert not ib_errors(bot)[103], "no duplicate order id (103)"
            # No old order was modified by accident: each kept its own orderRef, one order per intent.
            assert len({o.order_ref for o in book.orders.values()}) == len(book.orders)
            assert bot.service.store is not None and bot.service.store.halt_state() is None
            assert_invariants(bot.state_dir, bot.gateway, store=bot.service.store)


async def test_fills_while_disconnected_are_applied_at_reconciliation() -> None:
    with short_tmp_dir() as tmp:
        async with running_bot(tmp, speed=300, execution=SLOW_WALK) as bot:
            working = await mid_walk(bot)
            known = set(gateway_bot_executions(bot.gateway))
            # The gateway goes away for half a second; meanwhile VIX falls and the resting buys fill.
            bot.gateway.faults.restart(downtime=0.5)
            bot.gateway.faults.shock_vix(bot.gateway.model.state(bot.clock.now()).vix * 0.75)
            await bot.wait_for(lambda: set(gateway_bot_executions(bot.gateway)) - known, 10)
            away = set(gateway_bot_executions(bot.gateway)) - known
            evaluation = await first_evaluation(bot)
            await settled(bot)

            assert evaluation.error is None, evaluation.summary
            [after] = [r for r in reconciles(bot.state_dir) if "after reconnect" in r.payload["summary"]]
            applied = int(after.payload["summary"].split(" fills applied")[0].rsplit(" ", 1)[-1])
            assert applied == len(away), after.payload["summary"]
            # Journaled by that reconciliation: after the reconnect, before the reconciliation's own record.
            [reconnected] = [r.seq for r in bot.records("alert") if r.payload["code"] == "link_reconnected"]
            fills = {r.payload["exec_id"]: r.seq for r in bot.records("fill")}
            assert all(reconnected < fills[exec_id] < after.seq for exec_id in away), (away, fills, after.seq)
            store = bot.service.store
            assert store is not None
            # The layers moved and each filled buy got its harvest ladder after the reconnect.
            for intent_id in working:
                intent = store.intent(intent_id)
                assert intent is not None
                if intent.status == IntentStatus.FILLED:
                    layer = store.layers()[intent.slot_id]
                    assert layer is not None and layer.quantity == intent.quantity
                    assert store.intents(slot_id=intent.slot_id, role="harvest"), intent.slot_id
            assert_invariants(bot.state_dir, bot.gateway, store=store)


async def test_competing_session_10197_means_no_trading_and_is_recorded() -> None:
    with short_tmp_dir() as tmp:
        # Quote waits are bounded by half the request timeout: 1 s here, not 5.
        async with running_bot(tmp, speed=300, connection={"request_timeout_seconds": 2.0}) as bot:
            await bot.fast_forward(MONDAY.replace(hour=9, minute=55))
            bot.gateway.faults.competing_session(True)
            evaluation = await first_evaluation(bot)

            assert evaluation.error is not None and "10197" in evaluation.error, evaluation.summary
            assert not evaluation.rebalance and evaluation.orders_sent == 0
            assert not bot.gateway.exchange.book.orders, "no order reaches the gateway"
            assert not bot.records("intent"), "nothing is even journaled as an intent"
            errors = [r.payload["message"] for r in bot.records("error")]
            assert any("10197" in message for message in errors), errors
            assert any(a.payload["code"] == "trading_blocked" for a in alerts(bot.state_dir))
            assert not bot.service.broker.connection.may_trade
            assert_invariants(bot.state_dir, bot.gateway, store=bot.service.store)


async def test_client_id_in_use_326_keeps_the_bot_read_only() -> None:
    with short_tmp_dir() as tmp:
        async with running_bot(tmp, speed=300, connection={"connect_timeout_seconds": 2.0}) as bot:
            await bot.fast_forward(MONDAY.replace(hour=9, minute=55))
            # Another API session grabs client id 17 while the bot's connection drops.
            bot.gateway.faults.client_id_in_use(17)
            bot.gateway.faults.drop_connections()
            evaluation = await first_evaluation(bot)

            connection = bot.service.broker.connection
            assert connection.readonly and connection.client_id == 1017, (connection.readonly, connection.client_id)
            assert [s.client_id for s in bot.gateway.ready_sessions()] == [1017]
            assert evaluation.orders_sent == 0 and not evaluation.rebalance, evaluation.summary
            assert evaluation.outcomes and all(o.status == "refused" for o in evaluation.outcomes)
            assert all("326" in o.message for o in evaluation.outcomes), evaluation.outcomes
            assert not bot.gateway.exchange.book.orders, "a read-only bot sends no order"
            assert any(a.payload["code"] == "read_only" for a in alerts(bot.state_dir))
            assert_invariants(bot.state_dir, bot.gateway, store=bot.service.store)


async def test_an_order_placed_after_reconnecting_never_reuses_an_id() -> None:
    """ib_async keeps new ids above the open orders it is shown on connecting, not above completed ones. An
    order placed between a reconnect and the reconciliation that follows it (a harvest ladder after a fill)
    must still get an id above every id used before, whatever the restarted gateway announced."""
    gateway = GatewayServer(scenario="default", seed=1, start=MONDAY.replace(hour=10, minute=30), speed=60)
    await gateway.start()
    try:
        ib = await connect(gateway.port, client_id=17)
        try:
            orders = Orders(ib, 10.0, account=ib.managedAccounts()[0])
            contract = await listed_vix_call(ib, MONDAY.date() + dt.timedelta(days=30), 20.0)
            [ticker] = await ib.reqTickersAsync(contract)
            assert ticker.bid > 0, ticker
            ib.client.updateReqId(500)  # a session that has been up for a while has used many request ids
            first = orders.place(contract, "BUY", 1, ticker.bid, "DAY", "alvh-test-first")
            await wait_until(lambda: first.orderStatus.status == "Submitted", 10, "the first order to rest")
            orders.cancel(first)
            await wait_until(lambda: first.orderStatus.status == "Cancelled", 10, "the first order's cancel")

            gateway.faults.restart(downtime=0.2, next_valid_id=1)  # a restarted gateway forgot the ids
            await wait_until(lambda: not ib.isConnected(), 10, "the drop")
            for _ in range(50):
                with contextlib.suppress(ConnectionError, OSError, TimeoutError):
                    await ib.connectAsync("127.0.0.1", gateway.port, clientId=17, timeout=5)
                    break
                await asyncio.sleep(0.1)
            assert ib.isConnected()
            assert ib.client._reqIdSeq < first.order.orderId, "the gateway announced a lower next valid id"

            errors: list[int] = []
            ib.errorEvent += lambda req_id, code, *_: errors.append(code)
            second = orders.place(contract, "BUY", 1, ticker.bid, "DAY", "alvh-test-second")
            await wait_until(lambda: second.orderStatus.status == "Submitted", 10, "the second order to rest")
            assert second.order.orderId > first.order.orderId, "order ids only go up"
            assert 103 not in errors and 104 not in errors, errors
            by_ref = {o.order_ref: o for o in gateway.exchange.book.orders.values()}
            assert set(by_ref) == {"alvh-test-first", "alvh-test-second"}
            assert by_ref["alvh-test-first"].status == "Cancelled" and by_ref["alvh-test-second"].is_active
        finally:
            ib.disconnect()
    finally:
        await gateway.stop()
