"""Applying executions to the bot's layers: the only place slot holdings change after an order.

Buys add to a slot's layer (a roll's purchase waits as the slot's *incoming* layer until the old one is
sold); sells reduce the layer they sell and book the realised P&L. A sell the bot cannot attribute to a
held layer is an anomaly: reported, never guessed into one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.store.database import IntentRecord, Store
from strategies.alvh.models import Layer, OptionContract
from strategies.alvh.sizing import CONTRACT_MULTIPLIER


@dataclass(frozen=True)
class FillEffect:
    slot_id: str | None
    description: str
    realized_pnl: float = 0.0
    anomaly: str | None = None
    slot_emptied: bool = False


def _added(
    layer: Layer | None, contract: OptionContract, quantity: int, price: float, at: dt.datetime, slot_id: str
) -> Layer:
    if layer is None:
        return Layer(contract=contract, quantity=quantity, entry_price=price, opened_at=at, opened_in_slot=slot_id)
    return layer.plus(quantity, price)


def apply_buy(store: Store, intent: IntentRecord, quantity: int, price: float, at: dt.datetime) -> FillEffect:
    contract = intent.contract
    assert contract is not None
    slot_id = intent.slot_id
    current = store.layers().get(slot_id)
    if current is None or current.contract.key == contract.key:
        store.set_layer(slot_id, _added(current, contract, quantity, price, at, slot_id))
        return FillEffect(slot_id, f"{slot_id} bought {quantity} {contract.key} at {price:.2f}")
    # A roll: the old layer is still held; the new contract waits beside it until the old one is sold.
    incoming = store.incoming().get(slot_id)
    if incoming is not None and incoming.contract.key != contract.key:
        return FillEffect(slot_id, "", anomaly=f"{slot_id}: a third contract {contract.key} bought during a roll")
    store.set_incoming(slot_id, _added(incoming, contract, quantity, price, at, slot_id))
    return FillEffect(slot_id, f"{slot_id} bought {quantity} {contract.key} at {price:.2f} (roll, incoming)")


def apply_sell(store: Store, intent: IntentRecord, quantity: int, price: float) -> FillEffect:
    contract = intent.contract
    assert contract is not None
    layers = store.layers()
    slot_id = intent.slot_id if _holds(layers.get(intent.slot_id), contract) else None
    if slot_id is None:
        # The layer may have migrated since the order was placed (its harvest orders move with it).
        slot_id = next((sid for sid, layer in sorted(layers.items()) if _holds(layer, contract)), None)
    if slot_id is not None:
        layer = layers[slot_id]
        assert layer is not None
        sold, remaining, pnl = _sell_from(store, layer, quantity, price)
        anomaly = None if sold == quantity else f"{slot_id}: sold {quantity} but held {layer.quantity}"
        if remaining > 0:
            store.set_layer(slot_id, layer.model_copy(update={"quantity": remaining}))
            return FillEffect(slot_id, f"{slot_id} sold {sold} {contract.key} at {price:.2f}", pnl, anomaly)
        incoming = store.incoming().get(slot_id)
        store.set_layer(slot_id, incoming)
        if incoming is not None:
            store.set_incoming(slot_id, None)
        return FillEffect(
            slot_id,
            f"{slot_id} sold its last {sold} {contract.key} at {price:.2f}",
            pnl,
            anomaly,
            slot_emptied=incoming is None,
        )
    leftovers = store.leftovers()
    if contract.key in leftovers:
        layer, reason = leftovers[contract.key]
        sold, remaining, pnl = _sell_from(store, layer, quantity, price)
        store.set_leftover(
            layer.model_copy(update={"quantity": remaining}) if remaining else None, contract.key, reason
        )
        return FillEffect(None, f"leftover sold {sold} {contract.key} at {price:.2f}", pnl)
    return FillEffect(
        None, "", anomaly=f"sold {quantity} {contract.key} that no slot holds (intent {intent.intent_id})"
    )


def _sell_from(store: Store, layer: Layer, quantity: int, price: float) -> tuple[int, int, float]:
    """Sell up to ``quantity`` of ``layer`` at ``price`` and book the realised P&L: (sold, remaining, pnl)."""
    sold = min(quantity, layer.quantity)
    pnl = (price - layer.entry_price) * sold * CONTRACT_MULTIPLIER
    store.add_realized_pnl(pnl)
    return sold, layer.quantity - sold, pnl


def _holds(layer: Layer | None, contract: OptionContract) -> bool:
    return layer is not None and layer.contract.key == contract.key


def finish_roll_if_stuck(store: Store, slot_id: str, reason: str) -> Layer | None:
    """A roll whose sale did not complete: the old remainder leaves the slot as a leftover, the new layer takes
    the slot, so a slot never holds two contracts. Returns the leftover layer, if any."""
    incoming = store.incoming().get(slot_id)
    if incoming is None:
        return None
    old = store.layers().get(slot_id)
    if old is not None:
        store.add_leftover(old, reason)
    store.set_layer(slot_id, incoming)
    store.set_incoming(slot_id, None)
    return old
