"""TWS API socket framing: length-prefixed frames of NUL-terminated UTF-8 fields.

A frame is a 4-byte big-endian length followed by that many bytes; the payload is a sequence of
fields, each terminated by NUL. An empty field means "unset" for numbers. Booleans are "1"/"0".
The client opens with the raw bytes ``API\\0`` followed by one frame holding its version range
(``v157..178``); the server answers with one frame of two fields (its version and connection time).
"""

from __future__ import annotations

import asyncio
import math
import re
import struct
import sys
from collections.abc import Sequence

API_PREFIX = b"API\0"
ADMIN_PREFIX = b"ALVH"
MAX_FRAME_BYTES = 16 * 1024 * 1024

# The highest server version we announce: ib_async 2.x speaks up to 178; from 201 IB switches to
# protobuf message families that neither client library decodes.
SERVER_VERSION_MAX = 178
SERVER_VERSION_MIN = 157

UNSET_DOUBLE = sys.float_info.max
UNSET_INTEGER = 2**31 - 1

_LENGTH = struct.Struct(">I")
_VERSION_RANGE = re.compile(r"^v(\d+)(?:\.\.(\d+))?(?:\s+(.*))?$")

Field = str | int | float | bool | None


class ProtocolError(Exception):
    """The peer sent something that is not the TWS API protocol."""


def format_float(value: float) -> str:
    """A float as IB sends it: shortest round-trip text, unset (NaN) as the empty field."""
    if math.isnan(value):
        return ""
    if value == math.inf:
        return "Infinite"
    rounded = round(value, 8)
    if rounded == int(rounded) and abs(rounded) < 1e15:
        return str(int(rounded))
    return repr(rounded)


def format_field(value: Field) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float(value)
    return value


def encode_payload(fields: Sequence[Field]) -> bytes:
    """Fields -> payload bytes (without the length prefix)."""
    text = "\0".join(format_field(field) for field in fields) + "\0"
    return text.encode("utf-8")


def frame(payload: bytes) -> bytes:
    return _LENGTH.pack(len(payload)) + payload


def encode_message(fields: Sequence[Field]) -> bytes:
    """Fields -> one complete frame ready for the socket."""
    return frame(encode_payload(fields))


def decode_payload(payload: bytes) -> list[str]:
    """Payload bytes -> fields (the trailing terminator removed)."""
    text = payload.decode("utf-8", errors="backslashreplace")
    fields = text.split("\0")
    if fields and fields[-1] == "":
        fields.pop()
    return fields


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    """The next frame's payload; raises ``asyncio.IncompleteReadError`` at end of stream."""
    header = await reader.readexactly(4)
    (length,) = _LENGTH.unpack(header)
    if length > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame of {length} bytes exceeds the {MAX_FRAME_BYTES}-byte limit")
    return await reader.readexactly(length)


def parse_version_range(text: str) -> tuple[int, int, str]:
    """``v157..178 +PACEAPI`` -> (157, 178, '+PACEAPI')."""
    match = _VERSION_RANGE.match(text.strip())
    if not match:
        raise ProtocolError(f"bad version range {text!r}")
    low = int(match.group(1))
    high = int(match.group(2) or low)
    if high < low:
        raise ProtocolError(f"bad version range {text!r}")
    return low, high, (match.group(3) or "").strip()


def negotiate_version(client_min: int, client_max: int) -> int | None:
    """The version both sides speak, or None when the ranges do not overlap."""
    version = min(client_max, SERVER_VERSION_MAX)
    if version < max(client_min, SERVER_VERSION_MIN):
        return None
    return version


class FieldReader:
    """Sequential reader over one incoming message's fields."""

    __slots__ = ("_fields", "_index")

    def __init__(self, fields: Sequence[str], start: int = 0) -> None:
        self._fields = fields
        self._index = start

    @property
    def remaining(self) -> int:
        return len(self._fields) - self._index

    def skip(self, count: int = 1) -> None:
        self._index += count

    def str(self) -> str:
        if self._index >= len(self._fields):
            raise ProtocolError(f"message ended after {len(self._fields)} fields")
        value = self._fields[self._index]
        self._index += 1
        return value

    def int(self, default: int = 0) -> int:
        text = self.str()
        if text == "":
            return default
        try:
            return int(text)
        except ValueError:
            try:
                as_float = float(text)
            except ValueError:
                raise ProtocolError(f"expected an integer, got {text!r}") from None
            if as_float.is_integer():
                return int(as_float)
            raise ProtocolError(f"expected an integer, got {text!r}") from None

    def float(self, default: float | None = None) -> float | None:
        text = self.str()
        if text == "":
            return default
        if text == "Infinite":
            return math.inf
        try:
            value = float(text)
        except ValueError:
            raise ProtocolError(f"expected a number, got {text!r}") from None
        return None if value == UNSET_DOUBLE else value

    def bool(self) -> bool:
        text = self.str()
        if text in ("", "0", "false", "False"):
            return False
        if text in ("1", "true", "True"):
            return True
        try:
            return bool(int(text))
        except ValueError:
            raise ProtocolError(f"expected a boolean, got {text!r}") from None
