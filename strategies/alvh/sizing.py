"""Sizing rules of strategy.md §2 and the harvest ladder of §4.

All money figures are dollars. Quantities are whole contracts; a budget that buys less than one
contract is a skip, never a rounding up.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

from strategies.alvh.config import BetaPoint, HarvestConfig
from strategies.alvh.models import Action, OptionContract
from strategies.alvh.quotes import round_to_tick

CONTRACT_MULTIPLIER = 100


def beta_at(dte: float, table: list[BetaPoint]) -> float:
    """β(τ): sensitivity of the τ-day VIX future to spot VIX, linear between points, flat outside."""
    if dte <= table[0].dte:
        return table[0].beta
    for lower, upper in itertools.pairwise(table):
        if dte <= upper.dte:
            weight = (dte - lower.dte) / (upper.dte - lower.dte)
            return lower.beta + weight * (upper.beta - lower.beta)
    return table[-1].beta


def hedge_dollars_per_vix_point(quantity: int, delta: float, dte: float, table: list[BetaPoint]) -> float:
    """What a layer gains for +1 point of spot VIX: qty x 100 x call delta x β(τ)."""
    return quantity * CONTRACT_MULTIPLIER * delta * beta_at(dte, table)


def contracts_for(budget: float, price: float) -> int:
    """Whole contracts ``budget`` buys at ``price`` per share (floor; 0 when it buys none)."""
    if price <= 0.0 or budget <= 0.0:
        return 0
    # A tolerance of a thousandth of a cent keeps 300.00 / (1.00 x 100) at 3 despite float residue.
    return max(0, math.floor(budget / (price * CONTRACT_MULTIPLIER) + 1e-9))


@dataclass(frozen=True)
class HarvestRung:
    rung: int
    quantity: int
    multiple: float
    limit_price: float


def harvest_ladder(quantity: int, entry_price: float, config: HarvestConfig) -> list[HarvestRung]:
    """The resting GTC sell ladder for ``quantity`` contracts bought at ``entry_price``.

    Split evenly over the multiples with the last rung taking the rest; a layer with fewer contracts
    than rungs rests whole at ``small_layer_multiple`` (recorded as the rung closest to it).
    """
    if quantity <= 0:
        return []
    multiples = config.multiples
    if quantity < len(multiples):
        small = config.small_layer_multiple
        rung = min(range(len(multiples)), key=lambda index: (abs(multiples[index] - small), index))
        return [HarvestRung(rung, quantity, small, round_to_tick(entry_price * small, "up"))]
    share = quantity // len(multiples)
    rungs = []
    for index, multiple in enumerate(multiples):
        rung_quantity = share if index < len(multiples) - 1 else quantity - share * (len(multiples) - 1)
        rungs.append(HarvestRung(index, rung_quantity, multiple, round_to_tick(entry_price * multiple, "up")))
    return rungs


def harvest_actions(
    slot_id: str,
    contract: OptionContract,
    quantity: int,
    entry_price: float,
    config: HarvestConfig,
    intent_id_for: Callable[[HarvestRung], str],
    *,
    after: list[str] | None = None,
    why: str = "resting GTC harvest",
) -> list[Action]:
    """One resting GTC sell per rung of ``harvest_ladder``: what the planner and the executor both place."""
    return [
        Action(
            intent_id=intent_id_for(rung),
            kind="place_harvest",
            role="harvest",
            slot_id=slot_id,
            contract=contract,
            side="SELL",
            quantity=rung.quantity,
            limit_start=rung.limit_price,
            limit_bound=rung.limit_price,
            tif="GTC",
            harvest_rung=rung.rung,
            after=list(after or []),
            reason=f"{why}: {rung.quantity} at {rung.multiple:g}x entry {entry_price:.2f}",
        )
        for rung in harvest_ladder(quantity, entry_price, config)
    ]
