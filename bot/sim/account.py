"""The paper account: cash, positions with IB's average cost, realised P&L, commissions, margin.

Conventions follow IB's reports: ``average_cost`` is per contract including the multiplier and the
commissions paid to open (a long call bought at 1.20 with 1.05 commission per contract shows 121.05;
a short opened at 2.50 shows 248.95). Realised P&L is booked when a position is reduced, net of the
closing commission. Margin is a Reg-T style estimate: long options are paid in full, short options
inside vertical spreads need the spread's width (an iron condor only its wider side), naked shorts
15 % of the index less the out-of-the-money amount (at least 10 %) plus the option's value.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from bot.sim.records import Instrument, MarginImpact, PositionRecord

# Commission per contract (IB's fixed rate plus exchange and regulatory fees) and the minimum per order.
COMMISSION_PER_CONTRACT: dict[tuple[str, str], float] = {
    ("VIX", "OPT"): 1.05,
    ("SPX", "OPT"): 1.25,
    ("VIX", "FUT"): 2.40,
}
MIN_COMMISSION_PER_ORDER = 1.00
FUTURE_INITIAL_MARGIN = 10_000.0
FUTURE_MAINTENANCE_MARGIN = 9_000.0


def commission_for(instrument: Instrument, quantity: float) -> float:
    rate = COMMISSION_PER_CONTRACT.get((instrument.symbol, instrument.sec_type), 1.0)
    return round(rate * abs(quantity), 4)


@dataclass(frozen=True)
class FillResult:
    realized_pnl: float | None  # None when the fill only opened or added to a position
    position: PositionRecord


class PaperAccount:
    """Cash and positions of one ``DU…`` account."""

    def __init__(self, account_id: str, cash: float) -> None:
        if not account_id:
            raise ValueError("account id must not be empty")
        self.account_id = account_id
        self.cash = float(cash)
        self.positions: dict[int, PositionRecord] = {}
        self.realized_pnl = 0.0
        self.commissions = 0.0

    # -- bookkeeping --------------------------------------------------------------------------------

    def seed_position(self, con_id: int, quantity: float, average_cost: float) -> None:
        """A holding the scenario starts with (its cost is already reflected in the starting cash)."""
        self.positions[con_id] = PositionRecord(con_id=con_id, quantity=float(quantity), average_cost=average_cost)

    def apply_fill(
        self, instrument: Instrument, side: str, quantity: float, price: float, commission: float
    ) -> FillResult:
        """Book a fill: ``side`` is BOT or SLD; returns the realised P&L of any closing part."""
        if quantity <= 0:
            raise ValueError("fill quantity must be positive")
        multiplier = instrument.multiplier
        signed = quantity if side == "BOT" else -quantity
        is_future = instrument.is_future
        if not is_future:
            self.cash += -signed * price * multiplier
        self.cash -= commission
        self.commissions += commission
        position = self.positions.get(instrument.con_id) or PositionRecord(instrument.con_id, 0.0, 0.0)
        held = position.quantity
        realized: float | None = None
        closing = 0.0
        if held and (held > 0) != (signed > 0):
            closing = min(abs(held), abs(signed))
        opening = abs(signed) - closing
        commission_per_unit = commission / quantity
        if closing:
            direction = 1.0 if held > 0 else -1.0
            proceeds_per_contract = price * multiplier
            realized = direction * (proceeds_per_contract - position.average_cost) * closing
            realized -= commission_per_unit * closing
            if is_future:
                # Futures settle variation in cash: the closed part's P&L moves cash now.
                self.cash += realized + commission_per_unit * closing
            position.realized_pnl += realized
            self.realized_pnl += realized
            held += -direction * closing
        if opening:
            sign = 1.0 if signed > 0 else -1.0
            # Options carry the opening commission in their average cost, as IB reports it; futures
            # pay it from cash and keep the plain entry price so that variation settles correctly.
            unit_cost = price * multiplier + (0.0 if is_future else sign * commission_per_unit)
            new_quantity = held + sign * opening
            if held and (held > 0) == (sign > 0):
                position.average_cost = (position.average_cost * abs(held) + unit_cost * opening) / abs(new_quantity)
            else:
                position.average_cost = unit_cost
            held = new_quantity
        position.quantity = round(held, 8)
        if position.quantity == 0:
            position.average_cost = 0.0
        self.positions[instrument.con_id] = position
        return FillResult(realized_pnl=realized, position=position)

    def settle(self, instrument: Instrument, value: float) -> float:
        """Cash-settle an expired contract at ``value`` per unit; returns the realised P&L."""
        position = self.positions.get(instrument.con_id)
        if position is None or position.quantity == 0:
            return 0.0
        multiplier = instrument.multiplier
        quantity = position.quantity
        if instrument.is_future:
            realized = (value * multiplier - position.average_cost) * quantity
            self.cash += realized
        else:
            self.cash += quantity * value * multiplier
            realized = (value * multiplier - position.average_cost) * quantity
        position.realized_pnl += realized
        self.realized_pnl += realized
        position.quantity = 0.0
        position.average_cost = 0.0
        return realized

    def held(self) -> list[PositionRecord]:
        return [p for p in self.positions.values() if p.quantity != 0]

    # -- valuation ----------------------------------------------------------------------------------

    def unrealized(self, instrument: Instrument, position: PositionRecord, mark: float) -> float:
        return (mark * instrument.multiplier - position.average_cost) * position.quantity

    def summary(
        self, instruments: Mapping[int, Instrument], marks: Mapping[int, float], spot: Callable[[str], float]
    ) -> dict[str, float]:
        option_value = 0.0
        gross = 0.0
        futures_pnl = 0.0
        unrealized = 0.0
        for position in self.held():
            instrument = instruments[position.con_id]
            mark = marks.get(position.con_id, math.nan)
            if not math.isfinite(mark):
                mark = position.average_cost / instrument.multiplier
            value = position.quantity * mark * instrument.multiplier
            unrealized += self.unrealized(instrument, position, mark)
            if instrument.is_future:
                futures_pnl += self.unrealized(instrument, position, mark)
                gross += abs(value)
            else:
                option_value += value
                gross += abs(value)
        net_liquidation = self.cash + option_value + futures_pnl
        initial, maintenance = self.margin(self.held(), instruments, marks, spot)
        return {
            "NetLiquidation": net_liquidation,
            "TotalCashValue": self.cash,
            "OptionMarketValue": option_value,
            "FuturesPNL": futures_pnl,
            "GrossPositionValue": gross,
            "EquityWithLoanValue": net_liquidation,
            "InitMarginReq": initial,
            "MaintMarginReq": maintenance,
            "AvailableFunds": net_liquidation - initial,
            "ExcessLiquidity": net_liquidation - maintenance,
            "BuyingPower": max(0.0, (net_liquidation - initial) * 4),
            "UnrealizedPnL": unrealized,
            "RealizedPnL": self.realized_pnl,
            "Cushion": (net_liquidation - maintenance) / net_liquidation if net_liquidation > 0 else 0.0,
        }

    def margin(
        self,
        positions: Iterable[PositionRecord],
        instruments: Mapping[int, Instrument],
        marks: Mapping[int, float],
        spot: Callable[[str], float],
    ) -> tuple[float, float]:
        """(initial, maintenance) requirement of a set of positions."""
        initial = 0.0
        maintenance = 0.0
        groups: dict[tuple[str, object], list[tuple[Instrument, float]]] = defaultdict(list)
        for position in positions:
            if position.quantity == 0:
                continue
            instrument = instruments[position.con_id]
            if instrument.is_future:
                initial += FUTURE_INITIAL_MARGIN * abs(position.quantity)
                maintenance += FUTURE_MAINTENANCE_MARGIN * abs(position.quantity)
            elif instrument.is_option:
                groups[(instrument.symbol, instrument.expiry)].append((instrument, position.quantity))
        for (symbol, _), legs in groups.items():
            underlying = spot(symbol)
            put_requirement = _side_requirement([leg for leg in legs if leg[0].right == "P"], "P", underlying, marks)
            call_requirement = _side_requirement([leg for leg in legs if leg[0].right == "C"], "C", underlying, marks)
            spread_put, naked_put = put_requirement
            spread_call, naked_call = call_requirement
            requirement = max(spread_put, spread_call) + naked_put + naked_call
            initial += requirement
            maintenance += requirement
        return initial, maintenance

    def what_if(
        self,
        instrument: Instrument,
        side: str,
        quantity: float,
        price: float,
        instruments: Mapping[int, Instrument],
        marks: Mapping[int, float],
        spot: Callable[[str], float],
    ) -> MarginImpact:
        """Margin and equity before and after a hypothetical fill, without changing the account."""
        before = self.summary(instruments, marks, spot)
        positions = {p.con_id: PositionRecord(p.con_id, p.quantity, p.average_cost) for p in self.held()}
        signed = quantity if side == "BUY" else -quantity
        after_position = positions.get(instrument.con_id) or PositionRecord(instrument.con_id, 0.0, 0.0)
        after_position.quantity += signed
        positions[instrument.con_id] = after_position
        all_instruments = dict(instruments)
        all_instruments[instrument.con_id] = instrument
        initial_after, maintenance_after = self.margin(positions.values(), all_instruments, marks, spot)
        commission = max(MIN_COMMISSION_PER_ORDER, commission_for(instrument, quantity))
        mark = marks.get(instrument.con_id, price)
        if not math.isfinite(mark):
            mark = price
        # Equity changes by the commission and by paying the limit instead of the mark.
        equity_change = -commission - signed * (price - mark) * instrument.multiplier
        return MarginImpact(
            init_before=before["InitMarginReq"],
            maint_before=before["MaintMarginReq"],
            equity_before=before["EquityWithLoanValue"],
            init_change=initial_after - before["InitMarginReq"],
            maint_change=maintenance_after - before["MaintMarginReq"],
            equity_change=equity_change,
            init_after=initial_after,
            maint_after=maintenance_after,
            equity_after=before["EquityWithLoanValue"] + equity_change,
            commission=commission,
            min_commission=commission,
            max_commission=commission,
        )


@dataclass
class _Leg:
    instrument: Instrument
    quantity: float  # contracts still unpaired (positive)


def _side_requirement(
    legs: list[tuple[Instrument, float]], right: str, underlying: float, marks: Mapping[int, float]
) -> tuple[float, float]:
    """(spread requirement, naked requirement) for one right of one expiry.

    Short options are paired with longs that cap their loss (puts: a lower strike; calls: a higher
    one), nearest strikes first; what cannot be paired is naked.
    """
    shorts = sorted(
        (_Leg(instrument, -quantity) for instrument, quantity in legs if quantity < 0),
        key=lambda leg: leg.instrument.strike,
        reverse=(right == "P"),
    )
    longs = [_Leg(instrument, quantity) for instrument, quantity in legs if quantity > 0]
    spread = 0.0
    naked = 0.0
    for short in shorts:
        strike = short.instrument.strike
        protective = [
            leg for leg in longs if (leg.instrument.strike < strike if right == "P" else leg.instrument.strike > strike)
        ]
        protective.sort(key=lambda leg: abs(leg.instrument.strike - strike))
        for long_leg in protective:
            if short.quantity <= 0:
                break
            used = min(long_leg.quantity, short.quantity)
            if used <= 0:
                continue
            spread += abs(long_leg.instrument.strike - strike) * short.instrument.multiplier * used
            long_leg.quantity -= used
            short.quantity -= used
        if short.quantity > 0:
            mark = marks.get(short.instrument.con_id, 0.0)
            mark = mark if math.isfinite(mark) else 0.0
            if right == "C":
                out_of_money = max(0.0, strike - underlying)
                floor = 0.10 * underlying
            else:
                out_of_money = max(0.0, underlying - strike)
                floor = 0.10 * strike
            per_unit = max(0.15 * underlying - out_of_money, floor) + mark
            naked += per_unit * short.instrument.multiplier * short.quantity
    return spread, naked
