"""IB error codes, classified so the bot reacts to the class, not to a list of numbers sprinkled around.

Sources: IB's TWS API message codes and the project's protocol notes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorClass(StrEnum):
    INFO = "info"  # farm OK, delayed data shown: nothing to do
    CONNECTIVITY = "connectivity"  # connection to IB lost/restored, farm broken
    PACING = "pacing"  # too many messages or historical requests: slow down
    NO_DATA = "no_data"  # no security definition, no historical data, not subscribed to a feed
    ENTITLEMENT = "entitlement"  # competing session, missing market data permissions: no trading
    REJECTED = "rejected"  # an order refused or cancelled by IB
    FATAL = "fatal"  # duplicate order id, client id in use: stop trading, alert


_CLASSES: dict[int, ErrorClass] = {
    # information
    2104: ErrorClass.INFO,
    2106: ErrorClass.INFO,
    2107: ErrorClass.INFO,
    2108: ErrorClass.INFO,
    2119: ErrorClass.INFO,
    2158: ErrorClass.INFO,
    2100: ErrorClass.INFO,
    10167: ErrorClass.INFO,  # displaying delayed market data
    399: ErrorClass.INFO,  # order message (e.g. will be placed at the open)
    104: ErrorClass.INFO,  # cannot modify a filled order: a modify that lost the race with a fill
    10148: ErrorClass.INFO,  # cannot cancel, state Filled: a cancel that lost the race with a fill
    # connectivity
    1100: ErrorClass.CONNECTIVITY,
    1101: ErrorClass.CONNECTIVITY,
    1102: ErrorClass.CONNECTIVITY,
    1300: ErrorClass.CONNECTIVITY,
    2103: ErrorClass.CONNECTIVITY,
    2105: ErrorClass.CONNECTIVITY,
    2110: ErrorClass.CONNECTIVITY,
    2157: ErrorClass.CONNECTIVITY,
    502: ErrorClass.CONNECTIVITY,
    504: ErrorClass.CONNECTIVITY,
    # pacing
    100: ErrorClass.PACING,
    420: ErrorClass.PACING,
    # no data
    162: ErrorClass.NO_DATA,  # historical data request failed / pacing violation text varies
    165: ErrorClass.NO_DATA,
    166: ErrorClass.NO_DATA,
    200: ErrorClass.NO_DATA,
    300: ErrorClass.NO_DATA,
    321: ErrorClass.NO_DATA,
    322: ErrorClass.NO_DATA,
    354: ErrorClass.NO_DATA,
    366: ErrorClass.NO_DATA,
    101: ErrorClass.NO_DATA,  # max number of market data lines exceeded
    # entitlement
    10089: ErrorClass.ENTITLEMENT,
    10090: ErrorClass.ENTITLEMENT,
    10091: ErrorClass.ENTITLEMENT,
    10168: ErrorClass.ENTITLEMENT,
    10197: ErrorClass.ENTITLEMENT,  # competing live session: no market data
    # rejected orders
    110: ErrorClass.REJECTED,
    161: ErrorClass.REJECTED,
    201: ErrorClass.REJECTED,
    202: ErrorClass.REJECTED,
    203: ErrorClass.REJECTED,
    10147: ErrorClass.REJECTED,
    10149: ErrorClass.REJECTED,
    # fatal for trading
    103: ErrorClass.FATAL,  # duplicate order id
    326: ErrorClass.FATAL,  # client id already in use
    507: ErrorClass.FATAL,  # bad message length
    505: ErrorClass.FATAL,
}


def classify(code: int) -> ErrorClass:
    if code in _CLASSES:
        return _CLASSES[code]
    if 2100 <= code < 2200:
        return ErrorClass.INFO
    if 1100 <= code < 1400:
        return ErrorClass.CONNECTIVITY
    return ErrorClass.REJECTED if code < 1000 else ErrorClass.INFO


@dataclass(frozen=True)
class IbError:
    request_id: int
    code: int
    message: str

    @property
    def kind(self) -> ErrorClass:
        return classify(self.code)

    def __str__(self) -> str:
        return f"IB error {self.code} ({self.kind}) on request {self.request_id}: {self.message}"


class BrokerError(Exception):
    """A broker request failed or timed out: never to be read as an empty answer."""


class AccountGuardError(BrokerError):
    """The gateway's account may not be traded (live account without the double opt-in, or mismatch)."""
