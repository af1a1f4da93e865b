"""Iron condor detection: shapes, several condors, partial closes, unmatched legs, figures."""

from __future__ import annotations

import datetime as dt

import pytest

from strategies.alvh.models import CondorLeg, OptionContract
from strategies.condors import condor_mark_pnl, condor_vega_dollars, find_condors

EXPIRY = dt.date(2027, 1, 15)


def leg(
    strike: float,
    right: str,
    quantity: int,
    price: float,
    expiry: dt.date = EXPIRY,
    cls: str = "SPXW",
    symbol: str = "SPX",
) -> CondorLeg:
    contract = OptionContract(symbol=symbol, trading_class=cls, expiry=expiry, strike=strike, right=right)  # type: ignore[arg-type]
    return CondorLeg(contract=contract, quantity=quantity, average_price=price)


def condor(lp: float, sp: float, sc: float, lc: float, size: int, expiry: dt.date = EXPIRY) -> list[CondorLeg]:
    return [
        leg(lp, "P", size, 2.0, expiry),
        leg(sp, "P", -size, 6.0, expiry),
        leg(sc, "C", -size, 5.0, expiry),
        leg(lc, "C", size, 1.5, expiry),
    ]


def test_single_condor_figures() -> None:
    book = find_condors(condor(5400, 5500, 6300, 6400, 10))
    assert not book.unmatched and len(book.condors) == 1
    found = book.condors[0]
    assert found.quantity == 10
    assert found.credit_per_share == pytest.approx(7.5)  # 6 + 5 - 2 - 1.5
    assert found.credit == pytest.approx(7.5 * 10 * 100)
    assert found.max_loss == pytest.approx((100 - 7.5) * 10 * 100)
    assert found.lower_breakeven == pytest.approx(5492.5)
    assert found.upper_breakeven == pytest.approx(6307.5)
    assert book.credit == pytest.approx(7500.0)


def test_several_condors_at_one_expiry_pair_inner_with_inner() -> None:
    legs = condor(5400, 5500, 6300, 6400, 5) + condor(5200, 5300, 6500, 6600, 3)
    book = find_condors(legs)
    assert not book.unmatched
    shapes = sorted((c.short_put.contract.strike, c.short_call.contract.strike, c.quantity) for c in book.condors)
    assert shapes == [(5300, 6500, 3), (5500, 6300, 5)]


def test_condors_at_two_expiries_stay_apart() -> None:
    other = dt.date(2027, 2, 19)
    book = find_condors(condor(5400, 5500, 6300, 6400, 4) + condor(5400, 5500, 6300, 6400, 2, other))
    assert sorted((c.expiry, c.quantity) for c in book.condors) == [(EXPIRY, 4), (other, 2)]


def test_partial_close_leaves_the_excess_unmatched() -> None:
    legs = condor(5400, 5500, 6300, 6400, 10)
    legs[2] = leg(6300, "C", -5, 5.0)  # half the call spread bought back
    legs[3] = leg(6400, "C", 5, 1.5)
    book = find_condors(legs)
    assert [c.quantity for c in book.condors] == [5]
    assert sorted((u.contract.strike, u.quantity) for u in book.unmatched) == [(5400, 5), (5500, -5)]


def test_unequal_legs_never_guessed() -> None:
    legs = [leg(5400, "P", 3, 2.0), leg(5500, "P", -10, 6.0), leg(6300, "C", -10, 5.0), leg(6400, "C", 10, 1.5)]
    book = find_condors(legs)
    assert [c.quantity for c in book.condors] == [3]
    assert sorted((u.contract.strike, u.quantity) for u in book.unmatched) == [(5500, -7), (6300, -7), (6400, 7)]


@pytest.mark.parametrize(
    "legs",
    [
        [leg(5500, "P", -1, 6.0), leg(6300, "C", -1, 5.0)],  # a short strangle: no wings
        [leg(5600, "P", 1, 2.0), leg(5500, "P", -1, 6.0), leg(6300, "C", -1, 5.0), leg(6400, "C", 1, 1.5)],  # inverted
        [leg(5400, "P", 1, 2.0), leg(6400, "P", -1, 6.0), leg(6300, "C", -1, 5.0), leg(6500, "C", 1, 1.5)],  # overlap
        condor(5400, 5500, 6300, 6400, 1)[:3],  # a missing wing
    ],
    ids=["strangle", "wing inside short", "short put above short call", "missing wing"],
)
def test_shapes_that_are_not_condors(legs: list[CondorLeg]) -> None:
    book = find_condors(legs)
    if book.condors:
        pytest.fail(f"guessed a condor from {legs}")
    assert sum(abs(u.quantity) for u in book.unmatched) == sum(abs(x.quantity) for x in legs)


def test_mixed_classes_and_other_symbols_are_unmatched() -> None:
    legs = [
        leg(5400, "P", 1, 2.0, cls="SPX"),
        leg(5500, "P", -1, 6.0),
        leg(6300, "C", -1, 5.0),
        leg(6400, "C", 1, 1.5),
        leg(20, "C", 1, 1.0, symbol="VIX", cls="VIX"),
    ]
    book = find_condors(legs)
    assert not book.condors
    assert any("not an SPX/SPXW" in u.reason for u in book.unmatched)


def test_vega_and_marks() -> None:
    found = find_condors(condor(5400, 5500, 6300, 6400, 2)).condors[0]
    vegas = {x.contract.key: v for x, v in zip(found.legs, [3.0, 5.0, 4.0, 2.5], strict=True)}
    # long put +3, short put -5, short call -4, long call +2.5 per share -> -3.5 x 2 x 100
    assert condor_vega_dollars(found, vegas) == pytest.approx(-700.0)
    marks = {x.contract.key: x.average_price for x in found.legs}
    assert condor_mark_pnl(found, marks) == pytest.approx(0.0)
    assert condor_vega_dollars(found, {}) is None
