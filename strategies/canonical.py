"""Canonical JSON: one byte sequence per value, so plans and journal records can be hashed and compared.

Keys sorted, no insignificant whitespace, UTF-8 text, floats rounded to 10 decimal places (so that the
last-bit noise of a different libm cannot change a replayed plan), -0.0 written as 0.0, and NaN or
infinities written as the strings "NaN", "Infinity", "-Infinity" (plain JSON has no such numbers).
"""

from __future__ import annotations

import json
import math

from pydantic import JsonValue

FLOAT_DECIMALS = 10

__all__ = ["JsonValue", "canonical_json", "canonicalize"]


def _canonical_float(value: float) -> JsonValue:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    rounded = round(value, FLOAT_DECIMALS)
    return 0.0 if rounded == 0.0 else rounded


def canonicalize(value: JsonValue) -> JsonValue:
    """The JSON value with every float made canonical; structure and key order are left to dumps."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return _canonical_float(value)
    if isinstance(value, list):
        return [canonicalize(item) for item in value]
    return {str(key): canonicalize(item) for key, item in value.items()}


def canonical_json(value: JsonValue) -> str:
    return json.dumps(canonicalize(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
