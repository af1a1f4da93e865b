"""The embedded paper gateway: an asyncio TWS API server on loopback.

``GatewayServer`` wires the clock, market model, listings, paper account and exchange to client
sessions, runs the engine (time events, matching, market data publishing, account updates, state
persistence) and exposes ``faults``. Use it from tests::

    server = GatewayServer(port=0, scenario="default", seed=1, start=..., speed=60)
    await server.start()
    ib = IB(); await ib.connectAsync("127.0.0.1", server.port, clientId=1)
    ...
    await server.stop()

or from another thread with ``bot.sim.threaded.ThreadedGateway``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import math
import random
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from bot.calendar import ExchangeCalendar
from bot.clock import Clock, SimulatedClock, crosses_daily_reset
from bot.sim import messages as m
from bot.sim.account import PaperAccount
from bot.sim.bars import BarBuilder
from bot.sim.exchange import PaperExchange
from bot.sim.faults import Faults
from bot.sim.history import load_replay_data
from bot.sim.listings import MARKET_RULES, Listings, round_to_tick
from bot.sim.market import DELAYED_BY, MarketModel
from bot.sim.orders import OrderBook, valid_price
from bot.sim.protocol import ADMIN_PREFIX, API_PREFIX, Field, encode_message
from bot.sim.records import ExecutionRecord, Instrument, OrderRecord, Quote
from bot.sim.scenarios import Scenario, build_positions, load_scenario
from bot.sim.session import ClientSession, Subscription
from bot.sim.state import GatewayState, StateError, load_state, save_state

NEW_YORK = ZoneInfo("America/New_York")
DEFAULT_ACCOUNT = "DU1234567"
ACCOUNT_UPDATE_CLOCK_SECONDS = 180.0
PERSIST_INTERVAL = 5.0
log = structlog.get_logger(__name__)


class GatewayConfigError(ValueError):
    """The gateway cannot start with these options."""


def require_loopback(host: str) -> str:
    """Only loopback addresses: the paper gateway must never be reachable from the network."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror as error:
        raise GatewayConfigError(f"cannot resolve host {host!r}: {error}") from None
    for address in addresses:
        if not ipaddress.ip_address(str(address).split("%")[0]).is_loopback:
            raise GatewayConfigError(
                f"host {host!r} is not a loopback address; the paper gateway listens on loopback only"
            )
    return host


def default_start(calendar: ExchangeCalendar, wall: dt.datetime | None = None) -> dt.datetime:
    """Now if the market is open, else five minutes after the next session opens."""
    now = wall or dt.datetime.now(dt.UTC)
    if calendar.is_open(now):
        return now
    return calendar.next_session(now).open + dt.timedelta(minutes=5)


def effective_data_type(requested: int, in_session: bool) -> int:
    """Frozen types (2, 4) show live/delayed data while the market is open, frozen data when closed."""
    if requested == 2:
        return 1 if in_session else 2
    if requested == 4:
        return 3 if in_session else 4
    return requested


class GatewayServer:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        scenario: str | Scenario = "default",
        seed: int = 1,
        speed: float = 1.0,
        start: dt.datetime | None = None,
        state_path: Path | None = None,
        clock: Clock | None = None,
        account: str | None = None,
        history_dir: Path | None = None,
        daily_restart: bool | None = None,
        tick_interval: float | None = None,
        restart_downtime: float = 0.5,
        calendar: ExchangeCalendar | None = None,
    ) -> None:
        self.host = require_loopback(host)
        self.requested_port = port
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario, history_dir)
        self.seed = int(seed)
        if not speed > 0:
            raise GatewayConfigError(f"speed must be > 0, got {speed}")
        self.speed = float(getattr(clock, "speed", speed)) if clock is not None else float(speed)
        self.state_path = state_path
        self.calendar = calendar or ExchangeCalendar()
        self.restart_downtime = restart_downtime
        self.tick_interval = tick_interval or min(0.25, max(0.05, 0.25 / self.speed))
        saved = load_state(state_path) if state_path is not None else None
        if saved is not None and (saved.scenario != self.scenario.name or saved.seed != self.seed):
            raise GatewayConfigError(
                f"{state_path} belongs to scenario {saved.scenario!r} seed {saved.seed}; "
                f"start with those (or use another state file)"
            )
        self._saved = saved
        if saved is not None and start is not None and start < saved.clock_time:
            raise GatewayConfigError(
                f"--start {start.isoformat()} is before the time {state_path} was saved at "
                f"({saved.clock_time.isoformat()}); a paper gateway's clock does not run backwards"
            )
        if clock is None:
            begin = start or (saved.clock_time if saved else None) or self.scenario.start
            begin = begin or default_start(self.calendar)
            if begin.tzinfo is None:
                raise GatewayConfigError("start must be timezone-aware")
            clock = SimulatedClock(begin, speed=speed, calendar=self.calendar)
        self.clock: Clock = clock
        self.daily_restart = isinstance(clock, SimulatedClock) if daily_restart is None else daily_restart
        anchor = saved.anchor if saved else self.clock.now()
        replay = load_replay_data(self.scenario.history_dir) if self.scenario.history_dir else None
        self.model = MarketModel(
            self.scenario.parameters,
            self.seed,
            anchor,
            calendar=self.calendar,
            replay=replay,
            shocks=saved.shocks if saved else (),
        )
        self.listings = Listings(self.calendar, spx_reference=round(self.model.state(anchor).spx / 5) * 5)
        self.account_id = (saved.account if saved else None) or account or self.scenario.account or DEFAULT_ACCOUNT
        if account and saved and account != saved.account:
            raise GatewayConfigError(f"{state_path} holds account {saved.account}, not {account}")
        paper = PaperAccount(self.account_id, saved.cash if saved else self.scenario.cash)
        if saved:
            paper.realized_pnl = saved.realized_pnl
            paper.commissions = saved.commissions
            for position in saved.positions:
                paper.positions[position.con_id] = position
            book = OrderBook(
                next_perm_id=saved.next_perm_id,
                exec_prefix=saved.exec_prefix,
                exec_sequence=saved.exec_sequence,
                orders={order.perm_id: order for order in saved.orders},
                executions=list(saved.executions),
                max_order_id=dict(saved.max_order_id),
            )
        else:
            for seeded in build_positions(self.scenario, self.model, self.listings, anchor):
                paper.seed_position(seeded.instrument.con_id, seeded.quantity, seeded.average_cost)
                paper.cash -= seeded.quantity * seeded.average_cost
            generator = random.SystemRandom()
            book = OrderBook(
                next_perm_id=generator.randrange(100_000_000, 900_000_000),
                exec_prefix=f"{generator.randrange(16**8):08x}",
            )
        self.exchange = PaperExchange(self.model, self.listings, paper, book, self)
        self.bar_builder = BarBuilder(self.model, self.listings)
        self.faults = Faults(self)
        self.sessions: set[ClientSession] = set()
        self._server: asyncio.base_events.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._engine: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._listening = False
        self._resume_handle: asyncio.TimerHandle | None = None
        self.port = 0
        # Resuming from state, the time between the save and now still has its events (closes, expiries).
        self._last_now = min(saved.clock_time, self.clock.now()) if saved else self.clock.now()
        self._last_account_push = (time.monotonic(), self._last_now)
        self._last_persist = 0.0
        self._last_history_push = 0.0
        self.admin_handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any] | None = None
        # Benchmark hook: called for every line that got ticks, with (client id, reqId, bid, ask, the
        # perf_counter() at which this cycle's quotes were computed).
        self.publish_observer: Callable[[int, int, object, object, float], None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self.admin_handler is None:
            from bot.sim.admin import AdminHandler

            self.admin_handler = AdminHandler(self).handle
        await self._listen(self.requested_port)
        self._persist()
        self._engine = asyncio.create_task(self._run_engine(), name="alvh-gateway-engine")
        log.info(
            "paper gateway listening",
            host=self.host,
            port=self.port,
            scenario=self.scenario.name,
            seed=self.seed,
            clock=self.clock.now().isoformat(),
            account=self.account_id,
        )

    async def _listen(self, port: int) -> None:
        self._server = await asyncio.start_server(self._on_connect, self.host, port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        self._listening = True

    async def stop(self) -> None:
        if self._engine is not None:
            self._engine.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._engine
            self._engine = None
        if self._resume_handle is not None:
            self._resume_handle.cancel()
        if self._server is not None:
            self._server.close()
            self._server = None
        self._listening = False
        for session in list(self.sessions):
            session.abort()
        if self._tasks:
            # Aborted transports end their sessions' read loops; cancel only what does not finish.
            _, pending = await asyncio.wait(list(self._tasks), timeout=2.0)
            for task in pending:
                task.cancel()
        self._persist()
        log.info("paper gateway stopped", port=self.port)

    def loop_call_later(self, delay: float, callback: Callable[[], Any]) -> None:
        assert self._loop is not None
        self._loop.call_later(delay, callback)

    def today(self) -> dt.date:
        return self.clock.now().astimezone(NEW_YORK).date()

    # -- connections ---------------------------------------------------------------------------------

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            prefix = await asyncio.wait_for(reader.readexactly(4), timeout=10)
            if prefix == API_PREFIX:
                session = ClientSession(self, reader, writer)
                self.sessions.add(session)
                await session.run(prefix_read=True)
            elif prefix == ADMIN_PREFIX and self.admin_handler is not None:
                await self.admin_handler(reader, writer)
            else:
                writer.transport.abort()
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            writer.transport.abort()
        finally:
            if task is not None:
                self._tasks.discard(task)

    def session_closed(self, session: ClientSession) -> None:
        if session in self.sessions:
            self.sessions.discard(session)
            if session.client_id is not None:
                log.info("client disconnected", client_id=session.client_id, peer=session.peer)

    def client_id_taken(self, client_id: int, asking: ClientSession) -> bool:
        return any(s is not asking and s.ready and not s.closed and s.client_id == client_id for s in self.sessions)

    def next_valid_id(self, client_id: int, lowered: bool = True) -> int:
        override = self.faults.state.next_valid_id
        if lowered and override is not None:
            return override
        return self.exchange.book.max_order_id.get(client_id, 0) + 1

    def drop_sessions(self, client_id: int | None = None) -> int:
        dropped = 0
        for session in list(self.sessions):
            if client_id is None or session.client_id == client_id:
                session.abort()
                dropped += 1
        if dropped:
            log.info("connections dropped", count=dropped, client_id=client_id)
        return dropped

    def pause_listening(self, seconds: float) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        self._listening = False
        if self._resume_handle is not None:
            self._resume_handle.cancel()
        assert self._loop is not None
        self._resume_handle = self._loop.call_later(seconds, self.resume_listening)
        log.info("refusing connections", seconds=seconds)

    def resume_listening(self) -> None:
        if self._resume_handle is not None:
            self._resume_handle.cancel()
            self._resume_handle = None
        if self._listening or self._loop is None:
            return
        self.faults.state.refuse_until = 0.0
        task = self._loop.create_task(self._relisten())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _relisten(self) -> None:
        """Listen on the same port again; retry while the operating system still holds it."""
        for attempt in range(50):
            try:
                await self._listen(self.port)
                log.info("accepting connections again", port=self.port)
                return
            except OSError as error:
                if attempt == 0:
                    log.warning("cannot listen again yet; retrying", port=self.port, error=str(error))
                await asyncio.sleep(0.2)
        log.error("gave up listening again", port=self.port)

    def ready_sessions(self, client_id: int | None = None) -> list[ClientSession]:
        return [
            s for s in self.sessions if s.ready and not s.closed and (client_id is None or s.client_id == client_id)
        ]

    # -- connectivity and market-data faults ------------------------------------------------------------

    def connectivity_lost(self) -> None:
        for session in self.ready_sessions():
            session.connectivity_lost()

    def connectivity_restored(self, data_lost: bool) -> None:
        for session in self.ready_sessions():
            session.connectivity_restored(data_lost)

    def competing_session_changed(self, active: bool) -> None:
        for session in self.ready_sessions():
            for subscription in session.subscriptions.values():
                if active:
                    session.error(subscription.req_id, 10197, "No market data during competing live session")
                else:
                    subscription.sent.clear()

    def quotes_faulted(self, con_id: int) -> None:
        for session in self.ready_sessions():
            for subscription in session.subscriptions.values():
                if subscription.instrument.con_id == con_id:
                    subscription.frozen = None

    def market_data_lines_in_use(self) -> int:
        return sum(len(s.subscriptions) for s in self.ready_sessions())

    # -- notifier (exchange events -> sessions) ---------------------------------------------------------

    def order_changed(self, order: OrderRecord, instrument: Instrument, announce: bool) -> None:
        for session in self.ready_sessions(order.client_id):
            reply = session.current_reply
            if announce:
                session.send_event(m.open_order(session.version, order, instrument), reply)
            session.send_event(m.order_status(order), reply)

    def order_filled(self, order: OrderRecord, execution: ExecutionRecord, instrument: Instrument) -> None:
        repeats = 2 if self.faults.state.consume_duplicate() else 1
        for session in self.ready_sessions(order.client_id):
            for _ in range(repeats):
                session.send_event(m.execution_details(session.version, -1, execution, instrument))
                session.send_event(m.commission_report(execution))
            session.send_event(m.order_status(order))
            if not order.is_active:
                session.send_event(m.open_order(session.version, order, instrument))

    def order_cancelled(self, order: OrderRecord, instrument: Instrument, reason: str) -> None:
        for session in self.ready_sessions(order.client_id):
            reply = session.current_reply
            session.send_event(m.order_status(order), reply)
            session.send_event(
                m.error(session.version, order.order_id, 202, f"Order Canceled - reason:{reason}"), reply
            )

    def positions_changed(self, con_ids: Sequence[int]) -> None:
        account = self.exchange.account
        for session in self.ready_sessions():
            if session.positions_subscribed:
                for con_id in con_ids:
                    position = account.positions.get(con_id)
                    if position is not None:
                        session.send_event(m.position(self.account_id, self.exchange.instrument(con_id), position))
            if session.account_subscribed:
                session.send_account_update(list(con_ids))

    def state_changed(self) -> None:
        self._persist()

    # -- persistence -------------------------------------------------------------------------------------

    def snapshot(self) -> GatewayState:
        paper = self.exchange.account
        book = self.exchange.book
        return GatewayState(
            scenario=self.scenario.name,
            seed=self.seed,
            anchor=self.model.start,
            account=self.account_id,
            clock_time=self.clock.now(),
            cash=paper.cash,
            realized_pnl=paper.realized_pnl,
            commissions=paper.commissions,
            positions=[replace(p) for p in paper.positions.values() if p.quantity != 0 or p.realized_pnl],
            orders=[replace(o) for o in book.orders.values()],
            executions=list(book.executions),
            next_perm_id=book.next_perm_id,
            exec_prefix=book.exec_prefix,
            exec_sequence=book.exec_sequence,
            max_order_id=dict(book.max_order_id),
            shocks=list(self.model.shocks),
        )

    def _persist(self) -> None:
        if self.state_path is None:
            return
        try:
            save_state(self.state_path, self.snapshot())
            self._last_persist = time.monotonic()
        except (OSError, StateError) as error:
            log.error("cannot save gateway state", path=str(self.state_path), error=str(error))

    # -- engine -----------------------------------------------------------------------------------------

    async def _run_engine(self) -> None:
        while True:
            try:
                self.cycle()
            except Exception:  # one bad cycle must not stop the market
                log.exception("gateway engine cycle failed")
            await asyncio.sleep(self.tick_interval)

    def cycle(self) -> None:
        """One engine step: time events, matching, market data, account updates, persistence."""
        now = self.clock.now()
        previous = self._last_now
        if now > previous:
            self._process_time(previous, now)
        self._last_now = max(now, previous)
        self.exchange.match(now)
        self._publish(now)
        wall = time.monotonic()
        last_wall, last_clock = self._last_account_push
        if wall - last_wall >= 1.0 and (now - last_clock).total_seconds() >= ACCOUNT_UPDATE_CLOCK_SECONDS:
            self._last_account_push = (wall, now)
            for session in self.ready_sessions():
                if session.account_subscribed:
                    session.send_account_update()
        if wall - self._last_history_push >= 1.0:
            self._last_history_push = wall
            for session in self.ready_sessions():
                if session.history_subscriptions:
                    session.history_updates(self.bar_builder, now)
        if wall - self._last_persist >= PERSIST_INTERVAL:
            self.exchange.book.prune(now)
            self._persist()

    def _process_time(self, previous: dt.datetime, now: dt.datetime) -> None:
        if self.daily_restart and crosses_daily_reset(previous, now) and self.sessions:
            log.info("nightly reset window crossed: restarting like IB Gateway", at=now.isoformat())
            self.faults.restart(downtime=self.restart_downtime)
        sessions = self.model.sessions
        first = self.model.session_index_at(previous)
        last = self.model.session_index_at(now)
        for index in range(first, last + 1):
            session = sessions[index]
            if previous < session.open <= now:
                self.exchange.settle_expiring(session.date, morning=True)
                self.exchange.session_opened(now)
            if previous < session.close <= now:
                self.exchange.session_closed(session.date, session.close)
                self.exchange.settle_expiring(session.date, morning=False)

    # -- market data publishing -----------------------------------------------------------------------

    def _publish(self, now: dt.datetime) -> None:
        faults = self.faults.state
        if faults.competing_session or faults.outage:
            return
        sessions = [s for s in self.ready_sessions() if s.subscriptions]
        if not sessions:
            return
        stamp = time.perf_counter()
        observer = self.publish_observer
        in_session = self.model.in_session(now)
        live: dict[int, Instrument] = {}
        delayed: dict[int, Instrument] = {}
        lines: list[tuple[ClientSession, list[tuple[Subscription, int]]]] = []
        for session in sessions:
            session_lines = []
            for subscription in list(session.subscriptions.values()):
                effective = effective_data_type(subscription.requested_type, in_session)
                target = delayed if effective in (3, 4) else live
                target[subscription.instrument.con_id] = subscription.instrument
                session_lines.append((subscription, effective))
            lines.append((session, session_lines))
        quotes: dict[tuple[int, bool], Quote] = {}
        if live:
            for con_id, quote in zip(live, self.model.quotes(list(live.values()), now), strict=True):
                quotes[(con_id, False)] = quote
        delayed_moment = now - DELAYED_BY
        if delayed:
            for con_id, quote in zip(delayed, self.model.quotes(list(delayed.values()), delayed_moment), strict=True):
                quotes[(con_id, True)] = quote
        for session, session_lines in lines:
            chunks: list[bytes] = []
            for subscription, effective in session_lines:
                delayed_line = effective in (3, 4)
                quote = quotes[(subscription.instrument.con_id, delayed_line)]
                messages = self._tick_messages(subscription, quote, effective, delayed_moment if delayed_line else now)
                for fields in messages:
                    chunks.append(encode_message(fields))
                if messages and observer is not None:
                    sent = subscription.sent
                    observer(session.client_id or 0, subscription.req_id, sent.get("bid"), sent.get("ask"), stamp)
            if chunks:
                session.send_raw(b"".join(chunks))

    def ticks_for(self, subscription: Subscription, now: dt.datetime) -> list[list[Field]]:
        """The full picture for a new line (or a snapshot)."""
        effective = effective_data_type(subscription.requested_type, self.model.in_session(now))
        moment = now - DELAYED_BY if effective in (3, 4) else now
        quote = self.model.quote(subscription.instrument, moment)
        return self._tick_messages(subscription, quote, effective, moment)

    def _nan_ticks(
        self, subscription: Subscription, out: list[list[Field]], tick: Callable[[int], int], quote: Quote
    ) -> list[list[Field]]:
        """A malformed feed: NaN prices with sizes, NaN greeks (sent once, like a stuck line)."""
        if subscription.sent.get("nan"):
            return out
        req_id = subscription.req_id
        size = max(quote.bid_size, 1.0)
        out.append(m.tick_price(req_id, tick(m.TICK_BID), "nan", size, 1))
        out.append(m.tick_price(req_id, tick(m.TICK_ASK), "nan", size, 1))
        if subscription.instrument.is_option:
            out.append(m.tick_option_computation_nan(req_id, tick(m.TICK_MODEL_OPTION)))
        subscription.sent.clear()
        subscription.sent["nan"] = True
        return out

    def _tick_messages(
        self, subscription: Subscription, quote: Quote, effective: int, moment: dt.datetime
    ) -> list[list[Field]]:
        faults = self.faults.state
        instrument = subscription.instrument
        mode = faults.bad_quotes.get(instrument.con_id)
        if mode == "absent":
            return []
        if mode != "nan" and subscription.sent.pop("nan", None):
            subscription.sent.clear()
        if mode == "stale":
            if subscription.frozen is None:
                subscription.frozen = quote
            quote = subscription.frozen
        out: list[list[Field]] = []
        req_id = subscription.req_id
        if subscription.sent_type != effective:
            out.append(m.market_data_type(req_id, effective))
            subscription.sent_type = effective
        delayed = effective in (3, 4)
        sent = subscription.sent

        def tick(number: int) -> int:
            return m.DELAYED_TICK[number] if delayed else number

        if instrument.sec_type == "IND":
            for key, number, value in (
                ("last", m.TICK_LAST, quote.last),
                ("high", m.TICK_HIGH, quote.high),
                ("low", m.TICK_LOW, quote.low),
                ("close", m.TICK_CLOSE, quote.close),
                ("open", m.TICK_OPEN, quote.open),
            ):
                if math.isfinite(value) and sent.get(key) != value:
                    out.append(m.tick_price(req_id, tick(number), value, 0))
                    sent[key] = value
            return out
        bid: tuple[float, float] = (quote.bid, quote.bid_size) if valid_price(quote.bid) else (-1.0, 0.0)
        ask: tuple[float, float] = (quote.ask, quote.ask_size) if valid_price(quote.ask) else (-1.0, 0.0)
        greeks = quote.greeks
        if mode == "empty":
            bid, ask, greeks = (-1.0, 0.0), (-1.0, 0.0), None
        elif mode == "nan":
            return self._nan_ticks(subscription, out, tick, quote)
        elif mode == "zero":
            bid, ask = (0.0, max(quote.bid_size, 1.0)), (0.0, max(quote.ask_size, 1.0))
        elif mode == "crossed" and valid_price(quote.ask):
            step = MARKET_RULES[instrument.market_rule_id][-1][1]
            bid = (round_to_tick(instrument.market_rule_id, quote.ask + 2 * step), max(quote.bid_size, 1.0))
        for key, price_tick, size_tick, touch in (
            ("bid", m.TICK_BID, m.TICK_BID_SIZE, bid),
            ("ask", m.TICK_ASK, m.TICK_ASK_SIZE, ask),
        ):
            previous = sent.get(key)
            if previous == touch:
                continue
            if isinstance(previous, tuple) and previous[0] == touch[0] and touch[1] > 0:
                out.append(m.tick_size(req_id, tick(size_tick), touch[1]))
            else:
                out.append(m.tick_price(req_id, tick(price_tick), touch[0], touch[1], 1))
            sent[key] = touch
        if mode != "empty":
            last = (quote.last, quote.last_size)
            if math.isfinite(quote.last) and sent.get("last") != last:
                out.append(m.tick_price(req_id, tick(m.TICK_LAST), quote.last, quote.last_size))
                # The trade's time by the gateway's clock (ib_async: ticker.lastTimestamp).
                stamp = int(self.model.state(moment).effective_epoch)
                out.append(m.tick_string(req_id, tick(m.TICK_LAST_TIMESTAMP), str(stamp)))
                sent["last"] = last
        if math.isfinite(quote.close) and sent.get("close") != quote.close:
            out.append(m.tick_price(req_id, tick(m.TICK_CLOSE), quote.close, 0))
            sent["close"] = quote.close
        if instrument.is_option:
            key_greeks: object = (
                None
                if greeks is None
                else (
                    round(greeks.implied_vol, 4),
                    round(greeks.delta, 4),
                    round(greeks.price, 4),
                    round(greeks.underlying, 3),
                )
            )
            if sent.get("greeks", "unsent") != key_greeks:
                out.append(m.tick_option_computation(req_id, tick(m.TICK_MODEL_OPTION), greeks))
                sent["greeks"] = key_greeks
        return out
