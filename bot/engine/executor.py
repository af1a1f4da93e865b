"""Carrying out a plan: gates, journal before send, price walks, harvest ladders, fills.

For every order action: the gates run; the intent is journaled (fsync) and stored with its
deterministic orderRef; only then is a *new* limit order placed. DAY orders walk from mid toward the
bound in configured steps over a configured time, never past the collar, on valid ticks; what is left
at the end is cancelled and recorded. After an opening fill the layer's resting GTC harvest ladder is
placed. Actions run concurrently, each waiting for the actions it depends on (``Action.after``): a
roll's sale waits for its purchase, a refill for the sale that empties the slot.

Fills and statuses arrive through ib_async events (and through reconciliation for anything that
happened while disconnected); they are applied once per execution id, whoever reports them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from ib_async import Fill, Trade

from bot.broker.convert import option_contract_from_ib, option_quote
from bot.broker.errors import BrokerError, ErrorClass, classify
from bot.broker.session import Broker
from bot.clock import Clock
from bot.config import BotConfig
from bot.engine.bookkeeping import apply_buy, apply_sell, finish_roll_if_stuck
from bot.engine.crash_points import crash_point
from bot.engine.gates import GateResult, check_action, collar, premium_room_price, walk_prices
from bot.engine.order_state import LIVE, TERMINAL, IntentStatus, apply_fill, apply_status, mark_sent
from bot.journal import Journal
from bot.journal.index import Query
from bot.journal.reader import JournalReader
from bot.store.database import FillRecord, IntentRecord, Store
from strategies.alvh.models import Action, Layer, OptionQuote, Plan, TradingSession
from strategies.alvh.quotes import round_to_tick
from strategies.alvh.sizing import harvest_actions

log = structlog.get_logger(__name__)

AlertSink = Callable[[str, str, dict[str, object]], None]
MIN_STEP_WALL_SECONDS = 0.15
UNRECORDED_FILLS = "fills_not_yet_journaled"  # store key: exec id -> the fill's journal record
# IB errors that end an order that was never acknowledged (not a refused modify or cancel).
ORDER_ENDING_CODES = frozenset({110, 200, 201, 202, 203, 321, 387, 434})


@dataclass
class Outcome:
    intent_id: str
    kind: str
    status: str  # done, partial, refused, skipped, failed, unknown
    filled: float = 0.0
    message: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status in ("done", "partial") if self.kind == "buy" else self.status == "done"


class Executor:
    def __init__(
        self, broker: Broker, store: Store, journal: Journal, config: BotConfig, clock: Clock, alert: AlertSink
    ) -> None:
        self.broker = broker
        self.store = store
        self.journal = journal
        self.config = config
        self.clock = clock
        self.alert = alert
        self._events: dict[str, asyncio.Event] = {}
        self._recovery_tasks: set[asyncio.Task[Outcome]] = set()
        self.messages_sent = 0
        ib = broker.ib
        ib.orderStatusEvent += self.on_order_status
        ib.execDetailsEvent += self.on_execution
        ib.commissionReportEvent += self.on_commission
        ib.errorEvent += self.on_ib_error

    # ------------------------------------------------------------------ plan

    async def execute(
        self,
        plan: Plan,
        *,
        cycle_id: str,
        decision_seq: int | None,
        quotes: dict[str, OptionQuote],
        contracts: dict[str, object],
        sessions: list[TradingSession],
    ) -> list[Outcome]:
        """Run every action of ``plan``; returns one outcome per action, in plan order."""
        done: dict[str, asyncio.Future[Outcome]] = {
            a.intent_id: asyncio.get_running_loop().create_future() for a in plan.actions
        }
        context = _CycleContext(cycle_id, decision_seq, quotes, contracts, sessions, plan.record.budget.cap)

        async def run(action: Action) -> None:
            outcome: Outcome
            try:
                waits = [done[d] for d in action.after if d in done]
                failed = [o for o in await asyncio.gather(*waits) if not o.succeeded]
                if failed:
                    outcome = Outcome(
                        action.intent_id,
                        action.kind,
                        "skipped",
                        message=f"waited for {', '.join(f.intent_id for f in failed)}, which did not succeed",
                    )
                    self._record_refusal("dependency", outcome.message, action, cycle_id, [action.slot_id])
                else:
                    outcome = await self._run_action(action, context)
            except Exception as error:  # one action's failure is recorded, the others go on
                log.exception("action_failed", intent_id=action.intent_id)
                self.journal.record_error(
                    "execute", f"{type(error).__name__}: {error}", intent_ids=[action.intent_id], cycle_id=cycle_id
                )
                outcome = Outcome(action.intent_id, action.kind, "failed", message=str(error))
            done[action.intent_id].set_result(outcome)

        await asyncio.gather(*(run(action) for action in plan.actions))
        return [done[a.intent_id].result() for a in plan.actions]

    async def _run_action(self, action: Action, context: _CycleContext) -> Outcome:
        if action.kind == "migrate":
            return self._migrate(action, context)
        if action.kind == "release":
            return self._release(action, context)
        if action.kind == "cancel":
            return await self._cancel(action, context)
        return await self._order(action, context)

    # ------------------------------------------------------------------ migrations and cancels

    def _migrate(self, action: Action, context: _CycleContext) -> Outcome:
        assert action.to_slot_id is not None
        self.journal.record_intent(action, decision_seq=context.decision_seq, cycle_id=context.cycle_id)
        try:
            layer = self.store.move_layer(action.slot_id, action.to_slot_id)
        except ValueError as error:
            slot_ids = [action.slot_id, action.to_slot_id]
            self._record_refusal("migration", str(error), action, context.cycle_id, slot_ids)
            return Outcome(action.intent_id, "migrate", "refused", message=str(error))
        self.journal.record_status(
            action.intent_id,
            None,
            "Migrated",
            slot_id=action.to_slot_id,
            message=f"{layer.contract.key} x {layer.quantity} relabelled {action.slot_id} -> {action.to_slot_id}",
            cycle_id=context.cycle_id,
        )
        return Outcome(action.intent_id, "migrate", "done")

    def _release(self, action: Action, context: _CycleContext) -> Outcome:
        """A worthless layer leaves its slot for the leftovers, where it expires (journal-only, no order)."""
        assert action.contract is not None
        self.journal.record_intent(action, decision_seq=context.decision_seq, cycle_id=context.cycle_id)
        layer = self.store.layers().get(action.slot_id)
        if layer is None or layer.contract.key != action.contract.key:
            message = f"{action.slot_id} no longer holds {action.contract.key}"
            self._record_refusal("release", message, action, context.cycle_id, [action.slot_id])
            return Outcome(action.intent_id, "release", "refused", message=message)
        self.store.add_leftover(layer, f"released by {action.intent_id}: no bid, left to expire")
        self.store.set_layer(action.slot_id, self.store.incoming().get(action.slot_id))
        self.journal.record_status(
            action.intent_id,
            None,
            "Released",
            slot_id=action.slot_id,
            message=f"{layer.contract.key} x {layer.quantity} left to expire worthless",
            cycle_id=context.cycle_id,
        )
        return Outcome(action.intent_id, "release", "done")

    async def _cancel(self, action: Action, context: _CycleContext) -> Outcome:
        target_id = action.cancels_intent_id
        assert target_id is not None
        target = self.store.intent(target_id)
        if target is None or target.status in TERMINAL:
            return Outcome(action.intent_id, "cancel", "done", message=f"{target_id} is no longer working")
        trade = self.broker.orders.trade_for(target_id)
        if trade is None:
            trades = await self.broker.orders.all_open_orders()
            trade = next((t for t in trades if t.order.orderRef == target_id), None)
        if trade is None:
            return Outcome(
                action.intent_id,
                "cancel",
                "failed",
                message=f"{target_id} is not known to the broker; reconciliation will resolve it",
            )
        self._request_cancel(trade, target.slot_id, f"cancel requested by {action.intent_id}", context)
        await self._wait_terminal(target_id, self.config.execution.ack_timeout_seconds)
        final = self.store.intent(target_id)
        if final is not None and final.status in TERMINAL:
            return Outcome(action.intent_id, "cancel", "done", message=f"{target_id} {final.status}")
        return Outcome(action.intent_id, "cancel", "failed", message=f"{target_id} not confirmed cancelled")

    def _request_cancel(self, trade: Trade, slot_id: str, why: str, context: _CycleContext) -> None:
        self.broker.orders.cancel(trade)
        self.messages_sent += 1
        self.journal.record_status(
            trade.order.orderRef,
            trade.order.orderId,
            "CancelRequested",
            slot_id=slot_id,
            message=why,
            cycle_id=context.cycle_id,
        )

    def _record_refusal(self, gate: str, why: str, action: Action, cycle_id: str, slot_ids: list[str]) -> None:
        self.journal.record_gate(gate, False, why, intent_ids=[action.intent_id], slot_ids=slot_ids, cycle_id=cycle_id)

    # ------------------------------------------------------------------ orders

    async def _order(self, action: Action, context: _CycleContext) -> Outcome:
        assert action.contract is not None and action.side is not None
        assert action.limit_start is not None and action.limit_bound is not None
        existing = self.store.intent(action.intent_id)
        if existing is not None:
            # The same plan ran before (a restart mid-cycle): never send an intent twice.
            return Outcome(action.intent_id, action.kind, "skipped", message=f"intent already {existing.status}")
        contract = context.contracts.get(action.contract.key)
        gate = self._check(action, context, getattr(contract, "conId", None))
        self.journal.record_gate(
            gate.gate,
            gate.allowed,
            gate.reason,
            intent_ids=[action.intent_id],
            slot_ids=[action.slot_id],
            cycle_id=context.cycle_id,
        )
        if not gate.allowed:
            return Outcome(action.intent_id, action.kind, "refused", message=gate.reason)
        quantity = gate.quantity
        now = self.clock.now()
        self.journal.record_intent(action, decision_seq=context.decision_seq, cycle_id=context.cycle_id)
        self.store.add_intent(
            IntentRecord(
                intent_id=action.intent_id,
                kind=action.kind,
                role=action.role,
                slot_id=action.slot_id,
                quantity=quantity,
                created_at=now,
                cycle_id=context.cycle_id,
                side=action.side,
                contract=action.contract,
                limit_start=action.limit_start,
                limit_bound=action.limit_bound,
                limit_price=action.limit_start,
                tif=action.tif,
                harvest_rung=action.harvest_rung,
            )
        )
        crash_point("after_intent_journaled")
        return await self._send_and_work(action, quantity, contract, gate.collar_low, gate.collar_high, context)

    def _check(self, action: Action, context: _CycleContext, con_id: int | None) -> GateResult:
        """The risk gates for ``action`` now, on a fresh quote and the link's current state."""
        return check_action(
            action,
            now=self.clock.now(),
            sessions=context.sessions,
            store=self.store,
            config=self.config,
            quote=self._fresh_quote(action, context),
            qualified_con_id=con_id,
            may_trade=self.broker.connection.may_trade,
            blocked_reason=self.broker.connection.no_trading_reason,
            cap=context.cap,
        )

    async def _send_and_work(
        self,
        action: Action,
        quantity: int,
        contract: object,
        collar_low: float | None,
        collar_high: float | None,
        context: _CycleContext,
    ) -> Outcome:
        assert action.side is not None and action.limit_start is not None and action.limit_bound is not None
        tif = action.tif or "DAY"
        trade = self.broker.orders.place(contract, action.side, quantity, action.limit_start, tif, action.intent_id)  # type: ignore[arg-type]
        self.messages_sent += 1
        crash_point("after_order_sent")
        order_id = trade.order.orderId
        self.store.update_intent(
            action.intent_id,
            self.clock.now(),
            status=IntentStatus.SENT,
            order_id=order_id,
            client_id=trade.order.clientId,
        )
        self.store.set("order_id_floor", max(int(self.store.get("order_id_floor", 0)), order_id + 1))
        self.journal.record_sent(
            action.intent_id,
            order_id,
            slot_id=action.slot_id,
            side=action.side,
            quantity=quantity,
            limit_price=action.limit_start,
            contract=action.contract.key if action.contract else "",
            tif=tif,
            client_id=trade.order.clientId,
            cycle_id=context.cycle_id,
        )
        acknowledged = await self._wait_status(
            action.intent_id,
            {IntentStatus.WORKING, IntentStatus.PARTIAL, *TERMINAL},
            self.config.execution.ack_timeout_seconds,
        )
        if not acknowledged:
            return Outcome(
                action.intent_id,
                action.kind,
                "unknown",
                message="no acknowledgement in time: left to reconciliation, never resent",
            )
        if action.kind == "place_harvest":
            return self._outcome(action)
        outcome = await self._walk(action, collar_low, collar_high, context)
        if action.kind == "buy" and outcome.filled > 0:
            await self._place_ladder_after_fill(action, context)
        if action.role == "roll_sell" and outcome.status != "done":
            left = finish_roll_if_stuck(self.store, action.slot_id, f"roll sale {action.intent_id} {outcome.status}")
            if left is not None:
                self.alert(
                    "roll_incomplete",
                    f"{action.slot_id}: the old layer {left.contract.key} x {left.quantity} "
                    "could not be sold; kept as a leftover to close at the next evaluation",
                    {"slot": action.slot_id, "intent": action.intent_id},
                )
        return outcome

    async def _walk(
        self, action: Action, collar_low: float | None, collar_high: float | None, context: _CycleContext
    ) -> Outcome:
        """Walk the limit from its start toward the live ask (buy) or bid (sell) in ``walk_steps`` steps over
        ``walk_seconds``: each step re-reads the quote, and the price never passes the collar around the fresh
        mid nor, for a buy, the price at which the order would break the premium cap."""
        assert action.side is not None and action.limit_start is not None and action.limit_bound is not None
        execution = self.config.execution
        steps = execution.walk_steps
        step_seconds = execution.walk_seconds / (steps + 1)
        window_end = self._window_end(context)
        current = action.limit_start
        for step in [*range(1, steps + 1), None]:
            if await self._wait_terminal_clock(action.intent_id, step_seconds):
                return self._outcome(action)
            if step is None or (window_end is not None and self.clock.now() >= window_end):
                break
            if not self.broker.connection.may_trade and not await self._wait_for_link(step_seconds):
                continue
            target = self._walk_target(action, context, current)
            if target is None:
                continue
            prices = walk_prices(action.limit_start, target, steps, action.side)
            capped = prices[min(step, len(prices) - 1)]
            if (action.side == "BUY" and capped <= current) or (action.side == "SELL" and capped >= current):
                continue
            trade = self.broker.orders.trade_for(action.intent_id)
            if trade is None or trade.isDone():
                continue
            self.broker.orders.modify(trade, capped)
            self.messages_sent += 1
            current = capped
            self.store.update_intent(action.intent_id, self.clock.now(), limit_price=capped)
            self.journal.record_status(
                action.intent_id,
                trade.order.orderId,
                "Amended",
                limit_price=capped,
                slot_id=action.slot_id,
                message="price walk step",
                cycle_id=context.cycle_id,
            )
        # The walk is over: cancel whatever is left and record it.
        intent = self.store.intent(action.intent_id)
        if intent is not None and intent.status not in TERMINAL:
            trade = self.broker.orders.trade_for(action.intent_id)
            if trade is not None and not trade.isDone():
                self._request_cancel(trade, action.slot_id, "end of the price walk", context)
            await self._wait_terminal(action.intent_id, execution.ack_timeout_seconds)
        return self._outcome(action)

    def _window_end(self, context: _CycleContext) -> dt.datetime | None:
        """A DAY order's walk ends by the trading window's close at the latest (the order would expire)."""
        now = self.clock.now()
        today = now.astimezone(ZoneInfo(self.config.strategy.schedule.timezone)).date()
        for session in context.sessions:
            if session.date == today:
                return session.close - dt.timedelta(minutes=self.config.strategy.schedule.close_margin_minutes)
        return None

    def _walk_target(self, action: Action, context: _CycleContext, current: float) -> float | None:
        """Where the walk heads now: the live ask (bid), inside the collar and, for a buy, inside the cap."""
        quote = self._fresh_quote(action, context)
        if quote is None or quote.bid is None or quote.ask is None or not quote.ask > 0 or quote.bid > quote.ask:
            return None
        mid = (quote.bid + quote.ask) / 2
        band = collar(mid, self.config)
        if action.side == "BUY":
            ceiling = min(quote.ask, mid + band)
            room = premium_room_price(self.store, action, context.cap)
            if room is not None:
                ceiling = min(ceiling, room)
            return max(current, round_to_tick(ceiling, "down"))
        floor = max(quote.bid, mid - band, 0.01)
        return min(current, round_to_tick(floor, "up"))

    def _outcome(self, action: Action) -> Outcome:
        intent = self.store.intent(action.intent_id)
        if intent is None:
            return Outcome(action.intent_id, action.kind, "failed", message="intent vanished from the store")
        filled = intent.filled
        if intent.status == IntentStatus.FILLED and filled >= intent.quantity:
            return Outcome(action.intent_id, action.kind, "done", filled, "filled")
        if action.kind == "place_harvest" and intent.status in (IntentStatus.WORKING, IntentStatus.PARTIAL):
            return Outcome(action.intent_id, action.kind, "done", filled, "resting")
        if intent.status == IntentStatus.REJECTED:
            return Outcome(action.intent_id, action.kind, "failed", filled, f"rejected: {intent.note}")
        if filled > 0:
            return Outcome(action.intent_id, action.kind, "partial", filled, f"{filled:g} of {intent.quantity} filled")
        if intent.status in TERMINAL:
            return Outcome(action.intent_id, action.kind, "failed", 0.0, f"{intent.status} unfilled")
        return Outcome(action.intent_id, action.kind, "unknown", filled, f"still {intent.status}")

    async def _place_ladder_after_fill(self, buy: Action, context: _CycleContext) -> None:
        if not self.config.strategy.harvest.enabled:
            return
        intent = self.store.intent(buy.intent_id)
        if intent is None or intent.filled <= 0 or buy.contract is None:
            return
        average = intent.track.average_price or buy.limit_bound or 0.0
        for ladder in harvest_actions(
            buy.slot_id,
            buy.contract,
            int(intent.filled),
            average,
            self.config.strategy.harvest,
            lambda rung: f"{buy.intent_id}-h{rung.rung}",
            why="resting GTC harvest after the opening fill",
        ):
            await self._order(ladder, context)

    # ------------------------------------------------------------------ recovery

    async def send_recovered(self, intent: IntentRecord) -> tuple[bool, str]:
        """Send an intent that was journaled before a crash but never reached the broker, if the gates still
        allow it now. Its journal record already exists; what follows is gate, sent, statuses, fills.
        Returns whether it was sent, and why not."""
        if intent.contract is None or intent.side is None or intent.limit_start is None or intent.limit_bound is None:
            return False, "the intent has no contract, side or limits to send"
        action = Action(
            intent_id=intent.intent_id,
            kind=intent.kind,  # type: ignore[arg-type]
            role=intent.role,  # type: ignore[arg-type]
            slot_id=intent.slot_id,
            contract=intent.contract,
            side=intent.side,  # type: ignore[arg-type]
            quantity=intent.quantity,
            limit_start=intent.limit_start,
            limit_bound=intent.limit_bound,
            tif=intent.tif,  # type: ignore[arg-type]
            harvest_rung=intent.harvest_rung,
            reason="journaled before a crash, never reached the broker: sent once after recovery",
        )
        try:
            contracts = await self.broker.contracts.options([intent.contract], "SMART")
        except BrokerError as error:
            log.warning("recovery_qualify_failed", intent_id=intent.intent_id, error=str(error))
            return False, f"its contract could not be qualified: {error}"
        contract = contracts.get(intent.contract.key)
        if contract is not None and not self.broker.market.subscribed(intent.contract.key):
            with contextlib.suppress(BrokerError):
                self.broker.market.subscribe(intent.contract.key, contract, "held")
                await self.broker.market.wait_for_quotes([intent.contract.key], 2.0)
        today = self.broker.today()
        context = _CycleContext(
            cycle_id=intent.cycle_id or "recovery",
            decision_seq=None,
            quotes={},
            contracts=dict(contracts),
            sessions=self.broker.calendar.sessions_between(today, today + dt.timedelta(days=7)),
            cap=float(self.store.get("premium_cap", 0.0)),
        )
        gate = self._check(action, context, getattr(contract, "conId", None))
        self.journal.record_gate(
            gate.gate,
            gate.allowed,
            f"recovery: {gate.reason}",
            intent_ids=[intent.intent_id],
            slot_ids=[intent.slot_id],
            cycle_id=context.cycle_id,
        )
        if not gate.allowed:
            return False, f"the {gate.gate} gate refuses it now: {gate.reason}"
        if gate.quantity != intent.quantity:
            return False, f"only {gate.quantity} of its {intent.quantity} contracts may be sent now"
        task = asyncio.get_running_loop().create_task(
            self._send_and_work(action, intent.quantity, contract, gate.collar_low, gate.collar_high, context)
        )
        self._recovery_tasks.add(task)
        task.add_done_callback(self._recovery_tasks.discard)
        await self._wait_status(intent.intent_id, {IntentStatus.SENT, *LIVE, *TERMINAL}, 1.0)
        return True, gate.reason

    async def drain(self) -> None:
        """Wait for background work (orders sent after recovery) to finish."""
        if self._recovery_tasks:
            await asyncio.gather(*self._recovery_tasks, return_exceptions=True)

    # ------------------------------------------------------------------ waiting

    def _event(self, intent_id: str) -> asyncio.Event:
        return self._events.setdefault(intent_id, asyncio.Event())

    def _notify(self, intent_id: str) -> None:
        event = self._events.get(intent_id)
        if event is not None:
            event.set()

    async def _wait_status(self, intent_id: str, wanted: set[IntentStatus], wall_timeout: float) -> bool:
        try:
            return await self._wait_status_once(intent_id, wanted, wall_timeout)
        finally:
            # Waiters fetch the event afresh on every loop turn: dropping it here keeps the map from growing
            # with every intent the bot ever sent.
            self._events.pop(intent_id, None)

    async def _wait_status_once(self, intent_id: str, wanted: set[IntentStatus], wall_timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wall_timeout
        while True:
            intent = self.store.intent(intent_id)
            if intent is not None and intent.status in wanted:
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            event = self._event(intent_id)
            event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout=min(remaining, 0.25))

    async def _wait_terminal(self, intent_id: str, wall_timeout: float) -> bool:
        return await self._wait_status(intent_id, set(TERMINAL), wall_timeout)

    async def _wait_terminal_clock(self, intent_id: str, clock_seconds: float) -> bool:
        """Wait up to ``clock_seconds`` of clock time, and at least one gateway round trip of wall time (an
        accelerated clock must not squeeze a price step below what the wire can carry); True as soon as the
        order is done."""
        deadline = self.clock.now() + dt.timedelta(seconds=clock_seconds)
        wall_deadline = asyncio.get_running_loop().time() + MIN_STEP_WALL_SECONDS
        while True:
            intent = self.store.intent(intent_id)
            if intent is not None and intent.status in TERMINAL:
                return True
            if self.clock.now() >= deadline and asyncio.get_running_loop().time() >= wall_deadline:
                return False
            event = self._event(intent_id)
            event.clear()
            sleeper = asyncio.ensure_future(self.clock.sleep_until(deadline))
            waiter = asyncio.ensure_future(event.wait())
            await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
            for task in (sleeper, waiter):
                task.cancel()

    async def _wait_for_link(self, clock_seconds: float) -> bool:
        deadline = self.clock.now() + dt.timedelta(seconds=clock_seconds)
        while self.clock.now() < deadline:
            if self.broker.connection.may_trade:
                return True
            await self.clock.sleep(min(clock_seconds, 1.0))
        return self.broker.connection.may_trade

    # ------------------------------------------------------------------ broker events

    def _fresh_quote(self, action: Action, context: _CycleContext) -> OptionQuote | None:
        """The live quote of the action's contract; the cycle's snapshot quote when it is not streaming."""
        if action.contract is None:
            return None
        key = action.contract.key
        subscription = self.broker.market.get(key)
        if subscription is not None and context.contracts.get(key) is not None:
            quote_time = self.broker.market.quote_time(key) or self.clock.now() - dt.timedelta(days=1)
            return option_quote(action.contract, subscription.ticker, quote_time, subscription.ticker.marketDataType)
        return context.quotes.get(key)

    def on_order_status(self, trade: Trade) -> None:
        intent_id = trade.order.orderRef
        intent = self.store.intent(intent_id) if intent_id else None
        if intent is None:
            return
        status = trade.orderStatus.status
        rejection = _rejection(trade, intent)
        if rejection:
            status = "Inactive"  # IB refused the order; ib_async reports that as its own "Cancelled"
        try:
            track = apply_status(
                intent.track if intent.status != IntentStatus.JOURNALED else mark_sent(intent.track), status
            )
        except ValueError:
            log.warning("unknown_order_status", status=status, intent_id=intent_id)
            return
        changes: dict[str, object] = {}
        if track.status != intent.status:
            changes["status"] = track.status
        if rejection:
            changes["note"] = rejection
        if trade.order.permId and trade.order.permId != intent.perm_id:
            changes["perm_id"] = trade.order.permId
        if trade.order.orderId and trade.order.orderId != intent.order_id:
            changes["order_id"] = trade.order.orderId
        if changes:
            self.store.update_intent(intent_id, self.clock.now(), **changes)
            self.journal.record_status(
                intent_id,
                trade.order.orderId,
                status,
                perm_id=trade.order.permId or None,
                slot_id=intent.slot_id,
                filled=float(trade.orderStatus.filled),
                remaining=float(trade.orderStatus.remaining),
                avg_fill_price=float(trade.orderStatus.avgFillPrice or 0.0) or None,
                limit_price=float(trade.order.lmtPrice),
            )
        self._notify(intent_id)

    def on_execution(self, trade: Trade, fill: Fill) -> None:
        self.apply_execution(fill, trade.order.orderRef or fill.execution.orderRef)

    def apply_execution(self, fill: Fill, order_ref: str | None) -> bool:
        """Record one execution and move the layers; False when it was already recorded (a duplicate).

        The fill, the intent's status and the layers it moves are one store transaction, marked "not yet
        journaled" in the same transaction; the journal record follows and clears the mark. A crash in between
        leaves the mark, and ``journal_unrecorded_fills`` (run by every reconciliation) writes the missing record:
        each execution reaches both the book and the journal exactly once."""
        execution = fill.execution
        intent = self.store.intent(order_ref) if order_ref else None
        if intent is None:
            if order_ref and order_ref.startswith("alvh-"):
                self.alert(
                    "unknown_intent_fill",
                    f"execution {execution.execId} names unknown intent {order_ref}",
                    {"exec_id": execution.execId},
                )
            return False
        if self.store.has_fill(execution.execId):
            return False
        quantity = float(execution.shares)
        price = float(execution.price)
        at = execution.time if execution.time.tzinfo else execution.time.replace(tzinfo=dt.UTC)
        at = self.clock.now() if at.year < 2000 else at
        contract_key = intent.contract.key if intent.contract else option_contract_from_ib(fill.contract).key
        with self.store.atomic():
            fresh = self.store.add_fill(
                FillRecord(
                    execution.execId,
                    intent.intent_id,
                    contract_key,
                    execution.side,
                    quantity,
                    price,
                    at,
                    execution.orderId,
                    execution.permId or None,
                )
            )
            if not fresh:
                return False
            track = apply_fill(intent.track, execution.execId, quantity, price)
            if track.status != intent.status:
                self.store.update_intent(intent.intent_id, self.clock.now(), status=track.status)
            if intent.side == "BUY":
                effect = apply_buy(self.store, intent, int(quantity), price, at)
            else:
                effect = apply_sell(self.store, intent, int(quantity), price)
            record = {
                "intent_id": intent.intent_id,
                "exec_id": execution.execId,
                "order_id": execution.orderId,
                "perm_id": execution.permId or None,
                "slot_id": effect.slot_id or intent.slot_id,
                "contract": contract_key,
                "side": execution.side,
                "quantity": quantity,
                "price": price,
                "exec_time": at.isoformat(),
                "role": intent.role,
            }
            unrecorded = dict(self.store.get(UNRECORDED_FILLS, {}))
            unrecorded[execution.execId] = record
            self.store.set(UNRECORDED_FILLS, unrecorded)
            self.store.set("last_execution_time", at.isoformat())
        crash_point("after_first_fill")
        self._journal_fill(record)
        self._forget_unrecorded(execution.execId)
        if effect.anomaly:
            self.alert("fill_anomaly", effect.anomaly, {"intent": intent.intent_id, "exec_id": execution.execId})
        self._notify(intent.intent_id)
        return True

    def _journal_fill(self, record: dict[str, Any]) -> None:
        self.journal.record_fill(
            record["intent_id"],
            exec_id=record["exec_id"],
            order_id=record["order_id"],
            perm_id=record["perm_id"],
            slot_id=record["slot_id"],
            contract=record["contract"],
            side=record["side"],
            quantity=record["quantity"],
            price=record["price"],
            exec_time=dt.datetime.fromisoformat(record["exec_time"]),
            role=record["role"],
            harvest=record["role"] == "harvest",
        )

    def _forget_unrecorded(self, exec_id: str) -> None:
        unrecorded = dict(self.store.get(UNRECORDED_FILLS, {}))
        if unrecorded.pop(exec_id, None) is not None:
            self.store.set(UNRECORDED_FILLS, unrecorded)

    def journal_unrecorded_fills(self) -> list[str]:
        """Journal the fills a crash left in the store without their journal record (never one twice).

        Returns the execution ids journaled now."""
        unrecorded: dict[str, dict[str, Any]] = dict(self.store.get(UNRECORDED_FILLS, {}))
        if not unrecorded:
            return []
        journaled: set[str] = set()
        with JournalReader.open(self.journal.directory) as reader:
            for intent_id in {record["intent_id"] for record in unrecorded.values()}:
                query = Query(kinds=("fill", "harvest_fill"), intent=intent_id)
                journaled.update(str(loaded.record.payload.get("exec_id")) for loaded in reader.records(query))
        written = []
        for exec_id, record in unrecorded.items():
            if exec_id not in journaled:
                self._journal_fill(record)
                written.append(exec_id)
            self._forget_unrecorded(exec_id)
        if written:
            log.warning("fills_journaled_after_crash", exec_ids=written)
        return written

    def on_commission(self, trade: Trade, fill: Fill, report: object) -> None:
        commission = getattr(report, "commission", None)
        exec_id = getattr(report, "execId", None)
        if exec_id and commission is not None and self.store.has_fill(exec_id):
            self.store.set_commission(exec_id, float(commission))

    def on_ib_error(self, request_id: int, code: int, message: str, contract: object = None) -> None:
        if classify(code) != ErrorClass.REJECTED or request_id <= 0:
            return
        # ib_async ends a refused order ("Cancelled") before it reports the error, so the intent may be terminal
        # already: find it by the order id of the bot's own trades, whatever its status.
        refs = {t.order.orderRef for t in self.broker.ib.trades() if t.order.orderId == request_id}
        candidates: list[IntentRecord | None] = [self.store.intent(ref) for ref in refs if ref]
        if not candidates:
            candidates = list(self.store.intents(statuses=[*LIVE, IntentStatus.JOURNALED]))
        for intent in candidates:
            if intent is None or intent.order_id != request_id:
                continue
            if code == 202 and intent.status in TERMINAL:
                continue  # the confirmation of a cancel already recorded with its status
            # An order IB refuses ends here: rejected (or cancelled by the system, 202); a modify or cancel that
            # IB refuses leaves the order as it was.
            changes: dict[str, object] = {"note": f"IB {code}: {message}"}
            if intent.status == IntentStatus.SENT and code in ORDER_ENDING_CODES:
                changes["status"] = IntentStatus.CANCELLED if code == 202 else IntentStatus.REJECTED
            self.store.update_intent(intent.intent_id, self.clock.now(), **changes)
            self.journal.record_status(
                intent.intent_id, request_id, f"Error{code}", slot_id=intent.slot_id, message=message
            )
            self._notify(intent.intent_id)


def _rejection(trade: Trade, intent: IntentRecord) -> str:
    """The IB error that refused a never-acknowledged order ("" if the order was not refused)."""
    if trade.orderStatus.status != "Cancelled" or intent.status not in (IntentStatus.JOURNALED, IntentStatus.SENT):
        return ""
    last = trade.log[-1] if trade.log else None
    if last is None or last.errorCode not in ORDER_ENDING_CODES - {202}:
        return ""
    return f"IB {last.errorCode}: {last.message}"


@dataclass(frozen=True)
class _CycleContext:
    cycle_id: str
    decision_seq: int | None
    quotes: dict[str, OptionQuote]
    contracts: dict[str, object]
    sessions: list[TradingSession]
    cap: float


__all__ = ["BrokerError", "Executor", "Layer", "Outcome"]
