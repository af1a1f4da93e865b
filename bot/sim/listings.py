"""What the paper gateway lists: VIX and SPX indices, VIX futures, VIX and SPX options.

Listings follow the real ones closely enough for the bot's discovery code to meet the same shapes:

- VIX monthly options/futures expire on the Wednesday 30 days before the third Friday of the following
  month (holiday-adjusted); weekly VIXW options on every other Wednesday (every Wednesday that is not a
  monthly expiry) out to 13 weeks, VXnn weekly futures out to six weeks; monthlies out to nine months.
  Cboe lists fewer weeklies; we list them a little further so that each hedge bucket's buy window
  (7-14, 30-45, 60-90 days) always offers an expiry even when two monthlies are 35 days apart.
  VIX options stop trading the day before expiry.
- VIX strikes: half-dollar steps up to 20 on the three nearest monthlies, dollar steps to 30, then
  2.50 to 50 and 5.00 to 100; weeklies have no half-dollar strikes (so e.g. a 12.5 VIXW call does not
  exist and qualifying it gives error 200, as at IB).
- SPX (AM-settled, third Friday) monthlies for a year; SPXW (PM-settled) dailies for two weeks,
  Fridays for 26 weeks, month ends and third Fridays for a year. Strikes every 5 points within ±20 %
  of a reference level, every 25 points out to ±50 %.

Everything is a function of the trading date, so listings are stable across gateway restarts, and
conIds are computed from the contract's terms (never stored), so a conId is valid forever.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import lru_cache

from bot.calendar import ExchangeCalendar
from bot.sim.records import Instrument

VIX_INDEX_CON_ID = 13455763
SPX_INDEX_CON_ID = 416904

_VIX_OPTION_BASE = 800_000_000
_SPX_OPTION_BASE = 1_000_000_000
_VIX_FUTURE_BASE = 300_000_000
_EPOCH = dt.date(2000, 1, 1)
_MAX_DAYS = 36_524  # through 2099

MONTH_CODES = "FGHJKMNQUVXZ"

RULE_INDEX = 62
RULE_VX_FUTURE = 32
RULE_VIX_OPTION = 110
RULE_SPX_OPTION = 111
MARKET_RULES: dict[int, tuple[tuple[float, float], ...]] = {
    RULE_INDEX: ((0.0, 0.01),),
    RULE_VX_FUTURE: ((0.0, 0.05),),
    RULE_VIX_OPTION: ((0.0, 0.01), (3.0, 0.05)),
    RULE_SPX_OPTION: ((0.0, 0.05), (3.0, 0.10)),
}

VIX_MONTHLY_COUNT = 9
VIX_WEEKLY_HORIZON_DAYS = 91
VX_WEEKLY_FUTURES_HORIZON_DAYS = 42
SPX_MONTHLY_COUNT = 12
SPXW_DAILY_COUNT = 10
SPXW_FRIDAY_HORIZON_DAYS = 26 * 7
SPXW_LONG_HORIZON_DAYS = 366
MAX_MATCHES = 5000
_CON_ID_CACHE_SIZE = 20_000

OPTION_EXCHANGES = ("SMART", "CBOE")


class AmbiguousContractError(Exception):
    """A partial contract description matches more contracts than the gateway will list."""


def tick_for(rule_id: int, price: float) -> float:
    """The minimum price increment that applies at ``price`` under a market rule."""
    increment = MARKET_RULES[rule_id][0][1]
    for low_edge, step in MARKET_RULES[rule_id]:
        if abs(price) >= low_edge - 1e-12:
            increment = step
    return increment


def is_on_tick(rule_id: int, price: float) -> bool:
    increment = tick_for(rule_id, price)
    steps = price / increment
    return abs(steps - round(steps)) < 1e-6


def round_to_tick(rule_id: int, price: float, direction: str = "nearest") -> float:
    """Round a price onto the rule's grid ('down', 'up' or 'nearest'), never below zero."""
    increment = tick_for(rule_id, price)
    steps = price / increment
    if direction == "down":
        rounded = math.floor(steps + 1e-9)
    elif direction == "up":
        rounded = math.ceil(steps - 1e-9)
    else:
        rounded = round(steps)
    return max(0.0, round(rounded * increment, 4))


@dataclass(frozen=True)
class ContractQuery:
    """The contract fields of a request (reqContractDetails, reqMktData, placeOrder, ...)."""

    con_id: int = 0
    symbol: str = ""
    sec_type: str = ""
    last_trade: str = ""
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    exchange: str = ""
    primary_exchange: str = ""
    currency: str = ""
    local_symbol: str = ""
    trading_class: str = ""
    include_expired: bool = False


def _third_friday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    offset = (4 - first.weekday()) % 7
    return first + dt.timedelta(days=offset + 14)


def _add_months(year: int, month: int, count: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + count
    return index // 12, index % 12 + 1


def occ_symbol(root: str, expiry: dt.date, right: str, strike: float) -> str:
    return f"{root:<6}{expiry:%y%m%d}{right}{round(strike * 1000):08d}"


class Listings:
    """The gateway's contract universe on any trading date."""

    def __init__(self, calendar: ExchangeCalendar | None = None, spx_reference: float = 5800.0) -> None:
        self.calendar = calendar or ExchangeCalendar()
        self.spx_reference = float(spx_reference)
        self._by_con_id: dict[int, Instrument] = {}
        self.vix_index = Instrument(
            con_id=VIX_INDEX_CON_ID,
            symbol="VIX",
            sec_type="IND",
            exchange="CBOE",
            valid_exchanges=("CBOE",),
            local_symbol="VIX",
            long_name="CBOE Volatility Index",
            market_rule_id=RULE_INDEX,
            min_tick=0.01,
        )
        self.spx_index = Instrument(
            con_id=SPX_INDEX_CON_ID,
            symbol="SPX",
            sec_type="IND",
            exchange="CBOE",
            valid_exchanges=("CBOE",),
            local_symbol="SPX",
            long_name="S&P 500 Stock Index",
            market_rule_id=RULE_INDEX,
            min_tick=0.01,
        )
        self._indices = {instrument.con_id: instrument for instrument in (self.vix_index, self.spx_index)}
        spx_strikes = set()
        low, high = self.spx_reference * 0.5, self.spx_reference * 1.5
        inner_low, inner_high = self.spx_reference * 0.8, self.spx_reference * 1.2
        for strike in range(int(low // 25) * 25, int(high) + 25, 25):
            if low <= strike <= high:
                spx_strikes.add(float(strike))
        for strike in range(int(inner_low // 5) * 5, int(inner_high) + 5, 5):
            if inner_low <= strike <= inner_high:
                spx_strikes.add(float(strike))
        self._spx_strikes = tuple(sorted(s for s in spx_strikes if 0 < s <= 20_000))

    # -- calendar helpers -----------------------------------------------------------------------

    def _business_day_on_or_before(self, day: dt.date) -> dt.date:
        while not self.calendar.is_trading_day(day):
            day -= dt.timedelta(days=1)
        return day

    def vix_monthly_expiry(self, year: int, month: int) -> dt.date:
        """The VIX expiration for contract month (year, month): 30 days before next month's third Friday."""
        next_year, next_month = _add_months(year, month, 1)
        friday = self._business_day_on_or_before(_third_friday(next_year, next_month))
        return self._business_day_on_or_before(friday - dt.timedelta(days=30))

    def trading_day_before(self, day: dt.date) -> dt.date:
        return self._business_day_on_or_before(day - dt.timedelta(days=1))

    # -- expiries --------------------------------------------------------------------------------

    def vix_monthly_expiries(self, today: dt.date, count: int = VIX_MONTHLY_COUNT) -> list[dt.date]:
        return list(_cached_vix_monthlies(self, today, count))

    def vix_weekly_expiries(self, today: dt.date, horizon_days: int = VIX_WEEKLY_HORIZON_DAYS) -> list[dt.date]:
        return list(_cached_vix_weeklies(self, today, horizon_days))

    def vix_option_expiries(self, today: dt.date) -> dict[str, list[dt.date]]:
        return {"VIX": self.vix_monthly_expiries(today), "VIXW": self.vix_weekly_expiries(today)}

    def vx_future_expiries(self, today: dt.date) -> list[tuple[dt.date, bool]]:
        """(expiry, is_monthly) for listed VIX futures, nearest first."""
        monthly = [(day, True) for day in self.vix_monthly_expiries(today)]
        weekly = [(day, False) for day in self.vix_weekly_expiries(today, VX_WEEKLY_FUTURES_HORIZON_DAYS)]
        return sorted(monthly + weekly)

    def spx_option_expiries(self, today: dt.date) -> dict[str, list[dt.date]]:
        return {key: list(value) for key, value in _cached_spx_expiries(self, today).items()}

    # -- strikes ---------------------------------------------------------------------------------

    def vix_strikes(self, trading_class: str, expiry: dt.date, today: dt.date) -> tuple[float, ...]:
        near_monthlies = self.vix_monthly_expiries(today, 3)
        half_steps = trading_class == "VIX" and expiry in near_monthlies
        return _vix_ladder(half_steps)

    def spx_strikes(self) -> tuple[float, ...]:
        return self._spx_strikes

    # -- instruments -----------------------------------------------------------------------------

    def vix_option(self, expiry: dt.date, strike: float, right: str, trading_class: str | None = None) -> Instrument:
        monthly = trading_class == "VIX" if trading_class else self._is_vix_monthly(expiry)
        cls = "VIX" if monthly else "VIXW"
        strike_index = round(strike * 2)
        con_id = _VIX_OPTION_BASE + ((_day_index(expiry) * 1024 + strike_index) * 2 + (right == "P"))
        return Instrument(
            con_id=con_id,
            symbol="VIX",
            sec_type="OPT",
            exchange="CBOE",
            valid_exchanges=OPTION_EXCHANGES,
            local_symbol=occ_symbol(cls, expiry, right, strike),
            trading_class=cls,
            multiplier=100,
            expiry=expiry,
            last_trade_date=self.trading_day_before(expiry),
            strike=strike_index / 2,
            right="C" if right == "C" else "P",
            settlement="AM",
            long_name="CBOE Volatility Index",
            under_con_id=VIX_INDEX_CON_ID,
            under_symbol="VIX",
            under_sec_type="IND",
            market_rule_id=RULE_VIX_OPTION,
            min_tick=0.01,
        )

    def spx_option(self, expiry: dt.date, strike: float, right: str, trading_class: str) -> Instrument:
        am = trading_class == "SPX"
        strike_index = round(strike / 5)
        con_id = _SPX_OPTION_BASE + (((_day_index(expiry) * 4096 + strike_index) * 2 + am) * 2 + (right == "P"))
        return Instrument(
            con_id=con_id,
            symbol="SPX",
            sec_type="OPT",
            exchange="CBOE",
            valid_exchanges=OPTION_EXCHANGES,
            local_symbol=occ_symbol(trading_class, expiry, right, strike),
            trading_class="SPX" if am else "SPXW",
            multiplier=100,
            expiry=expiry,
            last_trade_date=self.trading_day_before(expiry) if am else expiry,
            strike=float(strike_index * 5),
            right="C" if right == "C" else "P",
            settlement="AM" if am else "PM",
            long_name="S&P 500 Stock Index",
            under_con_id=SPX_INDEX_CON_ID,
            under_symbol="SPX",
            under_sec_type="IND",
            market_rule_id=RULE_SPX_OPTION,
            min_tick=0.05,
        )

    def vx_future(self, expiry: dt.date) -> Instrument:
        monthly = self._is_vix_monthly(expiry)
        year_digit = expiry.year % 10
        month_code = MONTH_CODES[expiry.month - 1]
        if monthly:
            trading_class, local = "VX", f"VX{month_code}{year_digit}"
        else:
            week = expiry.isocalendar().week
            trading_class, local = f"VX{week:02d}", f"VX{week:02d}{month_code}{year_digit}"
        con_id = _VIX_FUTURE_BASE + _day_index(expiry)
        return Instrument(
            con_id=con_id,
            symbol="VIX",
            sec_type="FUT",
            exchange="CFE",
            valid_exchanges=("CFE",),
            local_symbol=local,
            trading_class=trading_class,
            multiplier=1000,
            expiry=expiry,
            last_trade_date=expiry,
            long_name="CBOE Volatility Index",
            under_con_id=VIX_INDEX_CON_ID,
            under_symbol="VIX",
            under_sec_type="IND",
            market_rule_id=RULE_VX_FUTURE,
            min_tick=0.05,
        )

    def front_vx_future(self, today: dt.date) -> Instrument:
        """The nearest monthly VIX future still trading on ``today`` (VX1)."""
        for expiry in self.vix_monthly_expiries(today):
            if expiry > today:
                return self.vx_future(expiry)
        raise LookupError(f"no VIX future listed after {today}")

    def by_con_id(self, con_id: int) -> Instrument | None:
        """The instrument with this conId (listed or not: callers check ``is_listed``)."""
        known = self._by_con_id.get(con_id)
        if known is not None:
            return known
        decoded = self._decode_con_id(con_id)
        if decoded is not None:
            if len(self._by_con_id) >= _CON_ID_CACHE_SIZE:
                self._by_con_id.pop(next(iter(self._by_con_id)))
            self._by_con_id[con_id] = decoded
        return decoded

    def _decode_con_id(self, con_id: int) -> Instrument | None:
        if con_id in self._indices:
            return self._indices[con_id]
        if _VIX_OPTION_BASE <= con_id < _SPX_OPTION_BASE:
            code = con_id - _VIX_OPTION_BASE
            right = "P" if code % 2 else "C"
            code //= 2
            strike = (code % 1024) / 2
            day = code // 1024
            if day > _MAX_DAYS or strike <= 0:
                return None
            return self.vix_option(_EPOCH + dt.timedelta(days=day), strike, right)
        if _SPX_OPTION_BASE <= con_id < _SPX_OPTION_BASE + 4 * 4096 * (_MAX_DAYS + 1):
            code = con_id - _SPX_OPTION_BASE
            right = "P" if code % 2 else "C"
            code //= 2
            am = bool(code % 2)
            code //= 2
            strike = (code % 4096) * 5
            day = code // 4096
            if strike <= 0:
                return None
            return self.spx_option(_EPOCH + dt.timedelta(days=day), strike, right, "SPX" if am else "SPXW")
        if _VIX_FUTURE_BASE <= con_id <= _VIX_FUTURE_BASE + _MAX_DAYS:
            return self.vx_future(_EPOCH + dt.timedelta(days=con_id - _VIX_FUTURE_BASE))
        return None

    def is_listed(self, instrument: Instrument, today: dt.date, include_expired: bool = False) -> bool:
        """Whether the contract exists on ``today`` (expired ones only with ``include_expired``)."""
        if instrument.sec_type == "IND":
            return True
        expiry = instrument.expiry
        if expiry is None:
            return False
        if expiry < today:
            return include_expired and self._was_listed(instrument)
        return self._was_listed(instrument, today)

    def is_tradable(self, instrument: Instrument, today: dt.date) -> bool:
        if instrument.sec_type == "IND":
            return False
        last = instrument.last_trade_date
        return self.is_listed(instrument, today) and last is not None and today <= last

    def _was_listed(self, instrument: Instrument, today: dt.date | None = None) -> bool:
        expiry = instrument.expiry
        assert expiry is not None
        # A contract is judged as of ``today``, or (expired) as of its own last listing day.
        as_of = today if today is not None else expiry
        if instrument.symbol == "VIX" and instrument.sec_type == "FUT":
            return any(day == expiry for day, _ in self.vx_future_expiries(as_of))
        if instrument.symbol == "VIX" and instrument.sec_type == "OPT":
            expiries = self.vix_option_expiries(as_of)[instrument.trading_class]
            if expiry not in expiries:
                return False
            return any(
                abs(s - instrument.strike) < 1e-9 for s in self.vix_strikes(instrument.trading_class, expiry, as_of)
            )
        if instrument.symbol == "SPX" and instrument.sec_type == "OPT":
            if expiry not in self.spx_option_expiries(as_of)[instrument.trading_class]:
                return False
            return instrument.strike in self._spx_strikes
        return False

    def _is_vix_monthly(self, expiry: dt.date) -> bool:
        # The monthly expiring in ``expiry``'s month or the one before (expiries can fall in either).
        for year, month in (_add_months(expiry.year, expiry.month, 0), _add_months(expiry.year, expiry.month, -1)):
            if self.vix_monthly_expiry(year, month) == expiry:
                return True
        return False

    # -- queries ---------------------------------------------------------------------------------

    def match(self, query: ContractQuery, today: dt.date) -> list[tuple[Instrument, str]]:
        """Contracts (with the exchange to report) that a request's contract fields describe.

        Raises AmbiguousContractError when a partial description matches more than MAX_MATCHES.
        """
        if query.con_id:
            instrument = self.by_con_id(query.con_id)
            if instrument is None or not self.is_listed(instrument, today, query.include_expired):
                return []
            if query.sec_type == "CONTFUT" and instrument.sec_type == "FUT":
                instrument = replace(instrument, sec_type="CONTFUT")
            exchange = self._exchange_for(instrument, query.exchange)
            if exchange is None or not _consistent(instrument, query):
                return []
            return [(instrument, exchange)]
        symbol = query.symbol.upper() or _symbol_from_local(query.local_symbol)
        if not symbol:
            return []
        found: list[tuple[Instrument, str]] = []
        for instrument in self._candidates(symbol, query, today):
            exchange = self._exchange_for(instrument, query.exchange)
            if exchange is None or not _consistent(instrument, query):
                continue
            found.append((instrument, exchange))
            if len(found) > MAX_MATCHES:
                raise AmbiguousContractError(f"The contract description specified for {symbol} is ambiguous.")
        return found

    def _exchange_for(self, instrument: Instrument, requested: str) -> str | None:
        requested = requested.upper()
        if not requested:
            return instrument.exchange
        return requested if requested in instrument.valid_exchanges else None

    def _candidates(self, symbol: str, query: ContractQuery, today: dt.date) -> Iterator[Instrument]:
        sec_type = query.sec_type.upper()
        if symbol == "VIX":
            if sec_type in ("", "IND"):
                yield self.vix_index
            if sec_type in ("", "FUT"):
                for expiry, _ in self.vx_future_expiries(today):
                    if _expiry_matches(expiry, query.last_trade):
                        yield self.vx_future(expiry)
            if sec_type == "CONTFUT":
                yield replace(self.front_vx_future(today), sec_type="CONTFUT")
            if sec_type in ("", "OPT"):
                for trading_class, expiries in self.vix_option_expiries(today).items():
                    if query.trading_class and query.trading_class.upper() != trading_class:
                        continue
                    for expiry in expiries:
                        if not _expiry_matches(expiry, query.last_trade):
                            continue
                        for strike in self.vix_strikes(trading_class, expiry, today):
                            if query.strike and abs(query.strike - strike) > 1e-9:
                                continue
                            for right in _rights(query.right):
                                yield self.vix_option(expiry, strike, right, trading_class)
        elif symbol == "SPX":
            if sec_type in ("", "IND"):
                yield self.spx_index
            if sec_type in ("", "OPT"):
                for trading_class, expiries in self.spx_option_expiries(today).items():
                    if query.trading_class and query.trading_class.upper() != trading_class:
                        continue
                    for expiry in expiries:
                        if not _expiry_matches(expiry, query.last_trade):
                            continue
                        for strike in self._spx_strikes:
                            if query.strike and abs(query.strike - strike) > 1e-9:
                                continue
                            for right in _rights(query.right):
                                yield self.spx_option(expiry, strike, right, trading_class)

    def option_chains(self, symbol: str, today: dt.date) -> list[tuple[str, str, str, list[str], list[float]]]:
        """reqSecDefOptParams: (exchange, tradingClass, multiplier, expirations, strikes) per chain."""
        chains: list[tuple[str, str, str, list[str], list[float]]] = []
        if symbol == "VIX":
            per_class = self.vix_option_expiries(today)
            for exchange in ("CBOE", "SMART"):
                for trading_class, expiries in per_class.items():
                    strikes: set[float] = set()
                    for expiry in expiries:
                        strikes.update(self.vix_strikes(trading_class, expiry, today))
                    chains.append((exchange, trading_class, "100", [f"{e:%Y%m%d}" for e in expiries], sorted(strikes)))
        elif symbol == "SPX":
            per_class = self.spx_option_expiries(today)
            for exchange in ("CBOE", "SMART"):
                for trading_class, expiries in per_class.items():
                    chains.append(
                        (exchange, trading_class, "100", [f"{e:%Y%m%d}" for e in expiries], list(self._spx_strikes))
                    )
        return chains

    def trading_hours(self, instrument: Instrument, today: dt.date, days: int = 7) -> str:
        """IB's tradingHours text for the next ``days`` calendar days in US/Central."""
        from zoneinfo import ZoneInfo

        central = ZoneInfo("US/Central")
        parts = []
        for offset in range(days):
            day = today + dt.timedelta(days=offset)
            session = self.calendar.session_on(day)
            if session is None:
                parts.append(f"{day:%Y%m%d}:CLOSED")
                continue
            opened = session.open.astimezone(central)
            closed = session.close.astimezone(central)
            parts.append(f"{opened:%Y%m%d:%H%M}-{closed:%Y%m%d:%H%M}")
        return ";".join(parts)


def _day_index(day: dt.date) -> int:
    index = (day - _EPOCH).days
    if not 0 <= index <= _MAX_DAYS:
        raise ValueError(f"expiry {day} outside 2000..2099")
    return index


def _rights(requested: str) -> tuple[str, ...]:
    text = requested.upper()
    if text in ("C", "CALL"):
        return ("C",)
    if text in ("P", "PUT"):
        return ("P",)
    return ("C", "P")


def _expiry_matches(expiry: dt.date, requested: str) -> bool:
    text = requested.strip().split(" ")[0] if requested else ""
    if not text:
        return True
    if len(text) == 8:
        return text == f"{expiry:%Y%m%d}"
    if len(text) == 6:
        return text == f"{expiry:%Y%m}"
    return False


def _symbol_from_local(local_symbol: str) -> str:
    text = local_symbol.upper().strip()
    if text.startswith(("VIX", "VX")):
        return "VIX"
    if text.startswith("SPX"):
        return "SPX"
    return ""


def _consistent(instrument: Instrument, query: ContractQuery) -> bool:
    """Fields the query sets must agree with the instrument."""
    if query.symbol and query.symbol.upper() != instrument.symbol:
        return False
    if query.sec_type and query.sec_type.upper() != instrument.sec_type:
        return False
    if query.currency and query.currency.upper() != instrument.currency:
        return False
    if query.trading_class and query.trading_class.upper() != instrument.trading_class.upper():
        return False
    if query.local_symbol and query.local_symbol.strip().upper() != instrument.local_symbol.strip().upper():
        return False
    if query.multiplier and query.multiplier.strip() not in ("", instrument.multiplier_text):
        try:
            if float(query.multiplier) != float(instrument.multiplier_text or 0):
                return False
        except ValueError:
            return False
    if instrument.sec_type == "OPT":
        if query.strike and abs(query.strike - instrument.strike) > 1e-9:
            return False
        if query.right and _rights(query.right) != (instrument.right,) and _rights(query.right) != ("C", "P"):
            return False
    return not (
        instrument.expiry is not None and query.last_trade and not _expiry_matches(instrument.expiry, query.last_trade)
    )


def _vix_ladder(half_steps: bool) -> tuple[float, ...]:
    return _VIX_LADDER_HALF if half_steps else _VIX_LADDER


def _build_vix_ladder(half_steps: bool) -> tuple[float, ...]:
    strikes: list[float] = []
    strike = 9.0
    while strike <= 100.0 + 1e-9:
        strikes.append(round(strike, 2))
        if strike < 20 and half_steps:
            strike += 0.5
        elif strike < 30:
            strike += 1.0
        elif strike < 50:
            strike += 2.5
        else:
            strike += 5.0
    return tuple(strikes)


_VIX_LADDER = _build_vix_ladder(False)
_VIX_LADDER_HALF = _build_vix_ladder(True)


@lru_cache(maxsize=256)
def _cached_vix_monthlies(listings: Listings, today: dt.date, count: int) -> tuple[dt.date, ...]:
    found: list[dt.date] = []
    year, month = _add_months(today.year, today.month, -1)
    while len(found) < count:
        expiry = listings.vix_monthly_expiry(year, month)
        if expiry >= today:
            found.append(expiry)
        year, month = _add_months(year, month, 1)
    return tuple(found)


@lru_cache(maxsize=256)
def _cached_vix_weeklies(listings: Listings, today: dt.date, horizon_days: int) -> tuple[dt.date, ...]:
    monthlies = set(_cached_vix_monthlies(listings, today, 4))
    found: list[dt.date] = []
    wednesday = today + dt.timedelta(days=(2 - today.weekday()) % 7)
    while wednesday <= today + dt.timedelta(days=horizon_days):
        expiry = listings._business_day_on_or_before(wednesday)
        if expiry >= today and expiry not in monthlies and wednesday not in monthlies:
            found.append(expiry)
        wednesday += dt.timedelta(days=7)
    return tuple(found)


@lru_cache(maxsize=256)
def _cached_spx_expiries(listings: Listings, today: dt.date) -> dict[str, tuple[dt.date, ...]]:
    calendar = listings.calendar
    monthly: list[dt.date] = []
    year, month = today.year, today.month
    while len(monthly) < SPX_MONTHLY_COUNT:
        expiry = listings._business_day_on_or_before(_third_friday(year, month))
        if expiry >= today:
            monthly.append(expiry)
        year, month = _add_months(year, month, 1)
    weekly: set[dt.date] = set()
    day = today
    dailies = 0
    while dailies < SPXW_DAILY_COUNT:
        if calendar.is_trading_day(day):
            weekly.add(day)
            dailies += 1
        day += dt.timedelta(days=1)
    friday = today + dt.timedelta(days=(4 - today.weekday()) % 7)
    while friday <= today + dt.timedelta(days=SPXW_FRIDAY_HORIZON_DAYS):
        weekly.add(listings._business_day_on_or_before(friday))
        friday += dt.timedelta(days=7)
    year, month = today.year, today.month
    for _ in range(13):
        next_year, next_month = _add_months(year, month, 1)
        month_end = listings._business_day_on_or_before(dt.date(next_year, next_month, 1) - dt.timedelta(days=1))
        third = listings._business_day_on_or_before(_third_friday(year, month))
        for expiry in (month_end, third):
            if today <= expiry <= today + dt.timedelta(days=SPXW_LONG_HORIZON_DAYS):
                weekly.add(expiry)
        year, month = next_year, next_month
    return {"SPX": tuple(monthly), "SPXW": tuple(sorted(e for e in weekly if e >= today))}
