"""The default and spike scenarios hold condors large enough that every hedge slot buys >= 1 contract.

ALVH sizing (strategy.md §2): target = 10 % of the condors' credit, buckets 40/40/20 % over near (4 slots),
mid (4) and long (2), a slot's budget is its bucket's budget divided by its slots, and its quantity is
floor(slot budget / (ask x 100)) of the VIX call whose delta is nearest the slot's target, at the listed
expiry nearest the bucket window's midpoint. Deltas are computed here with strategies.pricing (Black-76 on
the same-expiry future) from the chain the gateway generates.
"""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import pytest

from bot.sim.listings import Listings
from bot.sim.market import MarketModel
from bot.sim.scenarios import build_positions, condor_credit, load_scenario
from strategies.pricing import black76, years_from_days

NY = ZoneInfo("America/New_York")
BUCKETS = {
    # name: (window days, bucket share, delta ladder)
    "near": ((7, 14), 0.40, (0.45, 0.35, 0.25, 0.15)),
    "mid": ((30, 45), 0.40, (0.45, 0.35, 0.25, 0.15)),
    "long": ((60, 90), 0.20, (0.35, 0.20)),
}
STARTS = [
    dt.datetime(2025, 11, 24, 10, 30, tzinfo=NY),
    dt.datetime(2026, 2, 16, 10, 30, tzinfo=NY),  # Presidents' Day: the next session is used
    dt.datetime(2026, 6, 8, 14, 0, tzinfo=NY),
]


def _slot_quantities(scenario_name: str, start: dt.datetime, seed: int) -> dict[tuple[str, float], int]:
    scenario = load_scenario(scenario_name)
    model = MarketModel(scenario.parameters, seed=seed, start=start)
    moment = max(start, model.sessions[model.start_index].open + dt.timedelta(minutes=30))
    spot = model.state(moment)
    assert spot.vix == pytest.approx(scenario.parameters.vix_start, rel=0.05)
    listings = Listings(spx_reference=round(spot.spx))
    positions = build_positions(scenario, model, listings, moment)
    credit = condor_credit(positions)
    assert credit > 0
    target = 0.10 * credit
    today = moment.astimezone(NY).date()
    expiries = listings.vix_option_expiries(today)
    found: dict[tuple[str, float], int] = {}
    for bucket, ((low, high), share, ladder) in BUCKETS.items():
        slot_budget = target * share / len(ladder)
        candidates = [
            (expiry, cls) for cls, days in expiries.items() for expiry in days if low <= (expiry - today).days <= high
        ]
        assert candidates, f"no {bucket} expiry on {today}"
        middle = (low + high) / 2
        expiry, cls = min(candidates, key=lambda item: abs((item[0] - today).days - middle))
        strikes = listings.vix_strikes(cls, expiry, today)
        calls = [listings.vix_option(expiry, strike, "C", cls) for strike in strikes]
        quotes = model.quotes(calls, moment)
        forward = model.futures_price(expiry, moment)
        days = (model.settlement_moment(calls[0]) - moment).total_seconds() / 86400
        for delta_target in ladder:
            best = None
            for call, quote in zip(calls, quotes, strict=True):
                assert quote.greeks is not None
                delta = float(
                    black76("C", forward, call.strike, years_from_days(days), quote.greeks.implied_vol, 0.04).delta
                )
                assert delta == pytest.approx(quote.greeks.delta, abs=1e-9)  # the gateway's greeks agree
                if best is None or abs(delta - delta_target) < abs(best[0] - delta_target):
                    best = (delta, quote.ask)
            assert best is not None
            ask = best[1]
            assert ask > 0
            found[(bucket, delta_target)] = math.floor(slot_budget / (ask * 100))
    return found


@pytest.mark.parametrize("scenario_name", ["default", "spike"])
@pytest.mark.parametrize("start", STARTS, ids=lambda s: s.date().isoformat())
@pytest.mark.parametrize("seed", [1, 2])
def test_every_slot_gets_at_least_one_contract(scenario_name: str, start: dt.datetime, seed: int) -> None:
    quantities = _slot_quantities(scenario_name, start, seed)
    assert len(quantities) == 10
    assert all(quantity >= 1 for quantity in quantities.values()), quantities


def test_default_book_is_two_iron_condors_and_no_vix_calls() -> None:
    scenario = load_scenario("default")
    start = STARTS[0]
    model = MarketModel(scenario.parameters, seed=1, start=start)
    listings = Listings(spx_reference=5800)
    positions = build_positions(scenario, model, listings, start)
    assert len(positions) == 8
    assert all(p.instrument.symbol == "SPX" and p.instrument.sec_type == "OPT" for p in positions)
    expiries = {p.instrument.expiry for p in positions}
    assert len(expiries) == 2
    for expiry in expiries:
        legs = sorted((p for p in positions if p.instrument.expiry == expiry), key=lambda p: p.instrument.strike)
        rights = [(p.instrument.right, p.quantity) for p in legs]
        assert rights == [("P", 15.0), ("P", -15.0), ("C", -15.0), ("C", 15.0)]
    assert load_scenario("empty").condors == ()
