"""Conversions between ib_async objects and the planner's models (no I/O)."""

from __future__ import annotations

import datetime as dt
import math

from ib_async import Contract, Option, Ticker

from strategies.alvh.models import OptionContract, OptionQuote


def expiry_from_ib(value: str) -> dt.date:
    """IB's lastTradeDateOrContractMonth (YYYYMMDD, sometimes with a time) as a date."""
    return dt.datetime.strptime(value[:8], "%Y%m%d").date()


def option_contract_from_ib(contract: Contract) -> OptionContract:
    if contract.secType != "OPT":
        raise ValueError(f"not an option: {contract.secType} {contract.localSymbol}")
    symbol = contract.symbol
    if symbol not in ("VIX", "SPX"):
        raise ValueError(f"not a VIX or SPX option: {symbol}")
    return OptionContract(
        symbol=symbol,  # type: ignore[arg-type]
        trading_class=contract.tradingClass or symbol,
        expiry=expiry_from_ib(contract.lastTradeDateOrContractMonth),
        strike=float(contract.strike),
        right="C" if contract.right.upper().startswith("C") else "P",
        multiplier=int(float(contract.multiplier or 100)),
        con_id=contract.conId or None,
    )


def ib_option(contract: OptionContract, exchange: str = "SMART") -> Option:
    return Option(
        symbol=contract.symbol,
        lastTradeDateOrContractMonth=contract.expiry.strftime("%Y%m%d"),
        strike=contract.strike,
        right=contract.right,
        exchange=exchange,
        multiplier=str(contract.multiplier),
        currency="USD",
        tradingClass=contract.trading_class,
        conId=contract.con_id or 0,
    )


def number(value: float | None) -> float | None:
    """A usable number or None: IB marks "no value" with NaN or -1 for prices and sizes."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def price(value: float | None) -> float | None:
    found = number(value)
    return None if found is None or found < 0 else found


def option_quote(
    contract: OptionContract, ticker: Ticker, quote_time: dt.datetime, market_data_type: int
) -> OptionQuote:
    greeks = ticker.modelGreeks
    return OptionQuote(
        contract=contract,
        bid=_quote_side(ticker.bid),
        ask=_quote_side(ticker.ask),
        last=price(ticker.last),
        bid_size=number(ticker.bidSize),
        ask_size=number(ticker.askSize),
        model_iv=number(greeks.impliedVol) if greeks else None,
        model_delta=number(greeks.delta) if greeks else None,
        model_gamma=number(greeks.gamma) if greeks else None,
        model_vega=number(greeks.vega) if greeks else None,
        model_theta=number(greeks.theta) if greeks else None,
        underlying_price=number(greeks.undPrice) if greeks else None,
        quote_time=quote_time,
        market_data_type=market_data_type,
    )


def _quote_side(value: float | None) -> float | None:
    """Bid or ask as the planner must see it: NaN stays NaN (recorded as a bad quote), -1 means none."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return float("nan")
    return None if value < 0 else float(value)
