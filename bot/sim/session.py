"""One API client connection: handshake, request dispatch, market data lines, pacing.

The session turns requests into calls on the gateway's parts and answers them in the TWS API's
layouts; asynchronous events (order status, fills, positions) reach it through the gateway server.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from bot.sim import messages as m
from bot.sim.bars import (
    SUPPORTED_WHAT_TO_SHOW,
    BarBuilder,
    HistoricalDataError,
    format_bar_time,
    parse_bar_size,
    parse_duration,
    parse_end,
)
from bot.sim.exchange import OrderRejectedError
from bot.sim.listings import MARKET_RULES, AmbiguousContractError, ContractQuery
from bot.sim.orders import ExecutionQuery
from bot.sim.protocol import (
    API_PREFIX,
    Field,
    FieldReader,
    ProtocolError,
    decode_payload,
    encode_message,
    negotiate_version,
    parse_version_range,
    read_frame,
)
from bot.sim.records import Instrument, OrderRecord, Quote
from bot.sim.requests import parse_place_order, read_contract, with_include_expired

if TYPE_CHECKING:
    from bot.sim.gateway import GatewayServer

log = structlog.get_logger(__name__)

HISTORICAL_PACING_REQUESTS = 60
HISTORICAL_PACING_WINDOW = 600.0
MAX_WRITE_BUFFER = 32 * 1024 * 1024
# Requests TWS cannot answer from its own cache while its connection to IB is down.
NEEDS_IB = frozenset(
    {
        m.REQ_MKT_DATA,
        m.PLACE_ORDER,
        m.CANCEL_ORDER,
        m.REQ_CONTRACT_DETAILS,
        m.REQ_HISTORICAL_DATA,
        m.REQ_SEC_DEF_OPT_PARAMS,
        m.REQ_GLOBAL_CANCEL,
        m.REQ_MARKET_RULE,
    }
)
ACCOUNT_TAGS = (
    "NetLiquidation",
    "TotalCashValue",
    "SettledCash",
    "BuyingPower",
    "EquityWithLoanValue",
    "GrossPositionValue",
    "InitMarginReq",
    "MaintMarginReq",
    "FullInitMarginReq",
    "FullMaintMarginReq",
    "AvailableFunds",
    "FullAvailableFunds",
    "ExcessLiquidity",
    "FullExcessLiquidity",
    "OptionMarketValue",
    "FuturesPNL",
    "UnrealizedPnL",
    "RealizedPnL",
    "Cushion",
)


@dataclass
class Subscription:
    req_id: int
    instrument: Instrument
    requested_type: int
    sent: dict[str, object] = field(default_factory=dict)
    sent_type: int = 0
    frozen: Quote | None = None


@dataclass
class HistorySubscription:
    req_id: int
    instrument: Instrument
    size: dt.timedelta | None
    continuous: bool
    format_date: int
    last_sent: tuple[object, ...] = ()


class Reply:
    """Where a request's direct answers go: to the client, later (delay fault), or nowhere (withhold)."""

    def __init__(self, session: ClientSession, delay: float | None, withhold: bool) -> None:
        self._session = session
        self._delay = delay
        self._withhold = withhold
        self._buffer: list[bytes] = []

    def send(self, fields: list[Field]) -> None:
        if self._withhold:
            return
        if self._delay is None:
            self._session.send(fields)
        else:
            self._buffer.append(encode_message(fields))

    def finish(self) -> None:
        if self._buffer and self._delay is not None:
            data = b"".join(self._buffer)
            self._session.server.loop_call_later(self._delay, lambda: self._session.send_raw(data))
        self._buffer = []


class ClientSession:
    def __init__(self, server: GatewayServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.client_id: int | None = None
        self.version = 0
        self.ready = False
        self.closed = False
        self.market_data_type = 1
        self.subscriptions: dict[int, Subscription] = {}
        self.history_subscriptions: dict[int, HistorySubscription] = {}
        self.positions_subscribed = False
        self.account_subscribed = False
        self._tokens = 50.0
        self._bucket_time = time.monotonic()
        self._pacing_warned_at = 0.0
        self._rejected: collections.deque[float] = collections.deque()
        self._history_requests: collections.deque[float] = collections.deque()
        self._held: list[bytes] = []
        self._deferred: list[list[str]] = []
        self._reply: Reply | None = None
        self._out: list[bytes] = []
        self._flush_scheduled = False
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        self._handlers: dict[int, Callable[[list[str], Reply], None]] = {
            m.REQ_MKT_DATA: self._req_mkt_data,
            m.CANCEL_MKT_DATA: self._cancel_mkt_data,
            m.PLACE_ORDER: self._place_order,
            m.CANCEL_ORDER: self._cancel_order,
            m.REQ_OPEN_ORDERS: self._req_open_orders,
            m.REQ_ALL_OPEN_ORDERS: self._req_all_open_orders,
            m.REQ_AUTO_OPEN_ORDERS: lambda fields, reply: None,
            m.REQ_ACCOUNT_UPDATES: self._req_account_updates,
            m.REQ_EXECUTIONS: self._req_executions,
            m.REQ_IDS: self._req_ids,
            m.REQ_CONTRACT_DETAILS: self._req_contract_details,
            m.REQ_MANAGED_ACCTS: lambda fields, reply: reply.send(m.managed_accounts([self.server.account_id])),
            m.REQ_HISTORICAL_DATA: self._req_historical_data,
            m.CANCEL_HISTORICAL_DATA: self._cancel_historical_data,
            m.REQ_CURRENT_TIME: self._req_current_time,
            m.REQ_GLOBAL_CANCEL: self._req_global_cancel,
            m.REQ_MARKET_DATA_TYPE: self._req_market_data_type,
            m.REQ_POSITIONS: self._req_positions,
            m.CANCEL_POSITIONS: self._cancel_positions,
            m.REQ_ACCOUNT_SUMMARY: self._req_account_summary,
            m.CANCEL_ACCOUNT_SUMMARY: lambda fields, reply: None,
            m.REQ_ACCOUNT_UPDATES_MULTI: self._req_account_updates_multi,
            m.CANCEL_ACCOUNT_UPDATES_MULTI: self._cancel_account_updates_multi,
            m.REQ_SEC_DEF_OPT_PARAMS: self._req_sec_def_opt_params,
            m.REQ_MARKET_RULE: self._req_market_rule,
            m.REQ_COMPLETED_ORDERS: self._req_completed_orders,
        }

    # -- output ------------------------------------------------------------------------------------

    def send(self, fields: list[Field]) -> None:
        self.send_raw(encode_message(fields))

    def send_raw(self, data: bytes) -> None:
        """Queue bytes; everything queued in one loop iteration goes out in a single write."""
        if self.closed or not data:
            return
        self._out.append(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._out:
            return
        data = b"".join(self._out)
        self._out.clear()
        transport = self.writer.transport
        if self.closed or transport.is_closing():
            return
        if transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
            log.warning("client too slow; closing", client_id=self.client_id, peer=self.peer)
            self.abort()
            return
        transport.write(data)

    @property
    def current_reply(self) -> Reply | None:
        """The reply of the request being handled, if any (order acknowledgements go through it)."""
        return self._reply

    def send_event(self, fields: list[Field], via: Reply | None = None) -> None:
        """An event (order status, fill, position): held back while connectivity is down; ``via`` routes
        it as the direct answer to a request (so that withholding or delaying that request covers it)."""
        if self.server.faults.state.outage:
            self._held.append(encode_message(fields))
        elif via is not None:
            via.send(fields)
        else:
            self.send(fields)

    def error(self, req_id: int, code: int, message: str) -> None:
        self.send(m.error(self.version, req_id, code, message))

    def abort(self) -> None:
        if not self.closed:
            self._flush()
            self.closed = True
            self.writer.transport.abort()

    # -- lifecycle ---------------------------------------------------------------------------------

    async def run(self, prefix_read: bool = False) -> None:
        try:
            await self._handshake(prefix_read)
            while not self.closed:
                payload = await read_frame(self.reader)
                self._on_message(decode_payload(payload))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except ProtocolError as error:
            log.warning("protocol error; closing", peer=self.peer, error=str(error))
        finally:
            self.closed = True
            self.server.session_closed(self)
            if not self.writer.transport.is_closing():
                self.writer.transport.abort()

    async def _handshake(self, prefix_read: bool) -> None:
        if not prefix_read:
            prefix = await self.reader.readexactly(len(API_PREFIX))
            if prefix != API_PREFIX:
                raise ProtocolError("missing API prefix")
        text = decode_payload(await read_frame(self.reader))
        low, high, _options = parse_version_range(text[0] if text else "")
        version = negotiate_version(low, high)
        if version is None:
            raise ProtocolError(f"no common version with client range v{low}..{high}")
        self.version = version
        self.send(m.handshake(version, self.server.clock.now()))

    def _on_message(self, fields: list[str]) -> None:
        if not fields:
            return
        try:
            message_id = int(fields[0])
        except ValueError:
            raise ProtocolError(f"bad message id {fields[0]!r}") from None
        if message_id == m.START_API:
            self._start_api(fields)
            return
        if not self.ready:
            return  # TWS ignores requests before startApi
        if not self._within_pacing():
            return
        if self.server.faults.state.outage and message_id in NEEDS_IB:
            self._deferred.append(fields)
            return
        self.dispatch(fields)

    def dispatch(self, fields: list[str]) -> None:
        message_id = int(fields[0])
        handler = self._handlers.get(message_id)
        if handler is None:
            log.info("unsupported request", message_id=message_id, client_id=self.client_id)
            return
        name = m.REQUEST_NAMES.get(message_id, str(message_id))
        state = self.server.faults.state
        reply = Reply(self, state.consume_delay(name), state.consume_withheld(name))
        self._reply = reply
        try:
            handler(fields, reply)
        except ProtocolError as error:
            log.warning("malformed request", request=name, error=str(error), client_id=self.client_id)
            reply.send(
                m.error(self.version, _request_id(message_id, fields), 321, f"Error validating request: {error}")
            )
        except Exception:  # a gateway bug must answer the request, not kill the connection
            log.exception("request failed", request=name, client_id=self.client_id)
            reply.send(m.error(self.version, _request_id(message_id, fields), 321, f"Server error processing {name}"))
        finally:
            self._reply = None
            reply.finish()

    def _within_pacing(self) -> bool:
        """IB's 50 messages/s: a token bucket (a burst of ``limit``, then ``limit`` per second); beyond it
        the message is rejected with error 100, and a client that keeps pushing is disconnected."""
        limit = self.server.faults.state.pacing_limit
        if limit is None:
            return True
        now = time.monotonic()
        elapsed = now - self._bucket_time
        self._bucket_time = now
        self._tokens = min(float(limit), self._tokens + elapsed * limit)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        self._rejected.append(now)
        while self._rejected and now - self._rejected[0] > 1.0:
            self._rejected.popleft()
        if now - self._pacing_warned_at > 1.0:
            self._pacing_warned_at = now
            self.error(
                -1,
                100,
                f"Max rate of messages per second has been exceeded:max={limit} rec={limit + len(self._rejected)} (1)",
            )
        if len(self._rejected) > limit:
            log.warning("pacing violated twice over; disconnecting", client_id=self.client_id, peer=self.peer)
            self.abort()
        return False

    def _start_api(self, fields: list[str]) -> None:
        if self.ready:
            return
        reader = FieldReader(fields, 2)
        client_id = reader.int()
        faults = self.server.faults.state
        if client_id in faults.reserved_client_ids or self.server.client_id_taken(client_id, self):
            self.error(-1, 326, "Unable to connect as the client id is already in use.  Retry with a unique client id.")
            self.server.loop_call_later(0.05, self.abort)
            return
        self.client_id = client_id
        self.ready = True
        self.send(m.next_valid_id(self.server.next_valid_id(client_id)))
        self.send(m.managed_accounts([self.server.account_id]))
        for code, text in (
            (2104, "Market data farm connection is OK:usfarm"),
            (2106, "HMDS data farm connection is OK:ushmds"),
            (2158, "Sec-def data farm connection is OK:secdefnj"),
        ):
            self.error(-1, code, text)
        log.info("client connected", client_id=client_id, version=self.version, peer=self.peer)

    # -- connectivity ------------------------------------------------------------------------------

    def connectivity_lost(self) -> None:
        self.error(-1, 1100, "Connectivity between IB and Trader Workstation has been lost.")
        self.error(-1, 2103, "Market data farm connection is broken:usfarm")

    def connectivity_restored(self, data_lost: bool) -> None:
        if data_lost:
            self.subscriptions.clear()
            self.history_subscriptions.clear()
            self.error(-1, 1101, "Connectivity between IB and Trader Workstation has been restored - data lost.")
        else:
            for subscription in self.subscriptions.values():
                subscription.sent.clear()
            self.error(-1, 1102, "Connectivity between IB and Trader Workstation has been restored - data maintained.")
        self.error(-1, 2104, "Market data farm connection is OK:usfarm")
        held, self._held = self._held, []
        for data in held:
            self.send_raw(data)
        deferred, self._deferred = self._deferred, []
        for fields in deferred:
            self.dispatch(fields)

    # -- market data -------------------------------------------------------------------------------

    def _resolve(self, query: ContractQuery, req_id: int, reply: Reply) -> tuple[Instrument, str] | None:
        try:
            return self.server.exchange.resolve(query, self.server.today())
        except OrderRejectedError as error:
            reply.send(m.error(self.version, req_id, error.code, error.message))
            return None

    def _req_mkt_data(self, fields: list[str], reply: Reply) -> None:
        r = FieldReader(fields, 2)
        req_id = r.int()
        query = read_contract(r)
        if query.sec_type.upper() == "BAG":
            reply.send(
                m.error(self.version, req_id, 321, "Error validating request: combo market data is not supported")
            )
            return
        if r.bool():  # delta-neutral contract
            r.skip(3)
        r.str()  # generic tick list
        snapshot = r.bool()
        resolved = self._resolve(query, req_id, reply)
        if resolved is None:
            return
        instrument, _ = resolved
        faults = self.server.faults.state
        requested = self.market_data_type
        if faults.delayed_only and requested in (1, 2):
            requested += 2
            reply.send(
                m.error(
                    self.version,
                    req_id,
                    10167,
                    "Requested market data is not subscribed. Displaying delayed market data.",
                )
            )
        if not snapshot:
            if req_id in self.subscriptions:
                self.subscriptions.pop(req_id)
            if self.server.market_data_lines_in_use() >= faults.market_data_lines:
                reply.send(m.error(self.version, req_id, 101, "Max number of tickers has been reached"))
                return
        subscription = Subscription(req_id, instrument, requested)
        if faults.competing_session:
            reply.send(m.error(self.version, req_id, 10197, "No market data during competing live session"))
            if not snapshot:
                self.subscriptions[req_id] = subscription
            else:
                reply.send(m.tick_snapshot_end(req_id))
            return
        rule = MARKET_RULES[instrument.market_rule_id]
        reply.send(m.tick_req_params(req_id, rule[0][1], "9c0001", 3))
        for frame_fields in self.server.ticks_for(subscription, self.server.clock.now()):
            reply.send(frame_fields)
        if snapshot:
            reply.send(m.tick_snapshot_end(req_id))
        else:
            self.subscriptions[req_id] = subscription

    def _cancel_mkt_data(self, fields: list[str], reply: Reply) -> None:
        self.subscriptions.pop(FieldReader(fields, 2).int(), None)

    def _req_market_data_type(self, fields: list[str], reply: Reply) -> None:
        data_type = FieldReader(fields, 2).int()
        if data_type not in (1, 2, 3, 4):
            reply.send(m.error(self.version, -1, 321, f"Error validating request: market data type {data_type}"))
            return
        self.market_data_type = data_type

    def _req_market_rule(self, fields: list[str], reply: Reply) -> None:
        rule_id = FieldReader(fields, 1).int()
        increments = MARKET_RULES.get(rule_id)
        if increments is None:
            reply.send(m.error(self.version, -1, 321, f"Error validating request: unknown market rule {rule_id}"))
            return
        reply.send(m.market_rule(rule_id, increments))

    # -- contracts ---------------------------------------------------------------------------------

    def _req_contract_details(self, fields: list[str], reply: Reply) -> None:
        r = FieldReader(fields, 2)
        req_id = r.int()
        query = read_contract(r)
        include_expired = r.bool()
        query = with_include_expired(query, include_expired)
        try:
            matches = self.server.listings.match(query, self.server.today())
        except AmbiguousContractError as error:
            reply.send(m.error(self.version, req_id, 200, str(error)))
            return
        if not matches:
            reply.send(m.error(self.version, req_id, 200, "No security definition has been found for the request"))
            return
        today = self.server.today()
        hours: dict[str, str] = {}
        for instrument, exchange in matches:
            key = instrument.sec_type
            if key not in hours:
                hours[key] = self.server.listings.trading_hours(instrument, today)
            reply.send(m.contract_details(self.version, req_id, instrument, exchange, hours[key], hours[key]))
        reply.send(m.contract_details_end(req_id))

    def _req_sec_def_opt_params(self, fields: list[str], reply: Reply) -> None:
        r = FieldReader(fields, 1)
        req_id = r.int()
        symbol = r.str().upper()
        r.str()  # futFopExchange
        sec_type = r.str().upper()
        con_id = r.int()
        listings = self.server.listings
        index = {"VIX": listings.vix_index, "SPX": listings.spx_index}.get(symbol)
        if index is not None and sec_type in ("", "IND") and con_id in (0, index.con_id):
            for exchange, trading_class, multiplier, expirations, strikes in listings.option_chains(
                symbol, self.server.today()
            ):
                reply.send(
                    m.security_definition_option_parameter(
                        req_id, exchange, index.con_id, trading_class, multiplier, expirations, strikes
                    )
                )
        reply.send(m.security_definition_option_parameter_end(req_id))

    # -- history -------------------------------------------------------------------------------------

    def _req_historical_data(self, fields: list[str], reply: Reply) -> None:
        r = FieldReader(fields, 1)
        req_id = r.int()
        query = read_contract(r)
        include_expired = r.bool()
        end_text = r.str()
        bar_size_text = r.str()
        duration_text = r.str()
        r.bool()  # useRTH: the model only has regular hours
        what_to_show = r.str().upper()
        format_date = r.int(1)
        if query.sec_type.upper() == "BAG":
            reply.send(
                m.error(self.version, req_id, 162, "Historical Market Data Service error message:combos not supported")
            )
            return
        keep_up_to_date = r.bool() if r.remaining else False
        now_wall = time.monotonic()
        while self._history_requests and now_wall - self._history_requests[0] > HISTORICAL_PACING_WINDOW:
            self._history_requests.popleft()
        if len(self._history_requests) >= HISTORICAL_PACING_REQUESTS:
            reply.send(
                m.error(
                    self.version,
                    req_id,
                    162,
                    "Historical Market Data Service error message:Historical data request pacing violation",
                )
            )
            return
        self._history_requests.append(now_wall)
        continuous = query.sec_type.upper() == "CONTFUT"
        resolved = self._resolve(with_include_expired(query, include_expired), req_id, reply)
        if resolved is None:
            return
        instrument, _ = resolved
        if what_to_show not in SUPPORTED_WHAT_TO_SHOW or (instrument.sec_type == "IND" and what_to_show != "TRADES"):
            reply.send(
                m.error(
                    self.version,
                    req_id,
                    162,
                    f"Historical Market Data Service error message:No data of type {what_to_show} is available "
                    f"for {instrument.describe()}",
                )
            )
            return
        now = self.server.clock.now()
        try:
            end = parse_end(end_text, now)
            if keep_up_to_date and end_text.strip():
                raise HistoricalDataError(321, "Error validating request: keepUpToDate needs an empty endDateTime")
            duration = parse_duration(duration_text)
            size = parse_bar_size(bar_size_text)
            bars = self.server.bar_builder.bars(instrument, min(end, now), duration, size, continuous)
        except HistoricalDataError as error:
            reply.send(m.error(self.version, req_id, error.code, error.message))
            return
        volume = 0.0
        encoded = [
            (format_bar_time(bar.start, format_date), bar.open, bar.high, bar.low, bar.close, volume, bar.close, 0)
            for bar in bars
        ]
        start_text = self.server.bar_builder.begin(end, duration).astimezone(m.NEW_YORK).strftime("%Y%m%d %H:%M:%S")
        end_text_out = end.astimezone(m.NEW_YORK).strftime("%Y%m%d %H:%M:%S")
        reply.send(m.historical_data(req_id, start_text, end_text_out, encoded))
        if keep_up_to_date:
            self.history_subscriptions[req_id] = HistorySubscription(req_id, instrument, size, continuous, format_date)

    def _cancel_historical_data(self, fields: list[str], reply: Reply) -> None:
        self.history_subscriptions.pop(FieldReader(fields, 2).int(), None)

    def history_updates(self, builder: BarBuilder, now: dt.datetime) -> None:
        """keepUpToDate: the bar in progress, when it changed."""
        for subscription in list(self.history_subscriptions.values()):
            bar = builder.last_bar(subscription.instrument, now, subscription.size, subscription.continuous)
            if bar is None:
                continue
            values = (format_bar_time(bar.start, subscription.format_date), bar.open, bar.close, bar.high, bar.low)
            if values == subscription.last_sent:
                continue
            subscription.last_sent = values
            self.send(m.historical_data_update(subscription.req_id, values[0], bar.open, bar.high, bar.low, bar.close))

    # -- time and ids ----------------------------------------------------------------------------------

    def _req_current_time(self, fields: list[str], reply: Reply) -> None:
        reply.send(m.current_time(int(self.server.clock.now().timestamp())))

    def _req_ids(self, fields: list[str], reply: Reply) -> None:
        assert self.client_id is not None
        reply.send(m.next_valid_id(self.server.next_valid_id(self.client_id, lowered=False)))

    # -- orders -------------------------------------------------------------------------------------

    def _place_order(self, fields: list[str], reply: Reply) -> None:
        assert self.client_id is not None
        request = parse_place_order(fields, self.version)
        now = self.server.clock.now()
        exchange = self.server.exchange
        try:
            if request.what_if:
                order, instrument, impact = exchange.what_if(self.client_id, request, now)
                reply.send(m.open_order(self.version, order, instrument, what_if=impact))
                return
            exchange.place(self.client_id, request, now)
        except OrderRejectedError as rejected:
            log.info("order rejected", order_id=request.order_id, code=rejected.code, reason=rejected.message)
            reply.send(m.error(self.version, request.order_id, rejected.code, rejected.message))

    def _cancel_order(self, fields: list[str], reply: Reply) -> None:
        assert self.client_id is not None
        order_id = FieldReader(fields, 2).int()
        try:
            self.server.exchange.cancel(self.client_id, order_id, self.server.clock.now())
        except OrderRejectedError as rejected:
            reply.send(m.error(self.version, order_id, rejected.code, rejected.message))

    def _req_global_cancel(self, fields: list[str], reply: Reply) -> None:
        self.server.exchange.cancel_all(self.server.clock.now())

    def _send_open_orders(self, orders: list[OrderRecord], reply: Reply) -> None:
        exchange = self.server.exchange
        for order in orders:
            instrument = exchange.instrument(order.con_id)
            reply.send(m.open_order(self.version, order, instrument))
            reply.send(m.order_status(order))
        reply.send(m.open_order_end())

    def _req_open_orders(self, fields: list[str], reply: Reply) -> None:
        self._send_open_orders(self.server.exchange.book.open_orders(self.client_id), reply)

    def _req_all_open_orders(self, fields: list[str], reply: Reply) -> None:
        self._send_open_orders(self.server.exchange.book.open_orders(None), reply)

    def _req_completed_orders(self, fields: list[str], reply: Reply) -> None:
        exchange = self.server.exchange
        for order in exchange.book.completed():
            reply.send(m.completed_order(self.version, order, exchange.instrument(order.con_id)))
        reply.send(m.completed_orders_end())

    def _req_executions(self, fields: list[str], reply: Reply) -> None:
        r = FieldReader(fields, 2)
        req_id = r.int()
        client_id = r.int()
        account = r.str()
        since_text = r.str()
        symbol = r.str()
        sec_type = r.str()
        exchange_name = r.str()
        side = r.str()
        since = None
        if since_text.strip():
            try:
                since = parse_end(since_text, self.server.clock.now())
            except HistoricalDataError:
                since = None
        exchange = self.server.exchange
        symbols = {}
        for execution in exchange.book.executions:
            instrument = exchange.instrument(execution.con_id)
            symbols[execution.con_id] = (instrument.symbol, instrument.sec_type)
        query = ExecutionQuery(client_id, account, since, symbol, sec_type, exchange_name, side)
        for execution in exchange.book.executions_matching(query, symbols):
            instrument = exchange.instrument(execution.con_id)
            reply.send(m.execution_details(self.version, req_id, execution, instrument))
            reply.send(m.commission_report(execution))
        reply.send(m.execution_details_end(req_id))

    # -- account and positions -----------------------------------------------------------------------

    def _req_positions(self, fields: list[str], reply: Reply) -> None:
        self.positions_subscribed = True
        exchange = self.server.exchange
        for position in exchange.account.held():
            reply.send(m.position(self.server.account_id, exchange.instrument(position.con_id), position))
        reply.send(m.position_end())

    def _cancel_positions(self, fields: list[str], reply: Reply) -> None:
        self.positions_subscribed = False

    def account_values(self) -> list[tuple[str, str, str]]:
        """(key, value, currency) as TWS reports them."""
        summary = self.server.exchange.account_summary(self.server.clock.now())
        values: list[tuple[str, str, str]] = [
            ("AccountCode", self.server.account_id, ""),
            ("AccountType", "INDIVIDUAL", ""),
            ("AccountReady", "true", ""),
            ("Currency", "USD", "USD"),
            ("DayTradesRemaining", "-1", ""),
        ]
        for tag in ACCOUNT_TAGS:
            value = summary[tag.replace("Full", "")] if tag.startswith("Full") else summary.get(tag)
            if value is None:
                value = summary["TotalCashValue"] if tag == "SettledCash" else 0.0
            values.append((tag, f"{value:.2f}" if tag != "Cushion" else f"{value:.6f}", "USD"))
        values.append(("CashBalance", f"{summary['TotalCashValue']:.2f}", "BASE"))
        values.append(("NetLiquidationByCurrency", f"{summary['NetLiquidation']:.2f}", "BASE"))
        return values

    def send_account_update(self, con_ids: list[int] | None = None, via: Reply | None = None) -> None:
        """Account values and portfolio lines (all, or only ``con_ids``) to an account-updates subscriber."""
        account = self.server.account_id
        for key, value, currency in self.account_values():
            self.send_event(m.account_value(key, value, currency, account), via)
        exchange = self.server.exchange
        now = self.server.clock.now()
        positions = exchange.account.positions
        ids = [p.con_id for p in exchange.account.held()] if con_ids is None else con_ids
        marks = exchange.marks(now, ids) if ids else {}
        for con_id in ids:
            position = positions.get(con_id)
            if position is None:
                continue
            instrument = exchange.instrument(con_id)
            mark = marks.get(con_id, math.nan)
            if not math.isfinite(mark):
                mark = position.average_cost / instrument.multiplier if instrument.multiplier else 0.0
            market_value = position.quantity * mark * instrument.multiplier
            unrealized = exchange.account.unrealized(instrument, position, mark) if position.quantity else 0.0
            self.send_event(
                m.portfolio_value(
                    instrument,
                    position.quantity,
                    mark,
                    market_value,
                    position.average_cost,
                    unrealized,
                    position.realized_pnl,
                    account,
                ),
                via,
            )
        self.send_event(m.account_update_time(now), via)

    def _req_account_updates(self, fields: list[str], reply: Reply) -> None:
        r = FieldReader(fields, 2)
        subscribe = r.bool()
        account = r.str()
        self.account_subscribed = subscribe
        if not subscribe:
            return
        if account and account != self.server.account_id:
            reply.send(m.error(self.version, -1, 321, f"Error validating request: unknown account {account}"))
            reply.send(m.account_download_end(account))
            return
        self.send_account_update(via=reply)
        reply.send(m.account_download_end(self.server.account_id))

    def _req_account_updates_multi(self, fields: list[str], reply: Reply) -> None:
        r = FieldReader(fields, 2)
        req_id = r.int()
        account = r.str() or self.server.account_id
        model_code = r.str()
        if account not in (self.server.account_id, "All"):
            reply.send(m.error(self.version, req_id, 321, f"Error validating request: unknown account {account}"))
            reply.send(m.account_update_multi_end(req_id))
            return
        for key, value, currency in self.account_values():
            reply.send(m.account_update_multi(req_id, self.server.account_id, model_code, key, value, currency))
        reply.send(m.account_update_multi_end(req_id))

    def _cancel_account_updates_multi(self, fields: list[str], reply: Reply) -> None:
        FieldReader(fields, 2).int()  # nothing to stop: account updates (multi) are answered once, not pushed

    def _req_account_summary(self, fields: list[str], reply: Reply) -> None:
        r = FieldReader(fields, 2)
        req_id = r.int()
        r.str()  # group
        tags = {tag.strip() for tag in r.str().split(",") if tag.strip()}
        for key, value, currency in self.account_values():
            if key in tags:
                reply.send(m.account_summary(req_id, self.server.account_id, key, value, currency))
        reply.send(m.account_summary_end(req_id))


def _request_id(message_id: int, fields: list[str]) -> int:
    """The reqId (or order id) of a request, for an error answer; -1 when it cannot be read."""
    index = 1 if message_id in (m.PLACE_ORDER, m.REQ_HISTORICAL_DATA, m.REQ_SEC_DEF_OPT_PARAMS) else 2
    try:
        return int(fields[index])
    except (IndexError, ValueError):
        return -1
