#!/usr/bin/env python3
"""A short ib_async session against the paper gateway (or an IB paper account):

connect, list the account's positions, qualify a VIX call, stream its quote, buy one contract.

    alvh gateway --port 4002 --seed 1          # in one terminal
    .venv/bin/python scripts/gateway_demo.py   # in another
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys

from ib_async import IB, Index, LimitOrder, Option

VIX_INDEX_CON_ID = 13455763


async def demo(host: str, port: int, client_id: int) -> int:
    ib = IB()
    await ib.connectAsync(host, port, clientId=client_id, timeout=10)
    [account] = ib.managedAccounts()
    print(f"connected to {host}:{port} as client {client_id}, account {account}")
    if not account.startswith("DU"):
        print("not a paper account (DU...): stopping before any order", file=sys.stderr)
        ib.disconnect()
        return 1

    print("positions:")
    for position in ib.positions():
        contract = position.contract
        name = contract.localSymbol or contract.symbol
        print(f"  {name:<24} {position.position:>+6g}  avg cost {position.avgCost:,.2f}")

    vix = Index("VIX", "CBOE")
    await ib.qualifyContractsAsync(vix)
    [spot] = await ib.reqTickersAsync(vix)
    level = spot.last if not math.isnan(spot.last) else spot.close
    chains = await ib.reqSecDefOptParamsAsync("VIX", "", "IND", VIX_INDEX_CON_ID)
    monthly = next(chain for chain in chains if chain.tradingClass == "VIX" and chain.exchange == "SMART")
    expiry = sorted(monthly.expirations)[1]
    strike = min(monthly.strikes, key=lambda s: abs(s - level * 1.2))
    option = Option("VIX", expiry, strike, "C", "SMART", tradingClass="VIX")
    if not (await ib.qualifyContractsAsync(option))[0]:
        print(f"VIX {expiry} {strike:g} call is not listed", file=sys.stderr)
        ib.disconnect()
        return 1
    print(f"VIX at {level:.2f}; qualified {option.localSymbol} (conId {option.conId})")

    ticker = ib.reqMktData(option)
    for _ in range(100):  # wait for a full quote: bid, ask and IB's model greeks
        if ticker.ask > 0 and ticker.modelGreeks is not None:
            break
        await asyncio.sleep(0.1)
    for update in range(3):
        if update:
            await ticker.updateEvent
        greeks = ticker.modelGreeks
        delta = f"{greeks.delta:.3f}" if greeks and greeks.delta is not None else "n/a"
        print(f"  bid {ticker.bid:.2f} x {ticker.bidSize:g}  ask {ticker.ask:.2f} x {ticker.askSize:g}  delta {delta}")
    if not (ticker.ask > 0):
        print("no ask to buy at", file=sys.stderr)
        ib.disconnect()
        return 1

    trade = ib.placeOrder(option, LimitOrder("BUY", 1, ticker.ask, tif="DAY", orderRef="gateway-demo"))
    for _ in range(100):
        if trade.isDone():
            break
        await asyncio.sleep(0.1)
    status = trade.orderStatus
    print(f"order {trade.order.orderId} (permId {trade.order.permId}): {status.status}, filled {status.filled:g}")
    for fill in trade.fills:
        print(
            f"  bought {fill.execution.shares:g} @ {fill.execution.price:.2f}, "
            f"commission {fill.commissionReport.commission:.2f} {fill.commissionReport.currency}"
        )
    ib.cancelMktData(option)
    ib.disconnect()
    return 0 if status.status == "Filled" else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4002)
    parser.add_argument("--client-id", type=int, default=99)
    args = parser.parse_args()
    return asyncio.run(demo(args.host, args.port, args.client_id))


if __name__ == "__main__":
    sys.exit(main())
