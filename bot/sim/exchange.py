"""The paper exchange: order validation, placement, modification, cancellation, matching, expiry.

It owns the account and the order book and reports every change to a ``Notifier`` (the gateway
server), which turns them into protocol messages for the right client sessions. Rejections raise
``OrderRejectedError`` with IB's error code and text.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Protocol
from zoneinfo import ZoneInfo

import structlog

from bot.sim.account import MIN_COMMISSION_PER_ORDER, PaperAccount, commission_for
from bot.sim.listings import AmbiguousContractError, ContractQuery, Listings, is_on_tick
from bot.sim.market import MarketModel
from bot.sim.orders import OrderBook, decide_fill, valid_price
from bot.sim.records import ExecutionRecord, Instrument, MarginImpact, OrderRecord, Quote

NEW_YORK = ZoneInfo("America/New_York")
SUPPORTED_ORDER_TYPES = ("LMT", "MKT")
SUPPORTED_TIFS = ("DAY", "GTC", "IOC")
log = structlog.get_logger(__name__)


class OrderRejectedError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class OrderRequest:
    """The parts of a placeOrder message the paper broker acts on."""

    order_id: int
    contract: ContractQuery
    action: str
    total_quantity: float
    order_type: str
    limit_price: float | None
    aux_price: float | None
    tif: str
    oca_group: str = ""
    account: str = ""
    order_ref: str = ""
    transmit: bool = True
    parent_id: int = 0
    outside_rth: bool = False
    good_till_date: str = ""
    what_if: bool = False
    unsupported: str = ""  # why the request uses a feature this gateway does not offer


class Notifier(Protocol):
    def order_changed(self, order: OrderRecord, instrument: Instrument, announce: bool) -> None:
        """Status changed; ``announce`` also sends openOrder (new or modified order)."""

    def order_filled(self, order: OrderRecord, execution: ExecutionRecord, instrument: Instrument) -> None: ...

    def order_cancelled(self, order: OrderRecord, instrument: Instrument, reason: str) -> None: ...

    def positions_changed(self, con_ids: Sequence[int]) -> None: ...

    def state_changed(self) -> None: ...


class PaperExchange:
    def __init__(
        self,
        model: MarketModel,
        listings: Listings,
        account: PaperAccount,
        book: OrderBook,
        notifier: Notifier,
    ) -> None:
        self.model = model
        self.listings = listings
        self.account = account
        self.book = book
        self.notifier = notifier
        self.partial_fills = False
        self.partial_fill_max: float | None = None  # with partial fills: at most this many per pass
        self.reject_queue: list[tuple[int, str]] = []
        self._batch_depth = 0
        self._save_pending = False

    # -- lookups -------------------------------------------------------------------------------

    def instrument(self, con_id: int) -> Instrument:
        instrument = self.listings.by_con_id(con_id)
        if instrument is None:
            raise KeyError(f"unknown conId {con_id}")
        return instrument

    def resolve(self, query: ContractQuery, today: dt.date) -> tuple[Instrument, str]:
        try:
            matches = self.listings.match(query, today)
        except AmbiguousContractError as error:
            raise OrderRejectedError(200, str(error)) from None
        if not matches:
            raise OrderRejectedError(200, "No security definition has been found for the request")
        if len(matches) > 1:
            symbol = query.symbol or query.local_symbol
            raise OrderRejectedError(200, f"The contract description specified for {symbol} is ambiguous.")
        return matches[0]

    def marks(self, moment: dt.datetime, con_ids: Sequence[int] | None = None) -> dict[int, float]:
        ids = list(con_ids) if con_ids is not None else [p.con_id for p in self.account.held()]
        instruments = [self.instrument(con_id) for con_id in ids]
        quotes = self.model.quotes(instruments, moment) if instruments else []
        return {instrument.con_id: quote.mark for instrument, quote in zip(instruments, quotes, strict=True)}

    def spot(self, moment: dt.datetime) -> Callable[[str], float]:
        state = self.model.state(moment)
        return lambda symbol: state.vix if symbol == "VIX" else state.spx

    def account_summary(self, moment: dt.datetime) -> dict[str, float]:
        held = self.account.held()
        instruments = {p.con_id: self.instrument(p.con_id) for p in held}
        return self.account.summary(instruments, self.marks(moment), self.spot(moment))

    def _today(self, moment: dt.datetime) -> dt.date:
        return moment.astimezone(NEW_YORK).date()

    # -- saving ------------------------------------------------------------------------------------

    def _state_changed(self) -> None:
        if self._batch_depth:
            self._save_pending = True
        else:
            self.notifier.state_changed()

    @contextmanager
    def _one_save(self) -> Iterator[None]:
        """Changes made inside are saved once, on the way out (still before control returns to the loop)."""
        self._batch_depth += 1
        try:
            yield
        finally:
            self._batch_depth -= 1
            if not self._batch_depth and self._save_pending:
                self._save_pending = False
                self.notifier.state_changed()

    # -- placing ---------------------------------------------------------------------------------

    def _validate(self, request: OrderRequest, moment: dt.datetime) -> tuple[Instrument, str]:
        if request.unsupported:
            raise OrderRejectedError(
                201, f"Order rejected - reason:{request.unsupported} is not supported by this paper gateway"
            )
        if request.account and request.account != self.account.account_id:
            raise OrderRejectedError(201, f"Order rejected - reason:Invalid account code {request.account}")
        if not request.contract.exchange:
            raise OrderRejectedError(321, "Error validating request.-'bN' : cause - Missing order exchange")
        instrument, exchange = self.resolve(request.contract, self._today(moment))
        if instrument.sec_type not in ("OPT", "FUT"):
            raise OrderRejectedError(
                201, f"Order rejected - reason:{instrument.symbol} {instrument.sec_type} is not tradable"
            )
        if not self.listings.is_tradable(instrument, self._today(moment)):
            raise OrderRejectedError(201, f"Order rejected - reason:{instrument.describe()} no longer trades")
        if request.action not in ("BUY", "SELL"):
            raise OrderRejectedError(201, f"Order rejected - reason:Invalid action {request.action!r}")
        if request.order_type not in SUPPORTED_ORDER_TYPES:
            raise OrderRejectedError(387, "Unsupported order type for this exchange and security type.")
        tif = request.tif or "DAY"
        if tif not in SUPPORTED_TIFS:
            raise OrderRejectedError(201, f"Order rejected - reason:Time in force {tif} is not supported")
        quantity = request.total_quantity
        if not math.isfinite(quantity) or quantity <= 0:
            raise OrderRejectedError(434, "The order size cannot be zero.")
        if quantity != int(quantity):
            raise OrderRejectedError(201, "Order rejected - reason:Order quantity must be a whole number of contracts")
        if request.order_type == "LMT":
            price = request.limit_price
            if price is None or not math.isfinite(price) or price <= 0:
                raise OrderRejectedError(201, "Order rejected - reason:A limit order needs a positive limit price")
            if not is_on_tick(instrument.market_rule_id, price):
                raise OrderRejectedError(
                    110, "The price does not conform to the minimum price variation for this contract."
                )
        return instrument, exchange

    def _check_funds(self, request: OrderRequest, instrument: Instrument, moment: dt.datetime) -> MarginImpact:
        impact, price, available = self._assess(request, instrument, moment)
        cost = price * request.total_quantity * instrument.multiplier if request.action == "BUY" else 0.0
        if instrument.is_future:
            cost = 0.0
        increases_margin = impact.init_change > 0
        if cost + impact.commission > available or (increases_margin and impact.init_after > impact.equity_after):
            raise OrderRejectedError(
                201,
                "Order rejected - reason:YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE DESIRED POSITION "
                f"YOUR EQUITY WITH LOAN VALUE [{impact.equity_after:,.2f} USD] MUST EXCEED THE INITIAL MARGIN "
                f"[{impact.init_after + cost:,.2f} USD]",
            )
        return impact

    def _reference_price(self, request: OrderRequest, instrument: Instrument, moment: dt.datetime) -> float:
        if request.order_type == "LMT" and request.limit_price is not None:
            return request.limit_price
        quote = self.model.quote(instrument, moment)
        touch = quote.ask if request.action == "BUY" else quote.bid
        return touch if valid_price(touch) else quote.mark

    def _assess(
        self, request: OrderRequest, instrument: Instrument, moment: dt.datetime
    ) -> tuple[MarginImpact, float, float]:
        """(margin impact, reference price, available funds now), from one set of marks."""
        instruments = {p.con_id: self.instrument(p.con_id) for p in self.account.held()}
        marks = self.marks(moment, [*instruments, instrument.con_id])
        spot = self.spot(moment)
        price = self._reference_price(request, instrument, moment)
        impact = self.account.what_if(
            instrument, request.action, request.total_quantity, price, instruments, marks, spot
        )
        available = self.account.summary(instruments, marks, spot)["AvailableFunds"]
        return impact, price, available

    def what_if(
        self, client_id: int, request: OrderRequest, moment: dt.datetime
    ) -> tuple[OrderRecord, Instrument, MarginImpact]:
        instrument, exchange = self._validate(request, moment)
        impact, price, available = self._assess(request, instrument, moment)
        if impact.init_after > impact.equity_after or (
            request.action == "BUY" and price * request.total_quantity * instrument.multiplier > available
        ):
            impact = replace(impact, warning="Insufficient funds for this order")
        order = self._new_record(client_id, request, instrument, exchange, moment, perm_id=0)
        order.status = "PreSubmitted"
        return order, instrument, impact

    def _new_record(
        self,
        client_id: int,
        request: OrderRequest,
        instrument: Instrument,
        exchange: str,
        moment: dt.datetime,
        perm_id: int,
    ) -> OrderRecord:
        return OrderRecord(
            perm_id=perm_id,
            client_id=client_id,
            order_id=request.order_id,
            account=self.account.account_id,
            con_id=instrument.con_id,
            exchange=exchange,
            action="BUY" if request.action == "BUY" else "SELL",
            total_quantity=float(request.total_quantity),
            order_type=request.order_type,
            limit_price=request.limit_price if request.order_type == "LMT" else None,
            aux_price=request.aux_price,
            tif=request.tif or "DAY",
            order_ref=request.order_ref,
            oca_group=request.oca_group,
            outside_rth=request.outside_rth,
            transmit=request.transmit,
            parent_id=request.parent_id,
            good_till_date=request.good_till_date,
            created=moment,
        )

    def place(self, client_id: int, request: OrderRequest, moment: dt.datetime) -> OrderRecord:
        """A new order, or a modification when (client, order id) names an active order."""
        if self.reject_queue:
            code, reason = self.reject_queue.pop(0)
            raise OrderRejectedError(code, reason)
        existing = self.book.get(client_id, request.order_id)
        if existing is not None:
            return self._modify(existing, request, moment)
        instrument, exchange = self._validate(request, moment)
        self._check_funds(request, instrument, moment)
        order = self._new_record(client_id, request, instrument, exchange, moment, self.book.new_perm_id())
        order.status = "Submitted" if self._can_trade_now(instrument, moment) else "PreSubmitted"
        self.book.add(order)
        log.info(
            "order placed", perm_id=order.perm_id, client_id=client_id, order_id=order.order_id, ref=order.order_ref
        )
        self.notifier.order_changed(order, instrument, announce=True)
        self._state_changed()
        self._arrive(order, instrument, moment)
        return order

    def _arrive(self, order: OrderRecord, instrument: Instrument, moment: dt.datetime) -> None:
        """An order reaching the exchange trades at once if it is marketable, else it rests."""
        if order.status == "Submitted" and self.model.in_session(moment):
            self._match_one(order, instrument, self.model.quote(instrument, moment), moment)

    def _modify(self, order: OrderRecord, request: OrderRequest, moment: dt.datetime) -> OrderRecord:
        if order.status == "Filled":
            raise OrderRejectedError(104, "Can't modify a filled order.")
        if not order.is_active:
            raise OrderRejectedError(103, f"Duplicate order id {request.order_id}")
        instrument = self.instrument(order.con_id)
        try:
            new_instrument, _ = self._validate(request, moment)
        except OrderRejectedError as rejected:
            if rejected.code == 200:
                raise OrderRejectedError(103, f"Duplicate order id {request.order_id}") from None
            raise
        if new_instrument.con_id != order.con_id or request.action != order.action:
            # The id belongs to another order: a client that reused an old id (say, after trusting a
            # lower next-valid-id) must not silently change that order.
            raise OrderRejectedError(103, f"Duplicate order id {request.order_id}")
        if request.total_quantity < order.filled:
            raise OrderRejectedError(201, "Order rejected - reason:Quantity is below the quantity already filled")
        order.total_quantity = float(request.total_quantity)
        order.order_type = request.order_type
        order.limit_price = request.limit_price if request.order_type == "LMT" else None
        order.tif = request.tif or order.tif
        order.order_ref = request.order_ref or order.order_ref
        order.outside_rth = request.outside_rth
        self.book.mark_aggressive(order)
        if order.remaining <= 0:
            order.status = "Filled"
            order.completed_time = moment
            order.completed_status = "Filled"
        self.notifier.order_changed(order, instrument, announce=True)
        self._state_changed()
        if order.is_active:
            self._arrive(order, instrument, moment)
        return order

    def cancel(self, client_id: int, order_id: int, moment: dt.datetime, reason: str = "") -> OrderRecord:
        order = self.book.get(client_id, order_id)
        if order is None:
            raise OrderRejectedError(10147, f"OrderId {order_id} that needs to be cancelled is not found.")
        if not order.is_active:
            raise OrderRejectedError(
                10148, f"OrderId {order_id} that needs to be cancelled cannot be cancelled, state: {order.status}."
            )
        self._cancel(order, moment, reason or "Cancelled by Trader")
        return order

    def _cancel(self, order: OrderRecord, moment: dt.datetime, reason: str) -> None:
        order.status = "Cancelled"
        order.completed_time = moment
        order.completed_status = reason
        self.book.rested(order)
        self.notifier.order_cancelled(order, self.instrument(order.con_id), reason)
        self._state_changed()

    def cancel_all(self, moment: dt.datetime) -> int:
        orders = self.book.active()
        with self._one_save():
            for order in orders:
                self._cancel(order, moment, "Cancelled by Trader")
        return len(orders)

    # -- time events ---------------------------------------------------------------------------------

    def _can_trade_now(self, instrument: Instrument, moment: dt.datetime) -> bool:
        return self.model.in_session(moment) and self.listings.is_tradable(instrument, self._today(moment))

    def session_opened(self, moment: dt.datetime) -> None:
        """Orders held while the market was closed start working."""
        for order in self.book.active():
            if order.status == "PreSubmitted" and self._can_trade_now(self.instrument(order.con_id), moment):
                order.status = "Submitted"
                self.book.mark_aggressive(order)
                self.notifier.order_changed(order, self.instrument(order.con_id), announce=False)

    def session_closed(self, day: dt.date, close: dt.datetime) -> None:
        """DAY orders expire; orders on contracts that stop trading today are cancelled."""
        with self._one_save():
            for order in self.book.active():
                instrument = self.instrument(order.con_id)
                last = instrument.last_trade_date
                if order.tif == "DAY":
                    self._cancel(order, close, "Cancelled by System: DAY order expired")
                elif last is not None and last <= day:
                    self._cancel(order, close, "Cancelled by System: contract no longer trades")

    def settle_expiring(self, day: dt.date, morning: bool) -> list[int]:
        """Cash-settle positions in contracts that settle at this day's open (AM) or close (PM)."""
        with self._one_save():
            return self._settle_expiring(day, morning)

    def _settle_expiring(self, day: dt.date, morning: bool) -> list[int]:
        settled = []
        for position in list(self.account.held()):
            instrument = self.instrument(position.con_id)
            if instrument.expiry != day:
                continue
            settles_in_morning = instrument.settlement == "AM" or instrument.is_future
            if settles_in_morning != morning:
                continue
            value = self.model.settlement_value(instrument)
            realized = self.account.settle(instrument, value)
            log.info("position settled", contract=instrument.describe(), value=value, realized=round(realized, 2))
            settled.append(instrument.con_id)
        for order in self.book.active():
            instrument = self.instrument(order.con_id)
            if instrument.expiry is not None and instrument.expiry <= day:
                self._cancel(order, self.model.settlement_moment(instrument), "Cancelled by System: contract expired")
        if settled:
            self.notifier.positions_changed(settled)
            self._state_changed()
        return settled

    # -- matching -------------------------------------------------------------------------------------

    def match(self, moment: dt.datetime) -> int:
        """Fill what the market allows now; returns the number of fills."""
        working = [order for order in self.book.active() if order.status == "Submitted"]
        if not working or not self.model.in_session(moment):
            return 0
        instruments = [self.instrument(order.con_id) for order in working]
        quotes = self.model.quotes(instruments, moment)
        today = self._today(moment)
        fills = 0
        with self._one_save():
            for order, instrument, quote in zip(working, instruments, quotes, strict=True):
                if not self.listings.is_tradable(instrument, today):
                    continue
                fills += self._match_one(order, instrument, quote, moment)
        return fills

    def _match_one(self, order: OrderRecord, instrument: Instrument, quote: Quote, moment: dt.datetime) -> int:
        fill = decide_fill(
            order, quote, resting=self.book.is_resting(order), partial=self.partial_fills, cap=self.partial_fill_max
        )
        self.book.rested(order)
        if fill is None:
            if order.tif == "IOC":
                self._cancel(order, moment, "Cancelled by System: IOC order not filled")
            return 0
        commission = commission_for(instrument, fill.quantity)
        if order.commission_paid + commission < MIN_COMMISSION_PER_ORDER:
            commission = MIN_COMMISSION_PER_ORDER - order.commission_paid
        side = "BOT" if order.action == "BUY" else "SLD"
        result = self.account.apply_fill(instrument, side, fill.quantity, fill.price, commission)
        previous_value = order.avg_fill_price * order.filled
        order.filled += fill.quantity
        order.avg_fill_price = (previous_value + fill.price * fill.quantity) / order.filled
        order.last_fill_price = fill.price
        order.commission_paid += commission
        if order.remaining <= 0:
            order.status = "Filled"
            order.completed_time = moment
            order.completed_status = "Filled"
        execution = ExecutionRecord(
            exec_id=self.book.new_exec_id(),
            time=moment,
            account=self.account.account_id,
            con_id=instrument.con_id,
            exchange=instrument.exchange,
            side="BOT" if side == "BOT" else "SLD",
            shares=fill.quantity,
            price=fill.price,
            perm_id=order.perm_id,
            client_id=order.client_id,
            order_id=order.order_id,
            cum_qty=order.filled,
            avg_price=round(order.avg_fill_price, 6),
            order_ref=order.order_ref,
            commission=round(commission, 4),
            realized_pnl=result.realized_pnl,
            liquidity=fill.liquidity,
        )
        self.book.record_execution(execution)
        log.info(
            "order filled",
            perm_id=order.perm_id,
            contract=instrument.describe(),
            side=side,
            quantity=fill.quantity,
            price=fill.price,
            ref=order.order_ref,
        )
        self.notifier.order_filled(order, execution, instrument)
        if order.is_active and order.tif == "IOC":
            self._cancel(order, moment, "Cancelled by System: IOC remainder")
        self.notifier.positions_changed([instrument.con_id])
        self._state_changed()
        return 1
