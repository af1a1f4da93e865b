"""The paper exchange saves its state once per batch (global cancel, session close), after the whole batch."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from bot.sim.account import PaperAccount
from bot.sim.exchange import OrderRequest, PaperExchange
from bot.sim.listings import ContractQuery, Listings
from bot.sim.market import MarketModel, MarketParameters
from bot.sim.orders import OrderBook
from bot.sim.records import ExecutionRecord, Instrument, OrderRecord

NY = ZoneInfo("America/New_York")
NOW = dt.datetime(2025, 11, 24, 10, 30, tzinfo=NY)


class Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []

    def order_changed(self, order: OrderRecord, instrument: Instrument, announce: bool) -> None:
        self.events.append("changed")

    def order_filled(self, order: OrderRecord, execution: ExecutionRecord, instrument: Instrument) -> None:
        self.events.append("filled")

    def order_cancelled(self, order: OrderRecord, instrument: Instrument, reason: str) -> None:
        self.events.append("cancelled")

    def positions_changed(self, con_ids: Sequence[int]) -> None:
        self.events.append("positions")

    def state_changed(self) -> None:
        self.events.append("saved")


def _exchange_with_resting_orders(tifs: Sequence[str]) -> tuple[PaperExchange, Recorder]:
    listings = Listings(spx_reference=5800.0)
    recorder = Recorder()
    exchange = PaperExchange(
        MarketModel(MarketParameters(), seed=1, start=NOW),
        listings,
        PaperAccount("DU1", 100_000.0),
        OrderBook(next_perm_id=1000, exec_prefix="0000beef"),
        recorder,
    )
    call = listings.vix_option(listings.vix_monthly_expiries(NOW.date())[1], 20.0, "C")
    query = ContractQuery(con_id=call.con_id, exchange="SMART")
    for order_id, tif in enumerate(tifs, start=1):
        exchange.place(1, OrderRequest(order_id, query, "BUY", 1, "LMT", 0.05, None, tif), NOW)
    assert recorder.events == ["changed", "saved"] * len(tifs)  # far below the market: they rest
    recorder.events.clear()
    return exchange, recorder


def test_global_cancel_saves_once_after_every_cancellation() -> None:
    exchange, recorder = _exchange_with_resting_orders(["DAY", "GTC", "DAY"])
    assert exchange.cancel_all(NOW) == 3
    assert recorder.events == ["cancelled", "cancelled", "cancelled", "saved"]


def test_session_close_saves_once_after_the_day_orders_expire() -> None:
    exchange, recorder = _exchange_with_resting_orders(["DAY", "GTC", "DAY"])
    close = dt.datetime(2025, 11, 24, 16, 0, tzinfo=NY)
    exchange.session_closed(NOW.date(), close)
    assert recorder.events == ["cancelled", "cancelled", "saved"]
    assert [order.status for order in exchange.book.orders.values()] == ["Cancelled", "Submitted", "Cancelled"]


def test_a_batch_with_nothing_to_do_does_not_save() -> None:
    exchange, recorder = _exchange_with_resting_orders(["GTC"])
    exchange.session_closed(NOW.date(), dt.datetime(2025, 11, 24, 16, 0, tzinfo=NY))
    assert exchange.settle_expiring(NOW.date(), morning=False) == []
    assert recorder.events == []
