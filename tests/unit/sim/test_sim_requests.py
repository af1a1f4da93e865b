"""Requests as ib_async's own Client serialises them, parsed by the gateway."""

from __future__ import annotations

from ib_async import Contract, LimitOrder, MarketOrder, Option, TagValue
from ib_async.client import Client
from ib_async.order import Order

from bot.sim.protocol import FieldReader, decode_payload
from bot.sim.requests import parse_place_order, read_contract


def client_fields(server_version: int, call: str, *args: object) -> list[str]:
    """The fields ib_async's Client sends for ``call(*args)`` at ``server_version``."""
    sent: list[bytes] = []
    client = Client(wrapper=None)
    client.connState = Client.CONNECTED
    client._serverVersion = server_version
    client.conn.sendMsg = sent.append  # type: ignore[method-assign]
    client.MaxRequests = 0
    getattr(client, call)(*args)
    assert len(sent) == 1
    return decode_payload(sent[0][4:])


VIX_CALL = Option("VIX", "20251217", 18, "C", "SMART", tradingClass="VIX", conId=812345678, multiplier="100")


def test_read_contract() -> None:
    fields = client_fields(178, "reqContractDetails", 5, VIX_CALL)
    assert fields[:3] == ["9", "8", "5"]
    query = read_contract(FieldReader(fields, 3))
    assert (query.con_id, query.symbol, query.sec_type, query.last_trade) == (812345678, "VIX", "OPT", "20251217")
    assert (query.strike, query.right, query.multiplier, query.exchange) == (18.0, "C", "100", "SMART")
    assert (query.currency, query.trading_class) == ("", "VIX")


def test_limit_order() -> None:
    order = LimitOrder("BUY", 3, 1.25, tif="GTC", orderRef="alvh:intent:1", account="DU1234567")
    for version in (176, 178):
        request = parse_place_order(client_fields(version, "placeOrder", 42, VIX_CALL, order), version)
        assert request.order_id == 42
        assert request.contract.con_id == 812345678
        assert (request.action, request.total_quantity, request.order_type) == ("BUY", 3.0, "LMT")
        assert (request.limit_price, request.aux_price, request.tif) == (1.25, None, "GTC")
        assert (request.order_ref, request.account, request.what_if) == ("alvh:intent:1", "DU1234567", False)
        assert request.unsupported == ""


def test_what_if_and_market_orders() -> None:
    order = MarketOrder("SELL", 2)
    order.whatIf = True
    request = parse_place_order(client_fields(178, "placeOrder", 7, VIX_CALL, order), 178)
    assert (request.action, request.order_type, request.limit_price, request.what_if) == ("SELL", "MKT", None, True)


def test_unsupported_features_are_named() -> None:
    order = LimitOrder("BUY", 1, 1.0, algoStrategy="Adaptive", algoParams=[TagValue("adaptivePriority", "Normal")])
    request = parse_place_order(client_fields(178, "placeOrder", 8, VIX_CALL, order), 178)
    assert "Adaptive" in request.unsupported
    combo = Contract(secType="BAG", symbol="VIX", exchange="SMART", comboLegs=[])
    request = parse_place_order(
        client_fields(178, "placeOrder", 9, combo, Order(action="BUY", totalQuantity=1, orderType="LMT", lmtPrice=1)),
        178,
    )
    assert "combo" in request.unsupported
