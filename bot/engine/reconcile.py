"""Reconciliation with the broker, at startup, after every reconnect and after 1101.

1. Order ids only go up: the client's next id is raised to the highest this bot ever used.
2. Executions since the last one seen are applied (once each, by execution id): fills that happened
   while the bot was down or disconnected are not lost.
3. Every unfinished intent is looked up by orderRef among the open orders of all clients and the
   completed orders: found, it is adopted (status, order id, perm id); a *journaled* intent that never
   reached the broker is sent now if it is still valid (exactly one order per intent), else expired; a
   *sent* intent the broker does not know after bounded retries is marked unknown and the bot halts.
4. The bot's layers are compared with the broker's VIX positions: a mismatch halts the bot and raises an
   alert, never auto-corrected; VIX positions that are not the bot's are reported and left alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog
from ib_async import Trade

from bot.broker.session import Broker
from bot.clock import Clock
from bot.config import BotConfig
from bot.engine.executor import Executor
from bot.engine.order_state import LIVE, TERMINAL, IntentStatus, apply_status, mark_expired, mark_unknown
from bot.journal import Journal
from bot.store.database import IntentRecord, Store
from strategies.alvh.ids import INTENT_PREFIX
from strategies.alvh.sizing import CONTRACT_MULTIPLIER

log = structlog.get_logger(__name__)

HaltSink = Callable[[str, str], Awaitable[None]]
AlertSink = Callable[[str, str, dict[str, object]], None]
RESEND_WINDOW = dt.timedelta(minutes=10)


@dataclass
class ReconcileReport:
    reason: str
    adopted: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    resent: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    fills_applied: int = 0
    fills_journaled: list[str] = field(default_factory=list)  # stored before a crash, journaled only now
    uncovered_sells_cancelled: list[str] = field(default_factory=list)
    duplicate_fills: int = 0
    mismatches: list[str] = field(default_factory=list)
    foreign_positions: list[str] = field(default_factory=list)
    expired_layers: list[str] = field(default_factory=list)
    halted: bool = False

    @property
    def clean(self) -> bool:
        return not (self.unknown or self.mismatches)

    def summary(self) -> str:
        parts = [
            f"{len(self.adopted)} adopted",
            f"{len(self.completed)} completed",
            f"{len(self.resent)} sent after recovery",
            f"{len(self.expired)} expired",
            f"{len(self.unknown)} unknown",
            f"{self.fills_applied} fills applied ({self.duplicate_fills} duplicates ignored)",
            f"{len(self.mismatches)} position mismatches",
            f"{len(self.foreign_positions)} foreign VIX positions",
        ]
        return f"reconcile after {self.reason}: " + ", ".join(parts)


class Reconciler:
    def __init__(
        self,
        broker: Broker,
        store: Store,
        journal: Journal,
        executor: Executor,
        config: BotConfig,
        clock: Clock,
        halt: HaltSink,
        alert: AlertSink,
    ) -> None:
        self.broker = broker
        self.store = store
        self.journal = journal
        self.executor = executor
        self.config = config
        self.clock = clock
        self.halt = halt
        self.alert = alert
        self._lock = asyncio.Lock()
        self.last_report: ReconcileReport | None = None

    async def reconcile(self, reason: str) -> ReconcileReport:
        async with self._lock:  # never two reconciliations at once
            report = await self._reconcile(reason)
            self.last_report = report
            return report

    async def _reconcile(self, reason: str) -> ReconcileReport:
        report = ReconcileReport(reason)
        # A crash between a fill's store transaction and its journal record left the record to write.
        report.fills_journaled = self.executor.journal_unrecorded_fills()
        orders = self.broker.orders
        floor = int(self.store.get("order_id_floor", 0))
        if floor:
            orders.raise_order_id_floor(floor)

        await self._apply_executions(report)

        unfinished = self.store.intents(statuses=[*LIVE, IntentStatus.JOURNALED, IntentStatus.UNKNOWN])
        for attempt in range(self.config.execution.reconcile_retries):
            open_trades = await orders.all_open_orders()
            completed = await orders.completed_orders()
            by_ref = _by_order_ref(open_trades, completed)
            still_missing = []
            for intent in unfinished:
                trade = by_ref.get(intent.intent_id)
                if trade is None:
                    still_missing.append(intent)
                    continue
                self._adopt(intent, trade, report)
            unfinished = still_missing
            if not unfinished:
                break
            if attempt < self.config.execution.reconcile_retries - 1:
                await asyncio.sleep(0.2 * (attempt + 1))
        for intent in unfinished:
            await self._resolve_missing(intent, report)

        held_at_broker = await self._compare_positions(report)
        if report.mismatches:
            report.uncovered_sells_cancelled = self._cancel_uncovered_sells(held_at_broker)
        self.journal.record_reconcile(
            "clean" if report.clean else "mismatch",
            report.summary(),
            intent_ids=[*report.adopted, *report.completed, *report.resent, *report.expired, *report.unknown],
            details={
                "mismatches": report.mismatches,
                "foreign_positions": report.foreign_positions,
                "unknown": report.unknown,
                "expired": report.expired,
                "expired_layers": report.expired_layers,
                "resent": report.resent,
                "fills_journaled_after_crash": report.fills_journaled,
                "uncovered_sells_cancelled": report.uncovered_sells_cancelled,
            },
        )
        if report.unknown:
            await self.halt(f"orders the broker does not know: {', '.join(report.unknown)}", "reconciliation")
            report.halted = True
        if report.mismatches:
            await self.halt("position mismatch: " + "; ".join(report.mismatches), "reconciliation")
            report.halted = True
        log.info("reconciled", summary=report.summary())
        return report

    async def _apply_executions(self, report: ReconcileReport) -> None:
        """Executions since the last one seen (a day of margin), applied once each by execution id."""
        since_text = self.store.get("last_execution_time")
        since = dt.datetime.fromisoformat(since_text) - dt.timedelta(days=1) if since_text else None
        fills = await self.broker.orders.executions(since)
        for fill in sorted(fills, key=lambda f: f.execution.time):
            ref = fill.execution.orderRef
            if not ref or not ref.startswith(INTENT_PREFIX):
                continue
            if self.executor.apply_execution(fill, ref):
                report.fills_applied += 1
            else:
                report.duplicate_fills += 1

    def _adopt(self, intent: IntentRecord, trade: Trade, report: ReconcileReport) -> None:
        track = intent.track
        if track.status == IntentStatus.JOURNALED:
            track = track.__class__(quantity=track.quantity, status=IntentStatus.SENT, fills=track.fills)
        with contextlib.suppress(ValueError):
            track = apply_status(track, trade.orderStatus.status)
        changes: dict[str, object] = {"status": track.status}
        if trade.order.orderId:
            changes["order_id"] = trade.order.orderId
        if trade.order.permId:
            changes["perm_id"] = trade.order.permId
        if trade.order.lmtPrice and trade.order.lmtPrice > 0:
            changes["limit_price"] = float(trade.order.lmtPrice)
        self.store.update_intent(intent.intent_id, self.clock.now(), **changes)
        (report.completed if track.status in TERMINAL else report.adopted).append(intent.intent_id)
        self.journal.record_status(
            intent.intent_id,
            trade.order.orderId,
            trade.orderStatus.status,
            perm_id=trade.order.permId or None,
            slot_id=intent.slot_id,
            message=f"reconciled ({report.reason})",
        )

    async def _resolve_missing(self, intent: IntentRecord, report: ReconcileReport) -> None:
        if intent.status == IntentStatus.JOURNALED:
            age = self.clock.now() - intent.created_at
            if age > RESEND_WINDOW:
                why = (
                    f"journaled {age.total_seconds() / 60:.0f} min ago, beyond the "
                    f"{RESEND_WINDOW.total_seconds() / 60:.0f}-minute resend window (priced on an old quote)"
                )
            elif intent.kind not in ("buy", "sell", "place_harvest"):
                why = f"a {intent.kind} intent is not an order"
            elif not self.broker.connection.may_trade:
                why = f"trading is not allowed now: {self.broker.connection.no_trading_reason}"
            else:
                sent, why = await self.executor.send_recovered(intent)
                if sent:
                    report.resent.append(intent.intent_id)
                    return
            self._settle(
                intent,
                mark_expired(intent.track).status,
                report.expired,
                "Expired",
                note=f"never reached the broker; not sent after recovery: {why}",
                message=f"journaled but never sent, and not sent now: {why}",
            )
            return
        if intent.tif == "DAY" and self._before_todays_session(intent.updated_at or intent.created_at):
            # A DAY order ends at its session's close; a gateway restarted since forgets it. Any fill it got
            # shows in the executions or as a position mismatch, both checked in this reconciliation.
            self._settle(
                intent,
                IntentStatus.CANCELLED,
                report.completed,
                "Expired",
                note="DAY order of an earlier session: expired at its close",
                message="DAY order of an earlier session, unknown to the gateway now: expired at its close",
            )
            return
        if intent.status == IntentStatus.SENT and intent.perm_id is None:
            # Sent but never acknowledged, and after reconnecting the broker has it neither open nor completed
            # nor executed: it was lost in transit with the connection. Recorded, alerted, never resent.
            self._settle(
                intent,
                IntentStatus.EXPIRED,
                report.expired,
                "Lost",
                note="sent but never acknowledged; unknown to the broker after reconnecting: lost in transit",
                message="never acknowledged and unknown to the broker after reconnecting: lost in transit",
            )
            self.alert(
                "order_lost",
                f"intent {intent.intent_id} was lost in transit (never acknowledged, not at the broker); not resent",
                {"intent": intent.intent_id},
            )
            return
        self.store.update_intent(
            intent.intent_id,
            self.clock.now(),
            status=mark_unknown(intent.track).status,
            note=f"not found at the broker after {self.config.execution.reconcile_retries} lookups",
        )
        report.unknown.append(intent.intent_id)
        self.alert(
            "unknown_order",
            f"intent {intent.intent_id} was sent but the broker does not know it",
            {"intent": intent.intent_id},
        )

    def _settle(
        self,
        intent: IntentRecord,
        status: IntentStatus,
        bucket: list[str],
        journal_status: str,
        *,
        note: str,
        message: str,
    ) -> None:
        """End an intent the broker does not know, with the reason, in the store, the report and the journal."""
        self.store.update_intent(intent.intent_id, self.clock.now(), status=status, note=note)
        bucket.append(intent.intent_id)
        self.journal.record_status(
            intent.intent_id, intent.order_id, journal_status, slot_id=intent.slot_id, message=message
        )

    def _before_todays_session(self, moment: dt.datetime) -> bool:
        session = self.broker.calendar.session_on(self.broker.today())
        if session is None:
            return moment < self.clock.now() - dt.timedelta(hours=12)
        return moment < session.open

    def _write_off_expired(self, report: ReconcileReport, actual: Counter[str]) -> None:
        """VIX options settle on their expiry morning: a layer at or past expiry that the broker no longer
        shows was settled and leaves the book (not a mismatch). Its settlement value is not known to the bot
        and is booked at zero; the broker statement has the exact figure."""
        today = self.broker.today()
        written: list[str] = []
        for slot_id, layer in self.store.layers().items():
            if layer is not None and layer.contract.expiry <= today and actual[layer.contract.key] == 0:
                self.store.set_layer(slot_id, None)
                self.store.add_realized_pnl(-layer.quantity * layer.entry_price * CONTRACT_MULTIPLIER)
                written.append(f"{slot_id}: {layer.quantity} {layer.contract.key}")
        for key, (layer, _) in self.store.leftovers().items():
            if layer.contract.expiry <= today and actual[key] == 0:
                self.store.set_leftover(None, key)
                self.store.add_realized_pnl(-layer.quantity * layer.entry_price * CONTRACT_MULTIPLIER)
                written.append(f"leftover: {layer.quantity} {key}")
        if written:
            report.expired_layers.extend(written)
            self.alert(
                "expired_layers",
                "settled at expiry and removed from the book: " + "; ".join(written),
                {"layers": written},
            )

    async def _compare_positions(self, report: ReconcileReport) -> Counter[str]:
        """Broker positions against the book. A fill can land between the broker's position snapshot and the
        book (either way round), so a difference is looked at again, executions first, before it counts as a
        mismatch; one that persists through ``reconcile_retries`` looks is one."""
        retries = self.config.execution.reconcile_retries
        actual: Counter[str] = Counter()
        for attempt in range(retries):
            report.mismatches.clear()
            report.foreign_positions.clear()
            actual = await self._position_differences(report)
            if not report.mismatches or attempt == retries - 1:
                break
            log.info("position_difference_rechecked", attempt=attempt + 1, mismatches=report.mismatches)
            await asyncio.sleep(0.2 * (attempt + 1))
            await self._apply_executions(report)
        if report.foreign_positions:
            self.alert(
                "foreign_positions",
                "VIX positions that are not the bot's (left alone): " + ", ".join(report.foreign_positions),
                {"positions": report.foreign_positions},
            )
        return actual

    def _cancel_uncovered_sells(self, held_at_broker: Counter[str]) -> list[str]:
        """After a mismatch: the bot's working sells of a contract that add up to more than the broker holds of
        it would sell calls the account does not have (a naked short call). Cancel them. This protects the
        account only; the book is left as it is for the operator to look at."""
        connection = self.broker.connection
        if not connection.connected or connection.readonly:
            return []
        sells: dict[str, list[IntentRecord]] = {}
        for intent in self.store.intents(statuses=list(LIVE)):
            if intent.side == "SELL" and intent.contract is not None:
                sells.setdefault(intent.contract.key, []).append(intent)
        cancelled: list[str] = []
        for key, working in sorted(sells.items()):
            selling = sum(int(intent.remaining) for intent in working)
            if selling <= max(0, held_at_broker[key]):
                continue
            for intent in working:
                trade = self.broker.orders.trade_for(intent.intent_id)
                if trade is None or trade.isDone():
                    continue
                self.broker.orders.cancel(trade)
                cancelled.append(intent.intent_id)
                self.journal.record_status(
                    intent.intent_id,
                    trade.order.orderId,
                    "CancelRequested",
                    slot_id=intent.slot_id,
                    message=f"position mismatch: sells for {selling} {key} work against {held_at_broker[key]} held",
                )
        if cancelled:
            self.alert(
                "uncovered_sells_cancelled",
                "working sells beyond the broker's position cancelled (they could leave the account short): "
                + ", ".join(cancelled),
                {"intents": cancelled},
            )
        return cancelled

    async def _position_differences(self, report: ReconcileReport) -> Counter[str]:
        positions = await self.broker.positions()
        actual: Counter[str] = Counter()
        for position in positions:
            if position.contract is not None and position.contract.symbol == "VIX":
                actual[position.contract.key] += int(position.quantity)
        self._write_off_expired(report, actual)
        expected: Counter[str] = Counter()
        owner: dict[str, str] = {}
        for slot_id, layer in self.store.layers().items():
            if layer is not None:
                expected[layer.contract.key] += layer.quantity
                owner[layer.contract.key] = slot_id
        for slot_id, layer in self.store.incoming().items():
            expected[layer.contract.key] += layer.quantity
            owner[layer.contract.key] = f"{slot_id} (incoming)"
        for key, (layer, _) in self.store.leftovers().items():
            expected[key] += layer.quantity
            owner[key] = "leftover"
        for key in sorted(set(actual) | set(expected)):
            if key not in expected:
                if actual[key] != 0:
                    report.foreign_positions.append(f"{actual[key]:+d} {key}")
                continue
            if actual[key] != expected[key]:
                report.mismatches.append(
                    f"{owner[key]} should hold {expected[key]} {key}, the broker shows {actual[key]}"
                )
        return actual


def _by_order_ref(open_trades: list[Trade], completed: list[Trade]) -> dict[str, Trade]:
    found: dict[str, Trade] = {}
    for trade in completed:
        if trade.order.orderRef:
            found[trade.order.orderRef] = trade
    for trade in open_trades:  # an open order is the more current view
        if trade.order.orderRef:
            found[trade.order.orderRef] = trade
    return found
