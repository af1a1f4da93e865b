"""Pre-trade risk gates: checked for every order right before it is journaled and sent.

The planner already sized and priced the action; the gates re-check what may have changed since and
what must never be wrong: halt state, trading hours, the instrument allowlist, quantity and premium
caps, and a price collar against a fresh mid. A refusal is recorded with its reason; nothing is sent.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from bot.config import BotConfig
from bot.store.database import Store
from strategies.alvh.models import Action, OptionQuote, TradingSession
from strategies.alvh.quotes import check_quote, mid_price, round_to_tick
from strategies.alvh.schedule import trading_window
from strategies.alvh.sizing import CONTRACT_MULTIPLIER

ALLOWED_SYMBOL = "VIX"
ALLOWED_CLASSES = frozenset({"VIX", "VIXW"})


@dataclass(frozen=True)
class GateResult:
    allowed: bool
    gate: str
    reason: str
    quantity: int = 0
    collar_low: float | None = None
    collar_high: float | None = None


def collar(mid: float, config: BotConfig) -> float:
    return max(config.execution.collar_pct * mid, config.execution.collar_min_dollars)


def check_action(
    action: Action,
    *,
    now: dt.datetime,
    sessions: list[TradingSession],
    store: Store,
    config: BotConfig,
    quote: OptionQuote | None,
    qualified_con_id: int | None,
    may_trade: bool,
    blocked_reason: str,
    cap: float,
) -> GateResult:
    """Whether ``action`` (a buy, sell or place_harvest) may be sent now, and at what quantity."""
    halt = store.halt_state()
    if halt is not None:
        return GateResult(False, "halt", f"halted since {halt.at.isoformat()} by {halt.by}: {halt.reason}")
    if not may_trade:
        return GateResult(False, "connection", blocked_reason or "not connected to the gateway")
    window = trading_window(now, sessions, config.strategy.schedule)
    if not window.open:
        return GateResult(False, "trading_hours", window.reason)

    contract = action.contract
    if contract is None or action.side is None or action.limit_start is None or action.limit_bound is None:
        return GateResult(False, "malformed", "order action without contract, side or limits")
    if contract.symbol != ALLOWED_SYMBOL or contract.trading_class not in ALLOWED_CLASSES or contract.right != "C":
        return GateResult(False, "allowlist", f"{contract.key} is not a VIX/VIXW call")
    if qualified_con_id is None:
        return GateResult(False, "allowlist", f"{contract.key} is not a qualified, listed contract")
    if contract.con_id is not None and contract.con_id != qualified_con_id:
        return GateResult(
            False, "allowlist", f"{contract.key}: planned conId {contract.con_id} differs from IB's {qualified_con_id}"
        )

    quantity = action.quantity
    if quantity > config.execution.max_contracts_per_order:
        return GateResult(
            False,
            "quantity",
            f"{quantity} contracts exceed max_contracts_per_order {config.execution.max_contracts_per_order}",
        )
    if action.side == "SELL":
        quantity = min(quantity, _sellable(store, action))
        if quantity <= 0:
            return GateResult(False, "quantity", f"nothing left to sell of {contract.key} in {action.slot_id}")
    if action.kind == "buy":
        # An intent re-checked after a crash is already in the store as a working buy: not counted twice.
        at_risk = _premium_at_risk(store, excluding=action.intent_id)
        new_cost = quantity * action.limit_bound * CONTRACT_MULTIPLIER
        released = _roll_basis(store, action)
        if at_risk - released + new_cost > cap + 1e-6:
            return GateResult(
                False,
                "premium_cap",
                f"premium at risk ${at_risk - released:,.2f} + ${new_cost:,.2f} would exceed the cap ${cap:,.2f}",
            )

    if action.kind == "place_harvest":
        return GateResult(True, "passed", "resting GTC harvest order", quantity)
    check = check_quote(quote, now, config.strategy.quotes)
    if not check.usable or quote is None:
        return GateResult(False, "fresh_quote", f"no fresh quote to price the order: {check.problem}")
    age = (now - quote.quote_time).total_seconds()
    if age > config.execution.fresh_quote_seconds:
        return GateResult(
            False, "fresh_quote", f"quote {age:.0f} s old (limit {config.execution.fresh_quote_seconds:g} s)"
        )
    mid = mid_price(quote)
    band = collar(mid, config)
    low, high = max(0.01, mid - band), mid + band
    if action.side == "BUY" and action.limit_start > high + 1e-9:
        return GateResult(False, "collar", f"limit {action.limit_start:.2f} above mid {mid:.2f} + collar {band:.2f}")
    if action.side == "SELL" and action.limit_start < low - 1e-9:
        return GateResult(False, "collar", f"limit {action.limit_start:.2f} below mid {mid:.2f} - collar {band:.2f}")
    return GateResult(True, "passed", f"fresh mid {mid:.2f}, collar {low:.2f}..{high:.2f}", quantity, low, high)


def premium_room_price(store: Store, action: Action, cap: float) -> float | None:
    """For a buy: the highest limit at which the order still fits under the premium cap (None: no cap known)."""
    if action.side != "BUY" or cap <= 0 or action.quantity <= 0:
        return None
    # The order's own working cost is what the room is for, so it is left out (as check_action does).
    others = _premium_at_risk(store, excluding=action.intent_id) - _roll_basis(store, action)
    return (cap - others) / (action.quantity * CONTRACT_MULTIPLIER)


def walk_prices(start: float, bound: float, steps: int, side: str) -> list[float]:
    """Limit prices from ``start`` to ``bound`` in ``steps`` steps, on tick, never past the bound."""
    prices = []
    for step in range(steps + 1):
        raw = start + (bound - start) * step / steps
        price = round_to_tick(raw, "nearest")
        price = min(price, bound) if side == "BUY" else max(price, bound)
        if not prices or not math.isclose(price, prices[-1]):
            prices.append(price)
    return prices


def _premium_at_risk(store: Store, excluding: str | None = None) -> float:
    from bot.engine.order_state import LIVE, IntentStatus

    held = sum(layer.quantity * layer.entry_price * CONTRACT_MULTIPLIER for layer in store.layers().values() if layer)
    held += sum(layer.quantity * layer.entry_price * CONTRACT_MULTIPLIER for layer in store.incoming().values())
    working = sum(
        intent.remaining * (intent.limit_price or intent.limit_bound or 0.0) * CONTRACT_MULTIPLIER
        for intent in store.intents(statuses=[*LIVE, IntentStatus.JOURNALED])
        if intent.side == "BUY" and intent.intent_id != excluding
    )
    return held + working


def _roll_basis(store: Store, action: Action) -> float:
    """For a roll purchase, the cost basis of the old layer it replaces (released when that sells)."""
    if action.role != "roll_buy":
        return 0.0
    layer = store.layers().get(action.slot_id)
    if layer is None or action.contract is None or layer.contract.key == action.contract.key:
        return 0.0
    return layer.quantity * layer.entry_price * CONTRACT_MULTIPLIER


def _sellable(store: Store, action: Action) -> int:
    """What may still be sold of the action's contract: held minus sells already working on it."""
    from bot.engine.order_state import LIVE, IntentStatus

    assert action.contract is not None
    key = action.contract.key
    held = sum(layer.quantity for layer in store.layers().values() if layer and layer.contract.key == key)
    held += sum(layer.quantity for layer, _ in store.leftovers().values() if layer.contract.key == key)
    working = sum(
        int(intent.remaining)
        for intent in store.intents(statuses=[*LIVE, IntentStatus.JOURNALED])
        if intent.side == "SELL"
        and intent.contract is not None
        and intent.contract.key == key
        and intent.intent_id != action.intent_id
    )
    return max(0, held - working)
