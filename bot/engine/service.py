"""The unattended bot: startup, scheduled and manual evaluations, halt/resume, status, shutdown.

One evaluation (a *cycle*): reconcile -> build the market snapshot and the book -> journal the inputs ->
plan -> journal the decision -> gates and executor -> journal every intent, order and fill. Every
evaluation is recorded, "no action" and "refused" with their reasons. A rebalance is written to the
store *before* its first order is sent, so a crash mid-rebalance can never reset the weekly cap; it is
withdrawn only if no rebalance order was sent at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from bot.broker.connection import LinkEvent
from bot.broker.errors import AccountGuardError, BrokerError
from bot.broker.session import HELD, Broker
from bot.calendar import ExchangeCalendar
from bot.clock import Clock
from bot.config import BotConfig
from bot.control.protocol import SOCKET_NAME, ControlRequest, ControlResponse
from bot.control.server import ControlServer, Peer
from bot.engine.alerts import Alert, Alerter
from bot.engine.book import BOOK_HISTORY, build_book
from bot.engine.crash_points import crash_point
from bot.engine.executor import Executor, Outcome
from bot.engine.instance import InstanceLock, write_heartbeat
from bot.engine.order_state import LIVE, IntentStatus
from bot.engine.reconcile import Reconciler
from bot.engine.schedule import next_evaluation
from bot.journal import Journal, code_version, journal_dir
from bot.store.database import Store
from strategies.alvh.models import REBALANCE_ROLES, Book, EvaluationRequest, Plan
from strategies.alvh.planner import plan as make_plan

log = structlog.get_logger(__name__)

HEARTBEAT_EVERY = dt.timedelta(seconds=10)
LINK_WAIT_WALL_SECONDS = 20.0


@dataclass
class EvaluationResult:
    cycle_id: str | None
    trigger: str
    summary: str
    rebalance: bool = False
    orders_sent: int = 0
    refused: list[str] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    next_rebalance_allowed: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "cycle_id": self.cycle_id,
            "trigger": self.trigger,
            "summary": self.summary,
            "rebalance": self.rebalance,
            "orders_sent": self.orders_sent,
            "refused": self.refused,
            "outcomes": [
                {"intent_id": o.intent_id, "kind": o.kind, "status": o.status, "filled": o.filled, "message": o.message}
                for o in self.outcomes
            ],
            "next_rebalance_allowed": self.next_rebalance_allowed,
            "error": self.error,
        }


@dataclass
class _ManualRequest:
    request: EvaluationRequest
    answer: asyncio.Future[EvaluationResult]


class BotService:
    def __init__(self, config: BotConfig, clock: Clock, *, dry_run: bool = False) -> None:
        self.config = config
        self.clock = clock
        self.dry_run = dry_run
        self.state_dir = Path(config.state.dir)
        self.calendar = ExchangeCalendar(config.strategy.schedule.calendar)
        self.timezone = ZoneInfo(config.strategy.schedule.timezone)
        self.alerter = Alerter(config.alerts)
        self.lock = InstanceLock(self.state_dir)
        self.store: Store | None = None
        self.journal: Journal | None = None
        self.broker = Broker(config, clock, self._on_link_event)
        self.executor: Executor | None = None
        self.reconciler: Reconciler | None = None
        self.control = ControlServer(self.state_dir / SOCKET_NAME, self._on_control)
        self._manual: asyncio.Queue[_ManualRequest] = asyncio.Queue()
        self._stop = asyncio.Event()
        self._needs_reconcile = True
        self._resubscribe = False
        self._disconnected_since: dt.datetime | None = None
        self._disconnected_wall: float | None = None
        self._disconnect_alerted = False
        self._last_heartbeat: dt.datetime | None = None
        self.last_plan: Plan | None = None
        self.evaluations: list[EvaluationResult] = []
        self.started = asyncio.Event()
        self._launched: dt.datetime | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Lock the state dir, open the store, connect (retrying), open the journal, reconcile, listen."""
        # When the bot came up: a scheduled evaluation after it that passes while it connects and reconciles
        # still runs. A clock that follows the gateway is only right once it has synced.
        attach = getattr(self.clock, "attach", None)
        self._launched = None if attach is not None else self.clock.now()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.lock.acquire()
        self.store = Store.open(self.state_dir / "state.sqlite")
        await self._connect_until_up()
        if attach is not None:  # a clock that follows the gateway's time (--clock gateway)
            attach(self.broker.ib)
            await self.clock.sync()  # type: ignore[attr-defined]
            self.clock.start()  # type: ignore[attr-defined]
            self._launched = self.clock.now()
        mode = self.broker.connection.mode or "paper"
        self.journal = Journal.open(
            journal_dir(self.state_dir),
            clock=self.clock.now,
            code_version=code_version(),
            config_hash=self.config.strategy_hash(),
            mode=mode,  # type: ignore[arg-type]
            account=self.broker.connection.account,
        )
        self.executor = Executor(self.broker, self.store, self.journal, self.config, self.clock, self._alert)
        self.reconciler = Reconciler(
            self.broker, self.store, self.journal, self.executor, self.config, self.clock, self.halt, self._alert
        )
        self.journal.record_operator(
            "start", reason=None, details={"dry_run": self.dry_run, "mode": mode, "pid": os.getpid()}
        )
        await self._reconcile("startup")
        await self.control.start()
        self.started.set()

    async def _connect_until_up(self) -> None:
        while not self._stop.is_set():
            try:
                await self.broker.start()
                return
            except AccountGuardError:
                raise
            except BrokerError as error:
                log.warning("gateway_unreachable", error=str(error))
                self._mark_disconnected()
                await asyncio.sleep(5.0)
        raise asyncio.CancelledError

    async def run(self, until: dt.datetime | None = None, once: bool = False) -> None:
        """Serve until stopped (SIGTERM/SIGINT), until the clock reaches ``until``, or after one evaluation."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, self._stop.set)
        try:
            await self.start()
            if once:
                await self.evaluate(EvaluationRequest(trigger="scheduled"))
                return
            await self._serve(until, self._launched or self.clock.now())
        finally:
            await self.shutdown()

    async def _serve(self, until: dt.datetime | None, launched: dt.datetime) -> None:
        schedule = self.config.strategy.schedule
        # From the launch, not from the end of start-up: a scheduled time that passed while the bot connected
        # and reconciled still runs, once, as soon as it is up.
        due = next_evaluation(launched, self.calendar, schedule)
        while not self._stop.is_set():
            now = self.clock.now()
            if until is not None and now >= until:
                return
            wake = min(due, until) if until is not None else due
            manual = await self._wait(wake)
            if manual is not None:
                result = await self.evaluate(manual.request)
                if not manual.answer.done():
                    manual.answer.set_result(result)
            elif self.clock.now() >= due:
                await self.evaluate(EvaluationRequest(trigger="scheduled"), scheduled_for=due)
                due = self._next_due(due)

    def _next_due(self, previous: dt.datetime) -> dt.datetime:
        """The evaluation after ``previous``. If the one just run overran it, it still runs, once, now; a
        backlog older than a day (the bot was down, not late) is not replayed."""
        schedule = self.config.strategy.schedule
        following = next_evaluation(previous, self.calendar, schedule)
        now = self.clock.now()
        if following <= now - dt.timedelta(days=1):
            return next_evaluation(now, self.calendar, schedule)
        return following

    async def _wait(self, wake: dt.datetime) -> _ManualRequest | None:
        """Sleep until ``wake`` (clock time), doing housekeeping, unless an operator request or stop comes."""
        while not self._stop.is_set() and self.clock.now() < wake:
            with contextlib.suppress(asyncio.QueueEmpty):
                return self._manual.get_nowait()
            await self._housekeeping()
            step = min(wake, self.clock.now() + HEARTBEAT_EVERY)
            getter = asyncio.ensure_future(self._manual.get())
            sleeper = asyncio.ensure_future(self.clock.sleep_until(step))
            stopper = asyncio.ensure_future(self._stop.wait())
            done, pending = await asyncio.wait({getter, sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            if getter in done:
                return getter.result()
        return None

    def stop(self) -> None:
        self._stop.set()

    async def shutdown(self) -> None:
        """Finish cleanly: answer waiting operators, stop listening, close the journal and store."""
        while not self._manual.empty():
            pending = self._manual.get_nowait()
            if not pending.answer.done():
                pending.answer.set_result(EvaluationResult(None, pending.request.trigger, "the bot is shutting down"))
        with contextlib.suppress(Exception):
            await self.control.stop()
        if self.executor is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.executor.drain(), timeout=30)
        await self.alerter.drain()
        if self.journal is not None:
            with contextlib.suppress(Exception):
                self.journal.record_operator("stop", reason=None, details={"pid": os.getpid()})
            self.journal.close()
            self.journal = None
        with contextlib.suppress(Exception):
            await self.broker.close()
        if self.store is not None:
            self.store.close()
            self.store = None
        self.lock.release()

    # ------------------------------------------------------------------ evaluation

    async def evaluate(self, request: EvaluationRequest, scheduled_for: dt.datetime | None = None) -> EvaluationResult:
        assert self.journal is not None and self.store is not None and self.executor is not None
        started = time.monotonic()
        await self._await_link()
        details: dict[str, Any] = {"operator": request.operator, "reason": request.reason}
        if scheduled_for is not None:
            details["scheduled_for"] = scheduled_for.astimezone(dt.UTC).isoformat()
            details["late_seconds"] = round((self.clock.now() - scheduled_for).total_seconds(), 1)
        with self.journal.cycle(trigger=request.trigger, **details) as cycle:
            try:
                result = await self._evaluate(request, cycle)
            except (BrokerError, ConnectionError) as error:
                text = str(error) or type(error).__name__
                if isinstance(error, ConnectionError):
                    text = f"connection to the gateway lost during the evaluation ({text})"
                self.journal.record_error("evaluation", f"no evaluation: {text}")
                result = EvaluationResult(cycle, request.trigger, f"no action: {text}", error=text)
            except Exception as error:  # recorded and survived: an unattended bot must not die on one cycle
                log.exception("evaluation_failed")
                self.journal.record_error("evaluation", f"{type(error).__name__}: {error}")
                result = EvaluationResult(cycle, request.trigger, f"failed: {error}", error=str(error))
        self.evaluations.append(result)
        del self.evaluations[:-50]
        log.info(
            "evaluation",
            trigger=request.trigger,
            summary=result.summary,
            wall_seconds=round(time.monotonic() - started, 3),
        )
        return result

    async def _await_link(self) -> None:
        """A gateway restart (IB's daily one) must not cost an evaluation: wait a little for the link."""
        limit = time.monotonic() + LINK_WAIT_WALL_SECONDS
        while not (self.broker.connection.connected and not self._needs_reconcile) and time.monotonic() < limit:
            if self._stop.is_set():
                return
            if self._needs_reconcile and self.broker.connection.connected:
                with contextlib.suppress(BrokerError, ConnectionError):
                    await self._reconcile("before an evaluation")
                continue
            await asyncio.sleep(0.05)

    async def _evaluate(self, request: EvaluationRequest, cycle_id: str) -> EvaluationResult:
        assert self.journal is not None and self.store is not None and self.executor is not None
        if not self.broker.connection.connected:
            raise BrokerError("not connected to the gateway")
        phase = time.monotonic()
        # Every cycle starts from a reconciled book: a position changed by hand since the last look halts the bot
        # here, before anything is planned on a book that is no longer true.
        await self._reconcile("before an evaluation")
        reconciled = time.monotonic()
        held = [layer.contract for layer in self.store.layers().values() if layer]
        held += [layer.contract for layer in self.store.incoming().values()]
        inputs = await self.broker.market_inputs(request, held, candidates=self._may_rebalance(request))
        gathered = time.monotonic()
        result = await self._plan_and_execute(request, cycle_id, inputs)
        log.info(
            "evaluation_phases",
            reconcile_s=round(reconciled - phase, 3),
            market_inputs_s=round(gathered - reconciled, 3),
            plan_and_execute_s=round(time.monotonic() - gathered, 3),
            missing_quotes=len(inputs.missing_quotes),
            missing_sample=inputs.missing_quotes[:6],
        )
        return result

    def _may_rebalance(self, request: EvaluationRequest) -> bool:
        """Whether this evaluation could rebalance at all: only then are candidate contracts fetched and
        streamed (the planner decides; this only spares market data lines and requests)."""
        from strategies.alvh.schedule import rebalance_permission, trading_window

        assert self.store is not None
        now = self.clock.now()
        today = now.astimezone(self.timezone).date()
        sessions = self.calendar.sessions_between(today, today + dt.timedelta(days=7))
        window = trading_window(now, sessions, self.config.strategy.schedule)
        # The weekly cap and the catch-up rule read only the rebalance history, not the layers or orders.
        history = Book(
            recent_rebalances=self.store.rebalances_since(now - BOOK_HISTORY),
            last_rebalance_opportunity=self.store.last_rebalance_opportunity(),
        )
        return rebalance_permission(now, request, history, window, self.config.strategy.schedule).allowed

    async def _plan_and_execute(self, request: EvaluationRequest, cycle_id: str, inputs: Any) -> EvaluationResult:
        assert self.journal is not None and self.store is not None and self.executor is not None
        if inputs.missing_quotes:
            log.info("quotes_missing", count=len(inputs.missing_quotes))
        now = inputs.snapshot.as_of
        book = build_book(self.store, inputs.condor_legs, now)
        recorded = self.journal.record_snapshot(inputs.snapshot, book, self.config.strategy)
        plan = make_plan(recorded.snapshot, recorded.book, recorded.config)
        decision = self.journal.record_decision(plan, recorded.snapshot_hash)
        self.last_plan = plan
        self.store.set("premium_cap", plan.record.budget.cap)
        evaluation = plan.record.evaluation
        self._check_missed_week(now)
        if evaluation.rebalance_opportunity:
            self.store.set_last_rebalance_opportunity(now)
        for text in plan.record.alerts:
            self._alert("plan", text, {"cycle": cycle_id})
        result = EvaluationResult(cycle_id, request.trigger, plan.record.summary, refused=list(plan.record.refusals))
        if not evaluation.rebalance_allowed and request.trigger != "scheduled":
            result.next_rebalance_allowed = self._next_allowed(evaluation.rebalance_rule)
        if self.dry_run:
            self.journal.record_gate(
                "dry_run", False, "dry run: nothing is sent", intent_ids=[a.intent_id for a in plan.actions]
            )
            result.summary = f"dry run: {plan.record.summary}"
            return result
        if not plan.actions:
            return result
        forced = request.trigger == "forced"
        if plan.is_rebalance:
            self.store.add_rebalance(now, cycle_id, forced, request.operator, request.reason)
            crash_point("mid_rebalance")
        quotes = {q.contract.key: q for q in recorded.snapshot.vix_options}
        outcomes = await self.executor.execute(
            plan,
            cycle_id=cycle_id,
            decision_seq=decision.seq,
            quotes=quotes,
            contracts=dict(inputs.option_contracts),
            sessions=recorded.snapshot.sessions,
        )
        result.outcomes = outcomes
        sent = [o for o in outcomes if o.status not in ("refused", "skipped") and o.kind != "migrate"]
        result.orders_sent = len(sent)
        rebalance_sent = [
            o
            for o, a in zip(outcomes, plan.actions, strict=True)
            if a.role in REBALANCE_ROLES and o.status not in ("refused", "skipped")
        ]
        result.rebalance = bool(rebalance_sent)
        if plan.is_rebalance and not rebalance_sent:
            self._withdraw_rebalance(now)
        result.summary = f"{plan.record.summary}; {len(sent)} sent"
        return result

    def _check_missed_week(self, now: dt.datetime) -> None:
        """Alert once when an ISO week ended without any chance to rebalance (the bot was down or disconnected
        on the rebalance day and at every evaluation after it that week)."""
        assert self.store is not None
        week = now.astimezone(self.timezone).isocalendar()[:2]
        checked = self.store.get("missed_week_checked")
        if checked == list(week):
            return
        self.store.set("missed_week_checked", list(week))
        last = self.store.last_rebalance_opportunity()
        previous = (now - dt.timedelta(days=7)).astimezone(self.timezone).isocalendar()[:2]
        had_sessions = any(
            s.date.isocalendar()[:2] == previous
            for s in self.calendar.sessions_between(now.date() - dt.timedelta(days=14), now.date())
        )
        started = self.store.get("first_started")
        if started is None:
            self.store.set("first_started", now.isoformat())
            return
        if dt.datetime.fromisoformat(started).astimezone(self.timezone).isocalendar()[:2] >= previous:
            return  # the bot was not running for the whole of last week: nothing to miss
        if had_sessions and (last is None or last.astimezone(self.timezone).isocalendar()[:2] < previous):
            self._alert(
                "missed_rebalance",
                f"no rebalance opportunity in ISO week {previous[0]}-W{previous[1]:02d}: the hedge was not "
                "rolled or refilled that week",
                {"week": f"{previous[0]}-W{previous[1]:02d}"},
            )

    def _withdraw_rebalance(self, at: dt.datetime) -> None:
        assert self.store is not None
        self.store.remove_rebalance(at)

    def _next_allowed(self, rule: str) -> str | None:
        if "weekly cap" not in rule:
            return None
        now = self.clock.now().astimezone(self.timezone)
        monday = (now + dt.timedelta(days=7 - now.weekday())).date()
        session = self.calendar.next_session(dt.datetime.combine(monday, dt.time(0, 0), self.timezone))
        return f"the next ISO week: from {session.date.isoformat()} (or now with --force --reason)"

    # ------------------------------------------------------------------ reconciliation, halt

    async def _reconcile(self, reason: str) -> None:
        assert self.reconciler is not None
        if not self.broker.connection.connected:
            return
        if self._resubscribe:
            self.broker.market.resubscribe_all()
            self._resubscribe = False
        self._needs_reconcile = False  # claimed now, so housekeeping does not start a second one meanwhile
        try:
            await self.reconciler.reconcile(reason)
        except BaseException:
            self._needs_reconcile = True
            raise
        self.broker.market.mark_healthy()

    async def halt(
        self, reason: str, source: str, operator: str | None = None, cancel_harvest: bool = False
    ) -> list[str]:
        """Stop new orders (persisted) and cancel the bot's working orders (harvest ladders only if asked)."""
        assert self.store is not None and self.journal is not None
        self.store.set_halt(reason, operator or source, self.clock.now())
        cancelled = []
        if self.broker.connection.connected:
            for intent in self.store.intents(statuses=list(LIVE)):
                if intent.role == "harvest" and not cancel_harvest:
                    continue
                trade = self.broker.orders.trade_for(intent.intent_id)
                if trade is not None and not trade.isDone():
                    self.broker.orders.cancel(trade)
                    cancelled.append(intent.intent_id)
        self.journal.record_halt(reason, source=source, operator=operator, cancelled_intent_ids=cancelled)
        self._alert("halt", f"halted by {operator or source}: {reason}", {"cancelled": cancelled})
        return cancelled

    def resume(self, operator: str, reason: str | None) -> None:
        assert self.store is not None and self.journal is not None
        self.store.clear_halt()
        self.journal.record_resume(reason or "resumed", source="operator", operator=operator)

    # ------------------------------------------------------------------ events and housekeeping

    def _on_link_event(self, event: LinkEvent) -> None:
        log.info("link_event", kind=event.kind, detail=event.detail)
        if event.kind in ("disconnected", "ib_lost"):
            self.broker.market.mark_break()
            self._mark_disconnected()
        elif event.kind == "reconnected":
            self._resubscribe = True
            self._needs_reconcile = True
            self._mark_connected()
            asyncio.get_running_loop().create_task(self._reconcile("reconnect"))
        elif event.kind == "ib_restored_data_lost":
            self._resubscribe = True
            self._needs_reconcile = True
            self._mark_connected()
            asyncio.get_running_loop().create_task(self._reconcile("IB connectivity restored (data lost, 1101)"))
        elif event.kind == "ib_restored":
            self._needs_reconcile = True
            self._mark_connected()
        elif event.kind in ("fatal", "read_only", "trading_blocked", "account_refused"):
            self._alert(event.kind, event.detail, {})
            if event.error is not None and event.error.code == 103:
                asyncio.get_running_loop().create_task(self.halt("duplicate order id (103)", "broker"))
        if self.journal is not None and event.kind not in ("error",):
            with contextlib.suppress(Exception):
                self.journal.record_alert(f"link_{event.kind}", event.detail or event.kind, severity="info")

    def _mark_disconnected(self) -> None:
        if self._disconnected_since is None:
            self._disconnected_since = self.clock.now()
            self._disconnected_wall = time.monotonic()
            self._disconnect_alerted = False

    def _mark_connected(self) -> None:
        self._disconnected_since = None
        self._disconnected_wall = None

    async def _housekeeping(self) -> None:
        now = self.clock.now()
        limit = self.config.alerts.disconnected_alert_seconds
        down = self._disconnected_since
        # An outage is measured in wall time: a simulated clock jumping over a closed night is not one.
        outage = None if self._disconnected_wall is None else time.monotonic() - self._disconnected_wall
        if down is not None and outage is not None and not self._disconnect_alerted and outage > limit:
            self._disconnect_alerted = True
            self._alert("disconnected", f"disconnected from the gateway since {down.isoformat()}", {})
        if self._needs_reconcile and self.broker.connection.connected:
            with contextlib.suppress(BrokerError):
                await self._reconcile("housekeeping")
        if self._last_heartbeat is None or now - self._last_heartbeat >= HEARTBEAT_EVERY:
            self._last_heartbeat = now
            write_heartbeat(
                self.state_dir,
                now,
                {
                    "connected": self.broker.connection.connected,
                    "halted": bool(self.store and self.store.halt_state()),
                    "evaluations": len(self.evaluations),
                },
            )

    def _alert(self, kind: str, message: str, details: dict[str, object]) -> None:
        self.alerter.raise_alert(Alert(kind, message, self.clock.now(), dict(details)))
        if self.journal is not None and kind not in ("plan",):
            with contextlib.suppress(Exception):
                self.journal.record_alert(
                    kind, message, severity="critical" if kind == "halt" else "warning", details=details
                )
        elif self.journal is not None:
            with contextlib.suppress(Exception):
                self.journal.record_alert("plan", message, severity="warning")

    # ------------------------------------------------------------------ control channel

    async def _on_control(self, request: ControlRequest, peer: Peer) -> ControlResponse:
        assert self.journal is not None
        if request.command == "ping":
            return ControlResponse(ok=True, exit_code=0, message="pong")
        if request.command == "status":
            from bot.engine.status import status_document

            return ControlResponse(ok=True, exit_code=0, message="status", data=status_document(self))
        self.journal.record_operator(
            request.command,
            reason=request.reason,
            os_user=peer.user,
            force=request.force,
            details={"cancel_harvest": request.cancel_harvest, "pid": peer.pid},
        )
        if request.command == "halt":
            cancelled = await self.halt(request.reason or "", "operator", peer.user, request.cancel_harvest)
            return ControlResponse(
                ok=True,
                exit_code=0,
                message=f"halted; {len(cancelled)} working orders cancelled",
                data={"cancelled": cancelled},
            )
        if request.command == "resume":
            assert self.store is not None
            was = self.store.halt_state()
            self.resume(peer.user, request.reason)
            message = "resumed" if was else "was not halted"
            return ControlResponse(ok=True, exit_code=0, message=message)
        trigger = "forced" if request.force else "manual"
        answer: asyncio.Future[EvaluationResult] = asyncio.get_running_loop().create_future()
        await self._manual.put(
            _ManualRequest(EvaluationRequest(trigger=trigger, operator=peer.user, reason=request.reason), answer)
        )
        result = await answer
        refused_by_cap = result.next_rebalance_allowed is not None and not result.rebalance
        ok = result.error is None and not refused_by_cap
        message = result.summary
        if refused_by_cap:
            message = f"refused: weekly rebalance cap used; next allowed {result.next_rebalance_allowed}"
        return ControlResponse(ok=ok, exit_code=0 if ok else 1, message=message, data=result.to_json())


__all__ = ["HELD", "BotService", "EvaluationResult", "IntentStatus"]
