"""Connect-trade-reconnect with ib_insync 0.9.86 against the paper gateway (run in ib_insync's own venv).

Usage: python ib_insync_client.py PORT. Prints one JSON document with what it observed; exit 0 on success.
Uses only ib_insync and the standard library (the gateway's admin channel is spoken directly).
"""

from __future__ import annotations

import asyncio
import json
import math
import sys

from ib_insync import IB, LimitOrder, Option

CLIENT_ID = 5


async def admin(port: int, command: str) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"ALVH-ADMIN 1\n")
    await reader.readline()
    writer.write((json.dumps({"command": command, "args": {}}) + "\n").encode())
    answer = json.loads(await reader.readline())
    writer.close()
    if not answer.get("ok"):
        raise RuntimeError(f"admin {command}: {answer}")


async def wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = asyncio.get_event_loop().time() + timeout
    while not predicate():
        if asyncio.get_event_loop().time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.05)


async def main(port: int) -> dict:
    seen: dict = {}
    ib = IB()
    await ib.connectAsync("127.0.0.1", port, clientId=CLIENT_ID, timeout=10)
    seen["server_version"] = ib.client.serverVersion()
    seen["accounts"] = ib.managedAccounts()
    seen["positions"] = len(ib.positions())
    chains = await ib.reqSecDefOptParamsAsync("VIX", "", "IND", 13455763)
    monthly = next(c for c in chains if c.tradingClass == "VIX" and c.exchange == "SMART")
    option = Option("VIX", sorted(monthly.expirations)[1], 20, "C", "SMART", tradingClass="VIX")
    await ib.qualifyContractsAsync(option)
    seen["con_id"] = option.conId
    ticker = ib.reqMktData(option)
    await wait_until(lambda: ticker.modelGreeks is not None and not math.isnan(ticker.ask))
    seen["quote"] = [ticker.bid, ticker.ask, ticker.modelGreeks.delta]
    buy = ib.placeOrder(option, LimitOrder("BUY", 1, ticker.ask, orderRef="insync-buy"))
    await wait_until(lambda: buy.orderStatus.status == "Filled")
    seen["fill"] = [buy.fills[0].execution.price, buy.fills[0].execution.orderRef]
    low = round(max(0.01, ticker.bid * 0.5), 2)
    resting = ib.placeOrder(option, LimitOrder("BUY", 2, low, tif="GTC", orderRef="insync-gtc"))
    await wait_until(lambda: resting.orderStatus.status == "Submitted")
    perm_id = resting.order.permId

    dropped = asyncio.Event()
    ib.disconnectedEvent += dropped.set
    await admin(port, "drop")
    await asyncio.wait_for(dropped.wait(), 10)
    seen["dropped"] = not ib.isConnected()

    again = IB()
    await again.connectAsync("127.0.0.1", port, clientId=CLIENT_ID, timeout=10)
    seen["open_orders"] = [
        (t.order.permId == perm_id, t.order.orderRef, t.orderStatus.status) for t in again.openTrades()
    ]
    seen["vix_position"] = [p.position for p in again.positions() if p.contract.conId == option.conId]
    seen["executions"] = sorted(f.execution.orderRef for f in await again.reqExecutionsAsync())
    again.cancelOrder(next(t for t in again.openTrades()).order)
    await wait_until(lambda: not again.openTrades())
    seen["cancelled"] = True
    again.disconnect()
    return seen


if __name__ == "__main__":
    result = asyncio.run(main(int(sys.argv[1])))
    print(json.dumps(result))
