"""Iron condors found among SPX/SPXW option positions: credit, vega, max loss, break-evens.

An iron condor here is, within one expiry and trading class: long put < short put < short call <
long call, all four legs of equal size. Positions are matched in that shape as far as they go:
several condors at one expiry, and condors partly closed (e.g. 10 put spreads but 5 call spreads give
a 5-lot condor) are handled. Whatever fits no condor is reported as unmatched with the reason; it is
never guessed into one.

Matching is deterministic: each short put pairs with the nearest long put below it, each short call
with the nearest long call above it, and the put spreads (highest short strike first) pair with the
call spreads (lowest short strike first) where the short put lies below the short call. Nested
condors at one expiry therefore pair inner with inner and outer with outer.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from strategies.alvh.models import CondorLeg, OptionContract, OptionQuote

CONDOR_SYMBOLS = frozenset({"SPX"})
CONDOR_CLASSES = frozenset({"SPX", "SPXW"})


@dataclass(frozen=True)
class LegFill:
    """One leg of a matched condor: contract, signed quantity per condor, average price per share."""

    contract: OptionContract
    quantity: int
    average_price: float


@dataclass(frozen=True)
class IronCondor:
    expiry: dt.date
    trading_class: str
    quantity: int
    long_put: LegFill
    short_put: LegFill
    short_call: LegFill
    long_call: LegFill
    multiplier: int

    @property
    def legs(self) -> tuple[LegFill, LegFill, LegFill, LegFill]:
        return (self.long_put, self.short_put, self.short_call, self.long_call)

    @property
    def credit_per_share(self) -> float:
        """Net premium received per share: shorts' prices minus longs' prices."""
        return (
            self.short_put.average_price
            + self.short_call.average_price
            - self.long_put.average_price
            - self.long_call.average_price
        )

    @property
    def credit(self) -> float:
        return self.credit_per_share * self.quantity * self.multiplier

    @property
    def put_width(self) -> float:
        return self.short_put.contract.strike - self.long_put.contract.strike

    @property
    def call_width(self) -> float:
        return self.long_call.contract.strike - self.short_call.contract.strike

    @property
    def max_loss(self) -> float:
        """Dollars lost at expiry beyond a wing: widest wing minus the credit, per condor x quantity."""
        return (max(self.put_width, self.call_width) - self.credit_per_share) * self.quantity * self.multiplier

    @property
    def lower_breakeven(self) -> float:
        return self.short_put.contract.strike - self.credit_per_share

    @property
    def upper_breakeven(self) -> float:
        return self.short_call.contract.strike + self.credit_per_share


@dataclass(frozen=True)
class UnmatchedLeg:
    contract: OptionContract
    quantity: int
    reason: str

    def describe(self) -> str:
        return f"{self.quantity:+d} {self.contract.key}: {self.reason}"


@dataclass(frozen=True)
class CondorBook:
    condors: list[IronCondor]
    unmatched: list[UnmatchedLeg]

    @property
    def credit(self) -> float:
        return sum(condor.credit for condor in self.condors)


@dataclass
class _Lot:
    contract: OptionContract
    remaining: int
    average_price: float


@dataclass
class _Vertical:
    short: _Lot
    long: _Lot
    quantity: int
    used: int = field(default=0)


def find_condors(legs: Sequence[CondorLeg]) -> CondorBook:
    """Match ``legs`` into iron condors; everything left over is reported as unmatched."""
    unmatched: list[UnmatchedLeg] = []
    groups: dict[tuple[dt.date, str, int], list[_Lot]] = {}
    for leg in _merge_same_contract(legs, unmatched):
        contract = leg.contract
        if contract.symbol not in CONDOR_SYMBOLS or contract.trading_class not in CONDOR_CLASSES:
            unmatched.append(UnmatchedLeg(contract, leg.quantity, "not an SPX/SPXW option"))
            continue
        key = (contract.expiry, contract.trading_class, contract.multiplier)
        groups.setdefault(key, []).append(_Lot(contract, leg.quantity, leg.average_price))

    condors: list[IronCondor] = []
    for (expiry, trading_class, multiplier), lots in sorted(groups.items()):
        condors.extend(_match_group(expiry, trading_class, multiplier, lots))
        for lot in sorted(lots, key=lambda item: (item.contract.right, item.contract.strike)):
            if lot.remaining != 0:
                unmatched.append(UnmatchedLeg(lot.contract, lot.remaining, _leftover_reason(lot)))
    return CondorBook(condors, unmatched)


def _merge_same_contract(legs: Sequence[CondorLeg], unmatched: list[UnmatchedLeg]) -> list[CondorLeg]:
    """One position per contract: quantities added, average prices weighted by quantity."""
    merged: dict[str, CondorLeg] = {}
    for leg in legs:
        key = leg.contract.key
        if key not in merged:
            merged[key] = leg
            continue
        earlier = merged[key]
        if (earlier.quantity > 0) != (leg.quantity > 0):
            unmatched.append(UnmatchedLeg(leg.contract, leg.quantity, "long and short positions in one contract"))
            continue
        total = earlier.quantity + leg.quantity
        price = (earlier.average_price * earlier.quantity + leg.average_price * leg.quantity) / total
        merged[key] = CondorLeg(contract=earlier.contract, quantity=total, average_price=price)
    return list(merged.values())


def _match_group(expiry: dt.date, trading_class: str, multiplier: int, lots: list[_Lot]) -> list[IronCondor]:
    puts = [lot for lot in lots if lot.contract.right == "P"]
    calls = [lot for lot in lots if lot.contract.right == "C"]
    put_spreads = _verticals(
        shorts=sorted((lot for lot in puts if lot.remaining < 0), key=lambda lot: -lot.contract.strike),
        longs=[lot for lot in puts if lot.remaining > 0],
        wing_is_valid=lambda short, long: long.contract.strike < short.contract.strike,
        nearest_first=lambda lot: -lot.contract.strike,
    )
    call_spreads = _verticals(
        shorts=sorted((lot for lot in calls if lot.remaining < 0), key=lambda lot: lot.contract.strike),
        longs=[lot for lot in calls if lot.remaining > 0],
        wing_is_valid=lambda short, long: long.contract.strike > short.contract.strike,
        nearest_first=lambda lot: lot.contract.strike,
    )
    condors: list[IronCondor] = []
    for put_spread in put_spreads:
        for call_spread in call_spreads:
            available = min(put_spread.quantity - put_spread.used, call_spread.quantity - call_spread.used)
            if available <= 0 or put_spread.short.contract.strike >= call_spread.short.contract.strike:
                continue
            put_spread.used += available
            call_spread.used += available
            condors.append(
                IronCondor(
                    expiry=expiry,
                    trading_class=trading_class,
                    quantity=available,
                    long_put=_fill(put_spread.long, 1),
                    short_put=_fill(put_spread.short, -1),
                    short_call=_fill(call_spread.short, -1),
                    long_call=_fill(call_spread.long, 1),
                    multiplier=multiplier,
                )
            )
    # Spread units that found no partner go back to their legs, to be reported as unmatched.
    for spread in (*put_spreads, *call_spreads):
        leftover = spread.quantity - spread.used
        spread.short.remaining -= leftover
        spread.long.remaining += leftover
    return _merge_identical(condors)


def _verticals(
    shorts: list[_Lot],
    longs: list[_Lot],
    wing_is_valid: Callable[[_Lot, _Lot], bool],
    nearest_first: Callable[[_Lot], float],
) -> list[_Vertical]:
    spreads: list[_Vertical] = []
    for short in shorts:
        for long in sorted((lot for lot in longs if wing_is_valid(short, lot)), key=nearest_first):
            quantity = min(-short.remaining, long.remaining)
            if quantity <= 0:
                continue
            short.remaining += quantity
            long.remaining -= quantity
            spreads.append(_Vertical(short, long, quantity))
            if short.remaining == 0:
                break
    return spreads


def _fill(lot: _Lot, sign: int) -> LegFill:
    return LegFill(lot.contract, sign, lot.average_price)


def _merge_identical(condors: list[IronCondor]) -> list[IronCondor]:
    merged: dict[tuple[str, ...], IronCondor] = {}
    for condor in condors:
        key = tuple(leg.contract.key for leg in condor.legs)
        if key in merged:
            earlier = merged[key]
            merged[key] = IronCondor(
                earlier.expiry,
                earlier.trading_class,
                earlier.quantity + condor.quantity,
                earlier.long_put,
                earlier.short_put,
                earlier.short_call,
                earlier.long_call,
                earlier.multiplier,
            )
        else:
            merged[key] = condor
    return list(merged.values())


def _leftover_reason(lot: _Lot) -> str:
    right = "put" if lot.contract.right == "P" else "call"
    side = "long" if lot.remaining > 0 else "short"
    return f"{side} {right} that completes no iron condor (no matching wing, spread or equal size)"


def condor_vega_dollars(condor: IronCondor, vega_per_share: Mapping[str, float]) -> float | None:
    """Σ leg vega x signed quantity x multiplier: dollars per +1 vol point (negative: short vega)."""
    total = 0.0
    for leg in condor.legs:
        vega = vega_per_share.get(leg.contract.key)
        if vega is None or not math.isfinite(vega):
            return None
        total += vega * leg.quantity * condor.quantity * condor.multiplier
    return total


def condor_mark_pnl(condor: IronCondor, marks: Mapping[str, float]) -> float | None:
    """Mark-to-market P&L: (mark - average price) x signed quantity x multiplier, summed over legs."""
    total = 0.0
    for leg in condor.legs:
        mark = marks.get(leg.contract.key)
        if mark is None or not math.isfinite(mark):
            return None
        total += (mark - leg.average_price) * leg.quantity * condor.quantity * condor.multiplier
    return total


def quotes_by_key(quotes: Sequence[OptionQuote]) -> dict[str, OptionQuote]:
    return {quote.contract.key: quote for quote in quotes}
