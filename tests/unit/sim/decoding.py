"""Feed the gateway's encoded frames through ib_async's own Decoder and record the wrapper calls."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from ib_async.decoder import Decoder

from bot.sim.protocol import Field, decode_payload, encode_message


class RecordingWrapper:
    """Stands in for ib_async's Wrapper: every method the decoder calls is recorded with its arguments."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.defaultTimezone = dt.UTC
        self.ib = SimpleNamespace(TimezoneTWS=None)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)

        def record(*args: Any) -> None:
            self.calls.append((name, args))

        return record


def decode(fields: Sequence[Field], server_version: int = 178) -> list[tuple[str, tuple[Any, ...]]]:
    """Encode ``fields`` as one frame, strip the frame, decode with ib_async; returns the wrapper calls."""
    wire = encode_message(fields)
    length = int.from_bytes(wire[:4], "big")
    assert length == len(wire) - 4
    wrapper = RecordingWrapper()
    decoder = Decoder(wrapper, server_version)  # type: ignore[arg-type]
    decoder.interpret(decode_payload(wire[4:]))
    return wrapper.calls


def decode_one(fields: Sequence[Field], server_version: int = 178) -> tuple[str, tuple[Any, ...]]:
    calls = decode(fields, server_version)
    assert len(calls) == 1, f"expected one wrapper call, got {calls}"
    return calls[0]
