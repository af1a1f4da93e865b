"""The bot process killed mid-order, then restarted: exactly one order per intent at the gateway, nothing lost.

The bot runs as ``alvh run --clock gateway`` (a child process) against a paper gateway in the test's event
loop. It is killed with SIGKILL at a named crash point (``ALVH_TEST_CRASH_POINT``) or by the test while the
gateway withholds order acknowledgements, then started again on the same state directory; its startup
reconciliation must resolve every intent by orderRef, never by resending blindly.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import signal
from pathlib import Path
from typing import Any

import pytest

from bot.control.client import send
from bot.control.protocol import ControlRequest
from bot.engine.order_state import IntentStatus
from bot.sim.gateway import GatewayServer
from bot.store.database import Store
from tests.e2e.bot.fault_support import (
    assert_invariants,
    bot_positions,
    gateway_bot_executions,
    journal_fill_ids,
    journal_sent_per_intent,
    paper_gateway,
    reconciles,
    start_bot,
    wait_until,
)
from tests.support.bot_harness import MONDAY, BotProcess, gateway_orders_per_ref, journal_records, short_tmp_dir

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

SPEED = 30.0  # a 60 clock-second price walk takes 2 s of wall time
OPENED = MONDAY.replace(minute=50)  # inside the trading window (the open plus 15 minutes)


async def control(state: Path, request: ControlRequest, timeout: float = 60.0) -> Any:
    return await asyncio.to_thread(send, state, request, timeout)


def request_rebalance(state: Path) -> asyncio.Future[Any]:
    """Ask for a rebalance now; the answer is lost when the bot dies on the way (that is the point)."""
    future = asyncio.ensure_future(control(state, ControlRequest(command="rebalance")))
    future.add_done_callback(lambda f: f.exception())  # a killed bot closes the socket unanswered
    return future


async def killed_at_crash_point(bot: BotProcess) -> None:
    await wait_until(lambda: not bot.alive(), 60, "the bot to kill itself at its crash point")
    assert bot.process is not None and bot.process.returncode == -signal.SIGKILL, bot.log()[-3000:]


async def crashed_at(state: Path, gateway: GatewayServer, point: str, cleanup: contextlib.ExitStack) -> str:
    """Start the bot with a crash point, ask for a rebalance, wait for the kill; the one intent it journaled."""
    bot = await start_bot(state, gateway.port, point)
    cleanup.callback(bot.kill)
    request_rebalance(state)
    await killed_at_crash_point(bot)
    [intent] = journal_records(state, "intent")
    return str(intent.payload["intent_id"])


def startup_report(state: Path) -> dict[str, Any]:
    """The latest startup reconciliation: its summary and details."""
    records = [r for r in reconciles(state) if "after startup" in r.payload["summary"]]
    assert records, "no startup reconciliation was journaled"
    payload = records[-1].payload
    return {"summary": payload["summary"], "intent_ids": payload["intent_ids"], **payload["details"]}


def stored_intent(state: Path, intent_id: str) -> Any:
    with Store.open(state / "state.sqlite") as store:
        return store.intent(intent_id)


async def stop_bot(bot: BotProcess, gateway: GatewayServer, state: Path) -> dt.datetime:
    """Let the bot journal every execution made so far, then stop it with SIGTERM; returns the cut-off."""
    cutoff = gateway.clock.now()
    await wait_until(
        lambda: set(gateway_bot_executions(gateway, cutoff)) <= set(journal_fill_ids(state)),
        30,
        "every execution up to now journaled",
    )
    assert await asyncio.to_thread(bot.terminate) == 0, bot.log()[-3000:]
    return cutoff


async def test_crash_between_journal_and_send_sends_the_intent_once_after_recovery() -> None:
    with short_tmp_dir() as tmp, contextlib.ExitStack() as cleanup:
        async with paper_gateway(tmp, start=OPENED, seed=1, speed=SPEED) as gateway:
            state = tmp / "state"
            intent_id = await crashed_at(state, gateway, "after_intent_journaled", cleanup)
            assert not journal_records(state, "sent")
            assert gateway_orders_per_ref(gateway)[intent_id] == 0, "killed before placeOrder: nothing sent"

            second = await start_bot(state, gateway.port)
            cleanup.callback(second.kill)
            report = startup_report(state)
            # Why it was sent: journaled minutes ago (inside the resend window), never reached the broker, and the
            # gates, re-run on a fresh quote, still allow it.
            assert report["resent"] == [intent_id], report
            assert not report["expired"] and not report["unknown"], report
            recovery_gates = [g for g in journal_records(state, "gate") if g.payload["reason"].startswith("recovery:")]
            assert [g.payload["intent_ids"] for g in recovery_gates] == [[intent_id]]
            assert recovery_gates[0].payload["allowed"], recovery_gates[0].payload

            await wait_until(lambda: gateway_orders_per_ref(gateway)[intent_id] == 1, 20, "the recovered order")
            order = next(o for o in gateway.exchange.book.orders.values() if o.order_ref == intent_id)
            await wait_until(lambda: not order.is_active, 30, "the recovered order's walk to end")
            cutoff = await stop_bot(second, gateway, state)

            assert journal_sent_per_intent(state)[intent_id] == 1
            assert len(journal_records(state, "intent")) >= 1
            assert_invariants(state, gateway, until=cutoff)


async def test_crash_between_journal_and_send_expires_an_intent_too_old_to_send() -> None:
    with short_tmp_dir() as tmp, contextlib.ExitStack() as cleanup:
        async with paper_gateway(tmp, start=OPENED, seed=1, speed=SPEED) as gateway:
            state = tmp / "state"
            intent_id = await crashed_at(state, gateway, "after_intent_journaled", cleanup)

            # The bot stays down for 20 clock minutes: its intent was priced on a quote that old.
            gateway.clock.set_speed(6000)
            await asyncio.sleep(0.2)
            gateway.clock.set_speed(SPEED)

            second = await start_bot(state, gateway.port)
            cleanup.callback(second.kill)
            report = startup_report(state)
            assert report["expired"] == [intent_id], report
            assert not report["resent"] and not report["unknown"], report
            [expired] = [r for r in journal_records(state, "status") if r.payload["intent_id"] == intent_id]
            assert expired.payload["status"] == "Expired"
            assert "resend window" in expired.payload["message"], expired.payload
            cutoff = await stop_bot(second, gateway, state)

            assert gateway_orders_per_ref(gateway)[intent_id] == 0, "an expired intent is never sent"
            assert stored_intent(state, intent_id).status == IntentStatus.EXPIRED
            assert not journal_sent_per_intent(state)
            assert_invariants(state, gateway, until=cutoff)


async def test_crash_between_send_and_record_adopts_the_order_by_order_ref() -> None:
    with short_tmp_dir() as tmp, contextlib.ExitStack() as cleanup:
        async with paper_gateway(tmp, start=OPENED, seed=1, speed=SPEED) as gateway:
            state = tmp / "state"
            intent_id = await crashed_at(state, gateway, "after_order_sent", cleanup)
            assert not journal_records(state, "sent"), "killed right after placeOrder, before recording it"
            reached = gateway_orders_per_ref(gateway)[intent_id]

            second = await start_bot(state, gateway.port)
            cleanup.callback(second.kill)
            report = startup_report(state)
            assert not report["unknown"] and not report["expired"], report
            if reached:
                # The order reached the gateway before the kill: found by its orderRef (adopted), or already filled
                # and resolved by its executions, which reconciliation reads first; never resent.
                assert not report["resent"], report
                resolved = stored_intent(state, intent_id)
                assert intent_id in report["intent_ids"] or resolved.status == IntentStatus.FILLED, (report, resolved)
            else:
                # placeOrder was still in the client's send queue: nothing reached the gateway, so it is sent once.
                assert report["resent"] == [intent_id], report
            await wait_until(lambda: gateway_orders_per_ref(gateway)[intent_id] == 1, 20, "one order for the intent")
            cutoff = await stop_bot(second, gateway, state)
            assert gateway_orders_per_ref(gateway)[intent_id] == 1
            assert_invariants(state, gateway, until=cutoff)


async def test_kill_while_acknowledgements_are_withheld_adopts_every_sent_order() -> None:
    with short_tmp_dir() as tmp, contextlib.ExitStack() as cleanup:
        async with paper_gateway(tmp, start=OPENED, seed=1, speed=SPEED) as gateway:
            state = tmp / "state"
            first = await start_bot(state, gateway.port)
            cleanup.callback(first.kill)
            # The gateway carries the orders out but never acknowledges them (no openOrder/orderStatus).
            gateway.faults.withhold_responses("placeOrder")
            request_rebalance(state)
            await wait_until(lambda: sum(gateway_orders_per_ref(gateway).values()) >= 10, 30, "ten orders placed")
            await wait_until(lambda: len(journal_records(state, "sent")) >= 10, 10, "ten sent records")
            first.kill()  # sent, not acknowledged

            with Store.open(state / "state.sqlite") as store:
                sent = {i.intent_id for i in store.intents(statuses=[IntentStatus.SENT])}
            assert len(sent) == 10, sent
            gateway.faults.release_responses()

            second = await start_bot(state, gateway.port)
            cleanup.callback(second.kill)
            report = startup_report(state)
            assert not report["resent"] and not report["unknown"] and not report["expired"], report
            with Store.open(state / "state.sqlite") as store:
                statuses = {i.intent_id: i.status for i in store.intents() if i.intent_id in sent}
            # Each was found by its orderRef and adopted, or already filled by the executions read first.
            filled = {intent_id for intent_id, status in statuses.items() if status == IntentStatus.FILLED}
            assert set(report["intent_ids"]) | filled == sent, report
            acknowledged = (IntentStatus.WORKING, IntentStatus.PARTIAL, IntentStatus.FILLED)
            assert all(status in acknowledged for status in statuses.values()), statuses
            cutoff = await stop_bot(second, gateway, state)

            counts = gateway_orders_per_ref(gateway)
            assert {ref: counts[ref] for ref in sent} == dict.fromkeys(sent, 1)
            assert_invariants(state, gateway, until=cutoff)


async def test_crash_after_the_first_fill_loses_no_fill() -> None:
    with short_tmp_dir() as tmp, contextlib.ExitStack() as cleanup:
        async with paper_gateway(tmp, start=OPENED, seed=1, speed=SPEED) as gateway:
            state = tmp / "state"
            first = await start_bot(state, gateway.port, "after_first_fill")
            cleanup.callback(first.kill)
            request_rebalance(state)
            await killed_at_crash_point(first)
            executions = gateway_bot_executions(gateway)
            assert executions, "killed at the first fill: the gateway made at least one execution"

            second = await start_bot(state, gateway.port)
            cleanup.callback(second.kill)
            report = startup_report(state)
            # The fill was in the store (layer moved) but not yet in the journal: written now, exactly once.
            [late] = report["fills_journaled_after_crash"]
            assert late in executions and journal_fill_ids(state)[late] == 1, report
            assert not report["mismatches"] and not report["foreign_positions"], report
            assert not report["unknown"], report
            # Stop the adopted buys from filling any further, so that positions and layers can be compared.
            halted = await control(state, ControlRequest(command="halt", reason="end of the test"))
            assert halted.ok, halted
            await wait_until(lambda: not [o for o in gateway.exchange.book.active() if o.tif == "DAY"], 20, "cancels")
            cutoff = await stop_bot(second, gateway, state)

            # Every slot's layer is what the gateway's account holds for it (the killed fill included).
            with Store.open(state / "state.sqlite") as store:
                held = {layer.contract.con_id: layer.quantity for layer in store.layers().values() if layer}
                halt = store.halt_state()
                assert halt is not None and halt.reason == "end of the test"
            positions = bot_positions(gateway)
            assert {con_id: positions.get(con_id) for con_id in held} == held
            assert_invariants(state, gateway, until=cutoff)
