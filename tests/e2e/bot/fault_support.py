"""Helpers for the bot's fault tests: the invariants every fault scenario ends with, small waits, and the
paper gateway and bot process the crash tests run.

Every fault test ends with the same three checks against what really happened at the gateway:

- no duplicate: at most one order (perm id) per intent id (orderRef) in the gateway's order book, and at
  most one ``sent`` journal record per intent;
- nothing lost: every execution the gateway made for one of the bot's orderRefs is in the journal
  exactly once (``fill`` or ``harvest_fill``), and in the store's fills exactly once;
- the journal's hash chain verifies (``alvh audit verify`` exits 0).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from ib_async import IB, Contract, LimitOrder, Trade

from bot.control.client import BotNotRunningError, send
from bot.control.protocol import ControlRequest
from bot.engine.crash_points import VARIABLE as CRASH_POINT
from bot.engine.service import EvaluationResult
from bot.sim.gateway import GatewayServer
from bot.store.database import Store
from tests.e2e.gateway.gateway_support import connect
from tests.support import waiting
from tests.support.bot_harness import MONDAY, BotProcess, Harness, audit, gateway_orders_per_ref, journal_records

INTENT_PREFIX = "alvh-"
FARM_OK = frozenset({2104, 2106, 2158})


async def wait_until(predicate: Callable[[], object], wall_timeout: float = 30.0, what: str = "condition") -> None:
    """The shared wait, with the fault tests' default of 30 wall seconds."""
    await waiting.wait_until(predicate, wall_timeout, what)


def gateway_bot_executions(gateway: GatewayServer, until: dt.datetime | None = None) -> dict[str, str]:
    """exec id -> orderRef of every execution the gateway made for the bot's orders (up to ``until``)."""
    return {
        e.exec_id: e.order_ref
        for e in gateway.exchange.book.executions
        if e.order_ref.startswith(INTENT_PREFIX) and (until is None or e.time <= until)
    }


def journal_fill_ids(state_dir: Path) -> Counter[str]:
    fills = [*journal_records(state_dir, "fill"), *journal_records(state_dir, "harvest_fill")]
    return Counter(record.payload["exec_id"] for record in fills)


def journal_sent_per_intent(state_dir: Path) -> Counter[str]:
    return Counter(record.payload["intent_id"] for record in journal_records(state_dir, "sent"))


def alerts(state_dir: Path, code: str | None = None) -> list[Any]:
    return [r for r in journal_records(state_dir, "alert") if code is None or r.payload["code"] == code]


def reconciles(state_dir: Path) -> list[Any]:
    return journal_records(state_dir, "reconcile")


def assert_invariants(
    state_dir: Path, gateway: GatewayServer, *, store: Store | None = None, until: dt.datetime | None = None
) -> None:
    """No duplicate order per intent, every bot execution journaled (and stored) exactly once, chain verifies.

    ``state_dir`` is the bot's state directory; pass ``store`` when the bot still holds it open, and ``until``
    (gateway clock) when the bot stopped before the gateway: executions after it cannot be the bot's to record."""
    per_ref = gateway_orders_per_ref(gateway)
    duplicates = {ref: n for ref, n in per_ref.items() if n > 1}
    assert not duplicates, f"more than one order per intent at the gateway: {duplicates}"
    sent = journal_sent_per_intent(state_dir)
    assert not sent or max(sent.values()) == 1, f"an intent was sent twice: {sent.most_common(3)}"

    at_gateway = gateway_bot_executions(gateway, until)
    journaled = journal_fill_ids(state_dir)
    twice = {exec_id: n for exec_id, n in journaled.items() if n > 1}
    assert not twice, f"executions journaled more than once: {twice}"
    missing = sorted(set(at_gateway) - set(journaled))
    assert not missing, f"executions at the gateway missing from the journal: {missing}"
    unknown = sorted(set(journaled) - set(gateway_bot_executions(gateway)))
    assert not unknown, f"journaled executions the gateway never made: {unknown}"

    own_store = store is None
    db = store or Store.open(state_dir / "state.sqlite")
    try:
        stored = Counter(fill.exec_id for fill in db.fills())
    finally:
        if own_store:
            db.close()
    assert set(at_gateway) <= set(stored) <= set(gateway_bot_executions(gateway)), (
        f"store fills differ from the gateway's executions: missing {sorted(set(at_gateway) - set(stored))}, "
        f"extra {sorted(set(stored) - set(gateway_bot_executions(gateway)))}"
    )
    assert audit("verify", "--state-dir", str(state_dir)) == 0, "the journal chain does not verify"


def bot_positions(gateway: GatewayServer) -> dict[int, float]:
    """conId -> quantity of every VIX option the paper account holds."""
    found = {}
    for position in gateway.exchange.account.held():
        instrument = gateway.exchange.instrument(position.con_id)
        if instrument.symbol == "VIX" and instrument.sec_type == "OPT" and position.quantity:
            found[position.con_id] = position.quantity
    return found


async def settled(harness: Harness, wall_timeout: float = 20.0) -> None:
    """Wait until the running bot has recorded every execution the gateway made for its orders so far."""
    store = harness.service.store
    assert store is not None

    def recorded() -> bool:
        return set(gateway_bot_executions(harness.gateway)) <= {fill.exec_id for fill in store.fills()}

    await wait_until(recorded, wall_timeout, "every gateway execution recorded by the bot")


async def first_evaluation(harness: Harness, wall_timeout: float = 60.0) -> EvaluationResult:
    """Run the clock to just before Monday's 10:00 evaluation and wait for that evaluation to finish."""
    if harness.clock.now() < MONDAY.replace(hour=9, minute=59):
        await harness.fast_forward(MONDAY.replace(hour=9, minute=59, second=30))
    await harness.wait_for(lambda: len(harness.service.evaluations) >= 1, wall_timeout)
    return harness.service.evaluations[0]


def ib_errors(harness: Harness) -> Counter[int]:
    """The IB error codes the bot's connection has seen (farm-OK notices left out)."""
    return Counter(e.code for e in harness.service.broker.connection.recent_errors if e.code not in FARM_OK)


async def human_client(port: int, client_id: int = 5) -> IB:
    """Another API client on the same account: the operator trading by hand in TWS."""
    return await connect(port, client_id, timeout=10)


async def trade_by_hand(ib: IB, con_id: int, side: str, quantity: int) -> Trade:
    """A marketable limit order on the contract, placed by the 'human' client; waits until it is done."""
    contract = Contract(conId=con_id, exchange="SMART")
    await ib.qualifyContractsAsync(contract)
    [ticker] = await ib.reqTickersAsync(contract)
    price = ticker.ask if side == "BUY" else ticker.bid
    assert price > 0, f"no {('ask' if side == 'BUY' else 'bid')} to trade {contract.localSymbol} by hand"
    trade = ib.placeOrder(contract, LimitOrder(side, quantity, price, tif="DAY"))
    await wait_until(trade.isDone, 15, f"the hand-placed {side} order to finish")
    assert trade.orderStatus.status == "Filled", trade.orderStatus
    return trade


async def listed_vix_call(ib: IB, after: dt.date, strike: float) -> Contract:
    """A qualified monthly VIX call at ``strike``, of the first monthly expiry after ``after``."""
    chains = await ib.reqSecDefOptParamsAsync("VIX", "", "IND", 13455763)
    monthly = next(c for c in chains if c.tradingClass == "VIX")
    expiry = min(e for e in monthly.expirations if dt.datetime.strptime(e, "%Y%m%d").date() > after)
    contract = Contract(secType="OPT", symbol="VIX", lastTradeDateOrContractMonth=expiry, strike=strike, right="C")
    contract.exchange, contract.currency, contract.tradingClass = "SMART", "USD", "VIX"
    [qualified] = await ib.qualifyContractsAsync(contract)
    assert isinstance(qualified, Contract) and qualified.conId, f"no listed VIX call {expiry} {strike:g}"
    return qualified


@contextlib.asynccontextmanager
async def paper_gateway(tmp: Path, *, start: dt.datetime, seed: int, speed: float) -> AsyncIterator[GatewayServer]:
    """A paper gateway in the test's event loop, its clock at ``start`` running at ``speed``; stopped on exit."""
    gateway = GatewayServer(scenario="default", seed=seed, start=start, speed=speed, state_path=tmp / "gateway.json")
    await gateway.start()
    try:
        yield gateway
    finally:
        await gateway.stop()


async def start_bot(state: Path, port: int, crash_point: str = "", *, wait_ready: bool = True) -> BotProcess:
    """Start ``alvh run --clock gateway`` on ``state``, with ``crash_point`` armed if given; unless ``wait_ready``
    is false, wait until it answers on its control socket (it answers once its startup reconciliation is done)."""
    state.mkdir(exist_ok=True)
    bot = BotProcess(state, port, env={CRASH_POINT: crash_point})
    bot.start()
    if not wait_ready:
        return bot
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while True:
        assert bot.alive(), f"the bot process exited during startup:\n{bot.log()[-3000:]}"
        with contextlib.suppress(BotNotRunningError, OSError):
            if (await asyncio.to_thread(send, state, ControlRequest(command="ping"), 5)).ok:
                return bot
        assert loop.time() < deadline, f"the bot process did not start:\n{bot.log()[-3000:]}"
        await asyncio.sleep(0.1)
