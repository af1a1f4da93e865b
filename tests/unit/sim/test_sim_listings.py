"""Listings: VIX expiry rules, weeklies, strike ladders, conIds and contract matching."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.sim.listings import (
    SPX_INDEX_CON_ID,
    VIX_INDEX_CON_ID,
    AmbiguousContractError,
    ContractQuery,
    Listings,
    is_on_tick,
    round_to_tick,
    tick_for,
)

TODAY = dt.date(2025, 11, 24)


@pytest.fixture(scope="module")
def listings() -> Listings:
    return Listings(spx_reference=5800.0)


def test_vix_monthly_expiries_follow_the_30_day_rule(listings: Listings) -> None:
    # Published VIX expirations.
    assert listings.vix_monthly_expiry(2025, 11) == dt.date(2025, 11, 19)
    assert listings.vix_monthly_expiry(2025, 12) == dt.date(2025, 12, 17)
    assert listings.vix_monthly_expiry(2026, 1) == dt.date(2026, 1, 21)
    assert listings.vix_monthly_expiry(2026, 2) == dt.date(2026, 2, 18)
    assert listings.vix_monthly_expiry(2024, 3) == dt.date(2024, 3, 20)
    # Holiday adjustment: Good Friday 2022-04-15 was the third Friday; the April 2022 contract... and the
    # March 2022 contract settled 30 days before Thursday 2022-04-14, i.e. Tuesday 2022-03-15.
    assert listings.vix_monthly_expiry(2022, 3) == dt.date(2022, 3, 15)


def test_monthlies_reach_six_months_and_weeklies_seven_weeks(listings: Listings) -> None:
    monthlies = listings.vix_monthly_expiries(TODAY)
    weeklies = listings.vix_weekly_expiries(TODAY)
    assert monthlies[0] == dt.date(2025, 12, 17)
    assert (monthlies[-1] - TODAY).days > 180
    assert all(day.weekday() == 2 for day in weeklies)
    # Juneteenth 2026 is the third Friday of June: the May contract expires Tuesday 19 May.
    assert dt.date(2026, 5, 19) in monthlies
    assert all(day.weekday() == 2 for day in monthlies if day != dt.date(2026, 5, 19))
    assert not set(monthlies) & set(weeklies)
    assert (weeklies[-1] - TODAY).days >= 49
    combined = sorted(monthlies + weeklies)
    # Every day of the coming months: the 30-45 DTE window offers several expiries, 60-90 at least one.
    for offset in range(0, 120, 1):
        day = TODAY + dt.timedelta(days=offset)
        per_day = listings.vix_monthly_expiries(day) + listings.vix_weekly_expiries(day)
        dtes = [(expiry - day).days for expiry in per_day]
        assert sum(30 <= d <= 45 for d in dtes) >= 2, day
        assert sum(60 <= d <= 90 for d in dtes) >= 1, day
        assert sum(7 <= d <= 14 for d in dtes) >= 1, day
    assert combined == sorted(set(combined))


def test_vix_strike_ladders(listings: Listings) -> None:
    front = listings.vix_monthly_expiries(TODAY)[0]
    far = listings.vix_monthly_expiries(TODAY)[6]
    weekly = listings.vix_weekly_expiries(TODAY)[0]
    near_strikes = listings.vix_strikes("VIX", front, TODAY)
    assert 12.5 in near_strikes and 13.0 in near_strikes and 32.5 in near_strikes and 100.0 in near_strikes
    assert 12.5 not in listings.vix_strikes("VIX", far, TODAY)
    assert 12.5 not in listings.vix_strikes("VIXW", weekly, TODAY)
    assert 31.0 not in near_strikes


def test_con_ids_are_stable_and_decodable(listings: Listings) -> None:
    expiry = listings.vix_weekly_expiries(TODAY)[2]
    call = listings.vix_option(expiry, 18.0, "C")
    assert call.trading_class == "VIXW"
    assert call.local_symbol == f"VIXW  {expiry:%y%m%d}C00018000"
    assert call.last_trade_date == listings.trading_day_before(expiry)
    fresh = Listings(spx_reference=5800.0)
    assert fresh.by_con_id(call.con_id) == call
    put = listings.spx_option(dt.date(2025, 12, 19), 5500.0, "P", "SPX")
    assert put.settlement == "AM" and put.trading_class == "SPX"
    assert fresh.by_con_id(put.con_id) == put
    pm = listings.spx_option(dt.date(2025, 12, 19), 5500.0, "P", "SPXW")
    assert pm.con_id != put.con_id
    future = listings.front_vx_future(TODAY)
    assert (future.local_symbol, future.trading_class, future.multiplier) == ("VXZ5", "VX", 1000)
    assert fresh.by_con_id(future.con_id) == future
    assert fresh.by_con_id(VIX_INDEX_CON_ID) == listings.vix_index
    assert fresh.by_con_id(SPX_INDEX_CON_ID) == listings.spx_index
    assert fresh.by_con_id(12345) is None
    assert max(call.con_id, put.con_id, pm.con_id) < 2**31


def test_match_indices_futures_options(listings: Listings) -> None:
    [(vix, exchange)] = listings.match(ContractQuery(symbol="VIX", sec_type="IND", exchange="CBOE"), TODAY)
    assert (vix.con_id, exchange) == (VIX_INDEX_CON_ID, "CBOE")
    assert listings.match(ContractQuery(symbol="VIX", sec_type="IND", exchange="SMART"), TODAY) == []
    [(spx, _)] = listings.match(ContractQuery(symbol="SPX", sec_type="IND", exchange="CBOE"), TODAY)
    assert spx.con_id == SPX_INDEX_CON_ID

    futures = listings.match(ContractQuery(symbol="VIX", sec_type="FUT", exchange="CFE", last_trade="202512"), TODAY)
    assert len(futures) >= 2  # monthly and weeklies of December: ambiguous without tradingClass
    [(dec, _)] = listings.match(
        ContractQuery(symbol="VIX", sec_type="FUT", exchange="CFE", last_trade="202512", trading_class="VX"), TODAY
    )
    assert dec.expiry == dt.date(2025, 12, 17)
    [(by_local, _)] = listings.match(ContractQuery(sec_type="FUT", local_symbol="VXZ5", exchange="CFE"), TODAY)
    assert by_local == dec

    expiry = listings.vix_monthly_expiries(TODAY)[1]
    [(option, exchange)] = listings.match(
        ContractQuery(
            symbol="VIX", sec_type="OPT", last_trade=f"{expiry:%Y%m%d}", strike=20, right="C", exchange="SMART"
        ),
        TODAY,
    )
    assert (option.trading_class, option.strike, option.right, exchange) == ("VIX", 20.0, "C", "SMART")
    [(by_con_id, exchange)] = listings.match(ContractQuery(con_id=option.con_id, exchange="SMART"), TODAY)
    assert by_con_id == option and exchange == "SMART"
    chain = listings.match(
        ContractQuery(symbol="VIX", sec_type="OPT", last_trade=f"{expiry:%Y%m%d}", exchange="SMART"), TODAY
    )
    assert len(chain) == 2 * len(listings.vix_strikes("VIX", expiry, TODAY))


def test_unlisted_pairs_do_not_match(listings: Listings) -> None:
    weekly = listings.vix_weekly_expiries(TODAY)[0]
    query = ContractQuery(
        symbol="VIX", sec_type="OPT", last_trade=f"{weekly:%Y%m%d}", strike=12.5, right="C", exchange="SMART"
    )
    assert listings.match(query, TODAY) == []
    # An expiry that is not a listed date.
    assert (
        listings.match(ContractQuery(symbol="VIX", sec_type="OPT", last_trade="20251125", strike=20, right="C"), TODAY)
        == []
    )
    # Expired contracts only with includeExpired.
    old = listings.vix_option(dt.date(2025, 11, 19), 20.0, "C")
    assert listings.match(ContractQuery(con_id=old.con_id), TODAY) == []
    assert listings.match(ContractQuery(con_id=old.con_id, include_expired=True), TODAY) == [(old, "CBOE")]


def test_huge_partial_descriptions_are_ambiguous(listings: Listings) -> None:
    with pytest.raises(AmbiguousContractError):
        listings.match(ContractQuery(symbol="SPX", sec_type="OPT", exchange="SMART"), TODAY)


def test_option_chains(listings: Listings) -> None:
    chains = listings.option_chains("VIX", TODAY)
    keys = {(exchange, cls) for exchange, cls, *_ in chains}
    assert keys == {("CBOE", "VIX"), ("CBOE", "VIXW"), ("SMART", "VIX"), ("SMART", "VIXW")}
    for _exchange, cls, multiplier, expirations, strikes in chains:
        assert multiplier == "100"
        assert expirations == sorted(expirations)
        if cls == "VIX":
            assert 12.5 in strikes
        else:
            assert 12.5 not in strikes
    spx = listings.option_chains("SPX", TODAY)
    assert {cls for _, cls, *_ in spx} == {"SPX", "SPXW"}


def test_ticks() -> None:
    assert tick_for(110, 2.99) == 0.01 and tick_for(110, 3.0) == 0.05
    assert is_on_tick(110, 1.23) and not is_on_tick(110, 3.21) and is_on_tick(110, 3.25)
    assert tick_for(111, 10.0) == 0.10 and is_on_tick(111, 2.95) and not is_on_tick(111, 5.05)
    assert round_to_tick(110, 3.27, "down") == 3.25 and round_to_tick(110, 3.21, "up") == 3.25
    assert round_to_tick(110, 1.234) == 1.23


def test_trading_hours_text(listings: Listings) -> None:
    text = listings.trading_hours(listings.vix_index, dt.date(2025, 11, 26), days=3)
    assert text == "20251126:0830-20251126:1515;20251127:CLOSED;20251128:0830-20251128:1215"
