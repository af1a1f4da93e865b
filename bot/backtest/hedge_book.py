"""A variant's hedge book and the backtest's executor: the planner's actions applied to it.

Execution rules (written into the report):

- Actions run in plan order; an action whose ``after`` dependencies did not all complete is skipped,
  exactly as the live executor would hold it back.
- A buy fills at its ``limit_bound`` when the modelled ask at the evaluation is at or below it; a sell
  fills at its ``limit_bound`` when the modelled bid is at or above it and positive. The quotes the
  planner saw are the modelled market, so in practice buys pay the ask and sells get the bid: the
  whole spread is paid, no price improvement is assumed. Commission: a fixed amount per contract.
- ``place_harvest`` rests a GTC sell (role ``harvest``); ``cancel`` removes the named order;
  ``migrate`` relabels the layer and its resting orders to the new slot.
- A resting harvest order fills at its limit on a later day when the option's modelled bid, repriced
  with spot VIX at the day's high (each future moved by β(τ) x (high - close), VVIX at that day's
  close), is at or above the limit. Orders placed at an evaluation can fill from the next day on.
  Lower limits fill first; a fill never sells more than the layer holds.
- A migration into a slot whose layer's sale did not fill (no bid) cannot happen: the layer stays
  in its slot until a later rebalance (the action is counted as skipped).
- A sale that cannot fill because the option has no bid leaves the layer held; when it was the
  second leg of a roll whose buy filled, the old contract is kept aside (an "orphan", outside the
  planner's slots) until it expires. Options still held at expiry settle in cash at the VIX open of
  the expiry day (the proxy for the special opening quotation), without commission.
- ``recent_rebalances`` gets the evaluation time when the plan is a rebalance and at least one order
  filled; ``last_rebalance_opportunity`` when the record says the evaluation was an opportunity.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from strategies.alvh.models import (
    Action,
    Book,
    CondorLeg,
    Layer,
    OptionContract,
    OptionQuote,
    Plan,
    Slot,
    WorkingOrder,
)

MULTIPLIER = 100
QuoteSource = Mapping[str, OptionQuote] | Callable[[OptionContract], OptionQuote | None]
PRICE_EPSILON = 1e-9
RECENT_REBALANCES_KEPT = 16


@dataclass(frozen=True)
class Trade:
    date: dt.date
    kind: str  # "buy", "sell", "harvest fill", "expiry"
    role: str
    slot_id: str
    contract: str
    quantity: int
    price: float
    commission: float
    realized: float
    intent_id: str

    def as_row(self, variant: str) -> dict[str, object]:
        return {
            "variant": variant,
            "date": self.date.isoformat(),
            "kind": self.kind,
            "role": self.role,
            "slot": self.slot_id,
            "contract": self.contract,
            "quantity": self.quantity,
            "price": round(self.price, 4),
            "commission": round(self.commission, 2),
            "realized_pnl": round(self.realized, 2),
            "intent_id": self.intent_id,
        }


@dataclass
class ExecutionResult:
    filled: list[str] = field(default_factory=list)
    unfilled: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    bought: bool = False

    @property
    def any_order_filled(self) -> bool:
        return bool(self.filled)


def _by_key(quotes: Mapping[str, OptionQuote]) -> Callable[[OptionContract], OptionQuote | None]:
    def lookup(contract: OptionContract) -> OptionQuote | None:
        return quotes.get(contract.key)

    return lookup


class ExecutionError(RuntimeError):
    """The plan asked for something the book cannot do (a planner/executor contract violation)."""


@dataclass
class HedgeBook:
    slot_ids: list[str]
    commission_per_contract: float
    layers: dict[str, Layer] = field(default_factory=dict)
    orphans: list[Layer] = field(default_factory=list)
    working: dict[str, WorkingOrder] = field(default_factory=dict)
    placed_on: dict[str, dt.date] = field(default_factory=dict)
    recent_rebalances: list[dt.datetime] = field(default_factory=list)
    last_rebalance_opportunity: dt.datetime | None = None
    realized_pnl: float = 0.0
    cash: float = 0.0
    premium_paid: float = 0.0
    commissions: float = 0.0
    trades: list[Trade] = field(default_factory=list)

    # ------------------------------------------------------------------ views

    def book(self, condor_legs: list[CondorLeg]) -> Book:
        return Book(
            slots=[Slot(slot_id=slot_id, layer=self.layers.get(slot_id)) for slot_id in self.slot_ids],
            working_orders=sorted(self.working.values(), key=lambda order: order.intent_id),
            condor_legs=condor_legs,
            recent_rebalances=list(self.recent_rebalances),
            last_rebalance_opportunity=self.last_rebalance_opportunity,
            hedge_realized_pnl=self.realized_pnl,
        )

    def schedule_view(self) -> Book:
        """Just what the weekly-cap rules read (for deciding whether the planner could act)."""
        return Book.model_construct(
            slots=[],
            working_orders=[],
            condor_legs=[],
            recent_rebalances=list(self.recent_rebalances),
            last_rebalance_opportunity=self.last_rebalance_opportunity,
            hedge_realized_pnl=self.realized_pnl,
        )

    def held_contracts(self) -> list[OptionContract]:
        contracts = [layer.contract for layer in self.layers.values()]
        contracts.extend(layer.contract for layer in self.orphans)
        contracts.extend(order.contract for order in self.working.values())
        return contracts

    def premium_at_risk(self) -> float:
        held = sum(layer.quantity * layer.entry_price * MULTIPLIER for layer in self.layers.values())
        buying = sum(o.quantity * o.limit_price * MULTIPLIER for o in self.working.values() if o.side == "BUY")
        return held + buying

    def harvest_maintenance_due(self, harvest_enabled: bool) -> bool:
        """Whether the planner's ladder upkeep would act: a layer not exactly covered, or orders without a layer."""
        resting: dict[str, int] = {}
        for order in self.working.values():
            if order.role == "harvest":
                resting[order.slot_id] = resting.get(order.slot_id, 0) + order.quantity
        for slot_id, quantity in resting.items():
            if slot_id not in self.layers:
                return True
            if quantity > self.layers[slot_id].quantity:
                return True
        if harvest_enabled:
            return any(resting.get(slot_id, 0) != layer.quantity for slot_id, layer in self.layers.items())
        return False

    # ------------------------------------------------------------------ plan execution

    def apply(self, plan: Plan, quotes: QuoteSource, today: dt.date) -> ExecutionResult:
        """Executes ``plan``; ``quotes`` gives the modelled quote of a contract (a callable, or a dict by key)."""
        quote_for = _by_key(quotes) if isinstance(quotes, Mapping) else quotes
        result = ExecutionResult()
        done: set[str] = set()
        incoming: dict[str, Layer] = {}
        for action in plan.actions:
            if any(dependency not in done for dependency in action.after):
                result.skipped.append(action.intent_id)
                continue
            if action.kind == "cancel":
                if action.cancels_intent_id is not None:
                    self.working.pop(action.cancels_intent_id, None)
                    self.placed_on.pop(action.cancels_intent_id, None)
                done.add(action.intent_id)
            elif action.kind == "migrate":
                if action.to_slot_id in self.layers:
                    # The target's own sale did not fill (no bid): the layer cannot move in yet.
                    result.skipped.append(action.intent_id)
                    result.notes.append(
                        f"{action.intent_id}: {action.to_slot_id} still holds a layer whose sale did not fill; "
                        f"{action.slot_id} not migrated"
                    )
                    continue
                self._migrate(action.slot_id, action.to_slot_id)
                done.add(action.intent_id)
            elif action.kind == "place_harvest":
                self._place_harvest(action, today)
                done.add(action.intent_id)
            elif action.kind == "buy":
                if self._buy(action, quote_for, plan.as_of, today, incoming):
                    done.add(action.intent_id)
                    result.filled.append(action.intent_id)
                    result.bought = True
                else:
                    result.unfilled.append(action.intent_id)
            elif action.kind == "sell":
                if self._sell(action, quote_for, today, incoming):
                    done.add(action.intent_id)
                    result.filled.append(action.intent_id)
                else:
                    result.unfilled.append(action.intent_id)
                    if self._orphan_if_rolled(action.slot_id, incoming):
                        result.notes.append(
                            f"{action.intent_id}: sale found no bid after the roll's buy filled; "
                            f"{action.contract.key if action.contract else ''} kept outside the slots until expiry"
                        )
        for slot_id, layer in incoming.items():
            # A buy filled into a slot whose layer was not sold (its sale held back or absent): keep both.
            if slot_id in self.layers:
                self.orphans.append(self.layers[slot_id])
                result.notes.append(
                    f"{slot_id}: new {layer.contract.key} bought while {self.layers[slot_id].contract.key} was not "
                    "sold; the old contract is kept outside the slots until expiry"
                )
            self.layers[slot_id] = layer
        if plan.is_rebalance and result.any_order_filled:
            self.recent_rebalances = [*self.recent_rebalances, plan.as_of][-RECENT_REBALANCES_KEPT:]
        if plan.record.evaluation.rebalance_opportunity:
            self.last_rebalance_opportunity = plan.as_of
        return result

    def _migrate(self, source: str, target: str | None) -> None:
        if target is None or source not in self.layers:
            raise ExecutionError(f"migration from {source} to {target}: no layer in {source}")
        if target in self.layers:
            raise ExecutionError(f"migration from {source} to {target}: {target} is not free")
        self.layers[target] = self.layers.pop(source)
        for intent, order in list(self.working.items()):
            if order.slot_id == source:
                self.working[intent] = order.model_copy(update={"slot_id": target})

    def _place_harvest(self, action: Action, today: dt.date) -> None:
        if action.contract is None or action.limit_bound is None or action.quantity <= 0:
            raise ExecutionError(f"harvest order {action.intent_id} lacks contract, limit or quantity")
        self.working[action.intent_id] = WorkingOrder(
            intent_id=action.intent_id,
            slot_id=action.slot_id,
            role="harvest",
            side="SELL",
            contract=action.contract,
            quantity=action.quantity,
            limit_price=action.limit_bound,
            tif="GTC",
        )
        self.placed_on[action.intent_id] = today

    def _buy(
        self,
        action: Action,
        quote_for: Callable[[OptionContract], OptionQuote | None],
        as_of: dt.datetime,
        today: dt.date,
        incoming: dict[str, Layer],
    ) -> bool:
        if action.contract is None or action.limit_bound is None or action.quantity <= 0:
            raise ExecutionError(f"buy {action.intent_id} lacks contract, limit or quantity")
        quote = quote_for(action.contract)
        if quote is None or quote.ask is None or quote.ask > action.limit_bound + PRICE_EPSILON:
            return False
        price = action.limit_bound
        quantity = action.quantity
        fee = quantity * self.commission_per_contract
        self.cash -= price * quantity * MULTIPLIER + fee
        self.premium_paid += price * quantity * MULTIPLIER
        self.commissions += fee
        self.realized_pnl -= fee
        existing = self.layers.get(action.slot_id)
        if existing is not None and existing.contract.key == action.contract.key:
            total = existing.quantity + quantity
            average = (existing.entry_price * existing.quantity + price * quantity) / total
            self.layers[action.slot_id] = existing.model_copy(update={"quantity": total, "entry_price": average})
        else:
            layer = Layer(
                contract=action.contract,
                quantity=quantity,
                entry_price=price,
                opened_at=as_of,
                opened_in_slot=action.slot_id,
            )
            if existing is None:
                self.layers[action.slot_id] = layer
            else:
                incoming[action.slot_id] = layer
        self.trades.append(
            Trade(
                today,
                "buy",
                action.role,
                action.slot_id,
                action.contract.key,
                quantity,
                price,
                fee,
                -fee,
                action.intent_id,
            )
        )
        return True

    def _sell(
        self,
        action: Action,
        quote_for: Callable[[OptionContract], OptionQuote | None],
        today: dt.date,
        incoming: dict[str, Layer],
    ) -> bool:
        if action.contract is None or action.limit_bound is None or action.quantity <= 0:
            raise ExecutionError(f"sell {action.intent_id} lacks contract, limit or quantity")
        layer = self.layers.get(action.slot_id)
        if layer is None or layer.contract.key != action.contract.key:
            raise ExecutionError(f"sell {action.intent_id}: {action.slot_id} does not hold {action.contract.key}")
        quote = quote_for(action.contract)
        if quote is None or quote.bid is None or quote.bid <= 0.0 or quote.bid < action.limit_bound - PRICE_EPSILON:
            return False
        quantity = min(action.quantity, layer.quantity)
        realized = self._record_sale(layer, quantity, action.limit_bound)
        self.trades.append(
            Trade(
                today,
                "sell",
                action.role,
                action.slot_id,
                action.contract.key,
                quantity,
                action.limit_bound,
                quantity * self.commission_per_contract,
                realized,
                action.intent_id,
            )
        )
        self._reduce(action.slot_id, quantity)
        if action.slot_id in incoming and action.slot_id not in self.layers:
            self.layers[action.slot_id] = incoming.pop(action.slot_id)
        return True

    def _orphan_if_rolled(self, slot_id: str, incoming: dict[str, Layer]) -> bool:
        if slot_id not in incoming:
            return False
        old = self.layers.pop(slot_id)
        self.orphans.append(old)
        self.layers[slot_id] = incoming.pop(slot_id)
        for intent, order in list(self.working.items()):
            if order.slot_id == slot_id and order.contract.key == old.contract.key:
                del self.working[intent]
                self.placed_on.pop(intent, None)
        return True

    def _record_sale(self, layer: Layer, quantity: int, price: float) -> float:
        fee = quantity * self.commission_per_contract
        realized = (price - layer.entry_price) * quantity * MULTIPLIER - fee
        self.cash += price * quantity * MULTIPLIER - fee
        self.commissions += fee
        self.realized_pnl += realized
        return realized

    def _reduce(self, slot_id: str, quantity: int) -> None:
        layer = self.layers[slot_id]
        if quantity >= layer.quantity:
            del self.layers[slot_id]
        else:
            self.layers[slot_id] = layer.model_copy(update={"quantity": layer.quantity - quantity})

    # ------------------------------------------------------------------ between evaluations

    def fill_harvests(self, today: dt.date, bids_at_high: Callable[[list[OptionContract]], list[float]]) -> int:
        """Resting harvest sells that the day's VIX high reached; returns how many filled."""
        eligible = [
            order
            for intent, order in self.working.items()
            if order.role == "harvest" and order.side == "SELL" and self.placed_on.get(intent, today) < today
        ]
        if not eligible:
            return 0
        bids = bids_at_high([order.contract for order in eligible])
        fills = 0
        for order, bid in sorted(zip(eligible, bids, strict=True), key=lambda item: item[0].limit_price):
            if bid < order.limit_price - PRICE_EPSILON:
                continue
            layer = self.layers.get(order.slot_id)
            if layer is None or layer.contract.key != order.contract.key:
                continue
            quantity = min(order.quantity, layer.quantity)
            realized = self._record_sale(layer, quantity, order.limit_price)
            self.trades.append(
                Trade(
                    today,
                    "harvest fill",
                    "harvest",
                    order.slot_id,
                    order.contract.key,
                    quantity,
                    order.limit_price,
                    quantity * self.commission_per_contract,
                    realized,
                    order.intent_id,
                )
            )
            self._reduce(order.slot_id, quantity)
            del self.working[order.intent_id]
            self.placed_on.pop(order.intent_id, None)
            fills += 1
        return fills

    def settle_expired(self, today: dt.date, settlement_value: float) -> None:
        """Options whose expiry has come settle at ``settlement_value`` (the day's VIX open)."""
        for slot_id, layer in list(self.layers.items()):
            if layer.contract.expiry <= today:
                self._settle(layer, slot_id, today, settlement_value)
                del self.layers[slot_id]
        for layer in [layer for layer in self.orphans if layer.contract.expiry <= today]:
            self._settle(layer, "orphan", today, settlement_value)
            self.orphans.remove(layer)
        for intent, order in list(self.working.items()):
            if order.contract.expiry <= today:
                del self.working[intent]
                self.placed_on.pop(intent, None)

    def _settle(self, layer: Layer, slot_id: str, today: dt.date, settlement_value: float) -> None:
        value = max(settlement_value - layer.contract.strike, 0.0)
        realized = (value - layer.entry_price) * layer.quantity * MULTIPLIER
        self.cash += value * layer.quantity * MULTIPLIER
        self.realized_pnl += realized
        self.trades.append(
            Trade(today, "expiry", "settlement", slot_id, layer.contract.key, layer.quantity, value, 0.0, realized, "")
        )

    def all_layers(self) -> list[Layer]:
        return [*self.layers.values(), *self.orphans]
