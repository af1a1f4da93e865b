"""Order primitives over ib_async: place a new limit order, modify, cancel, and look orders up."""

from __future__ import annotations

import asyncio
import datetime as dt

from ib_async import IB, Contract, ExecutionFilter, Fill, LimitOrder, Trade

from bot.broker.errors import BrokerError


class Orders:
    def __init__(self, ib: IB, timeout: float, account: str | None = None) -> None:
        self.ib = ib
        self.timeout = timeout
        self.account = account
        self.messages_sent = 0
        self._id_floor = 0  # the next order id must be at least this (one more than any id used)
        # ib_async keys these requests by a fixed name: two at once would overwrite each other's answer.
        self._keyed = asyncio.Lock()

    def place(
        self, contract: Contract, side: str, quantity: int, limit_price: float, tif: str, order_ref: str
    ) -> Trade:
        """A new order object every time: reusing an order id would be a modify (IB semantics).

        Order ids only go up, whatever the gateway announced as the next valid id on the last connect: a
        restarted gateway may announce a lower one, and an id already used would modify (or clash with) an
        older order. Checked here, at every placement, not only once reconciliation has run."""
        self.ib.client.updateReqId(self._id_floor)
        order = LimitOrder(side, quantity, limit_price, tif=tif, orderRef=order_ref, account=self.account or "")
        order.transmit = True
        self.messages_sent += 1
        trade = self.ib.placeOrder(contract, order)
        self._id_floor = max(self._id_floor, trade.order.orderId + 1)
        return trade

    def modify(self, trade: Trade, limit_price: float) -> None:
        trade.order.lmtPrice = limit_price
        self.messages_sent += 1
        self.ib.placeOrder(trade.contract, trade.order)

    def cancel(self, trade: Trade) -> None:
        self.messages_sent += 1
        self.ib.cancelOrder(trade.order)

    def trade_for(self, order_ref: str) -> Trade | None:
        """This session's trade for an orderRef: the live one if there is one, else the latest."""
        found = [t for t in self.ib.trades() if t.order.orderRef == order_ref]
        live = [t for t in found if not t.isDone()]
        return (live or found or [None])[-1]

    def raise_order_id_floor(self, floor: int) -> None:
        """Order ids only go up: never below what this bot used before a gateway restart."""
        self._id_floor = max(self._id_floor, floor)
        self.ib.client.updateReqId(self._id_floor)

    def next_order_id(self) -> int:
        return int(self.ib.client._reqIdSeq)

    async def all_open_orders(self) -> list[Trade]:
        async with self._keyed:
            return await self._bounded(self.ib.reqAllOpenOrdersAsync(), "open orders")

    async def completed_orders(self) -> list[Trade]:
        async with self._keyed:
            return await self._bounded(self.ib.reqCompletedOrdersAsync(apiOnly=False), "completed orders")

    async def executions(self, since: dt.datetime | None) -> list[Fill]:
        executions_filter = ExecutionFilter()
        if since is not None:
            executions_filter.time = since.astimezone(dt.UTC).strftime("%Y%m%d-%H:%M:%S")
        return await self._bounded(self.ib.reqExecutionsAsync(executions_filter), "executions")

    async def _bounded(self, request, what: str):  # type: ignore[no-untyped-def]
        try:
            return await asyncio.wait_for(request, timeout=self.timeout)
        except TimeoutError:
            raise BrokerError(f"request for {what} timed out after {self.timeout:g} s") from None
