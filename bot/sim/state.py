"""The gateway's durable state (``--state FILE``): account, orders, executions, counters, clock, shocks.

One JSON document, rewritten atomically (temporary file, fsync, rename) after every order event and
periodically, so that a gateway killed at any moment restarts with its GTC orders, positions,
executions and permIds intact. The scenario, seed and model anchor are stored too: the market after a
restart is the same market, and a state file is refused for a different scenario or seed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bot.sim.market import Shock
from bot.sim.records import ExecutionRecord, OrderRecord, PositionRecord

STATE_VERSION = 1


class StateError(ValueError):
    """The state file is unreadable or belongs to another scenario."""


@dataclass
class GatewayState:
    scenario: str
    seed: int
    anchor: dt.datetime  # the market model's start
    account: str
    clock_time: dt.datetime
    cash: float
    realized_pnl: float
    commissions: float
    positions: list[PositionRecord]
    orders: list[OrderRecord]
    executions: list[ExecutionRecord]
    next_perm_id: int
    exec_prefix: str
    exec_sequence: int
    max_order_id: dict[int, int]
    shocks: list[Shock] = field(default_factory=list)


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(dt.UTC).isoformat()


def _parse(moment: str | None) -> dt.datetime | None:
    return None if moment is None else dt.datetime.fromisoformat(moment)


def _order_to_json(order: OrderRecord) -> dict[str, Any]:
    data = asdict(order)
    data["created"] = _iso(order.created)
    data["completed_time"] = _iso(order.completed_time)
    return data


def _order_from_json(data: dict[str, Any]) -> OrderRecord:
    values = dict(data)
    values["created"] = _parse(values["created"])
    values["completed_time"] = _parse(values.get("completed_time"))
    return OrderRecord(**values)


def _execution_to_json(execution: ExecutionRecord) -> dict[str, Any]:
    data = asdict(execution)
    data["time"] = _iso(execution.time)
    return data


def _execution_from_json(data: dict[str, Any]) -> ExecutionRecord:
    values = dict(data)
    values["time"] = _parse(values["time"])
    return ExecutionRecord(**values)


def to_json(state: GatewayState) -> dict[str, Any]:
    return {
        "version": STATE_VERSION,
        "scenario": state.scenario,
        "seed": state.seed,
        "anchor": _iso(state.anchor),
        "account": state.account,
        "clock_time": _iso(state.clock_time),
        "cash": state.cash,
        "realized_pnl": state.realized_pnl,
        "commissions": state.commissions,
        "positions": [asdict(p) for p in state.positions],
        "orders": [_order_to_json(o) for o in state.orders],
        "executions": [_execution_to_json(e) for e in state.executions],
        "next_perm_id": state.next_perm_id,
        "exec_prefix": state.exec_prefix,
        "exec_sequence": state.exec_sequence,
        "max_order_id": {str(k): v for k, v in state.max_order_id.items()},
        "shocks": [
            {"at": _iso(s.at), "log_shift": s.log_shift, "half_life_days": s.half_life_days} for s in state.shocks
        ],
    }


def from_json(data: dict[str, Any]) -> GatewayState:
    if data.get("version") != STATE_VERSION:
        raise StateError(f"unsupported state version {data.get('version')!r} (expected {STATE_VERSION})")
    anchor = _parse(data["anchor"])
    clock_time = _parse(data["clock_time"])
    assert anchor is not None and clock_time is not None
    return GatewayState(
        scenario=str(data["scenario"]),
        seed=int(data["seed"]),
        anchor=anchor,
        account=str(data["account"]),
        clock_time=clock_time,
        cash=float(data["cash"]),
        realized_pnl=float(data["realized_pnl"]),
        commissions=float(data["commissions"]),
        positions=[PositionRecord(**p) for p in data["positions"]],
        orders=[_order_from_json(o) for o in data["orders"]],
        executions=[_execution_from_json(e) for e in data["executions"]],
        next_perm_id=int(data["next_perm_id"]),
        exec_prefix=str(data["exec_prefix"]),
        exec_sequence=int(data["exec_sequence"]),
        max_order_id={int(k): int(v) for k, v in data["max_order_id"].items()},
        shocks=[
            Shock(
                at=dt.datetime.fromisoformat(s["at"]),
                log_shift=float(s["log_shift"]),
                half_life_days=float(s["half_life_days"]),
            )
            for s in data.get("shocks", [])
        ],
    )


def load_state(path: Path) -> GatewayState | None:
    """The saved state, or None when the file does not exist yet."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return from_json(data)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise StateError(f"{path}: cannot read gateway state: {error}") from error


def save_state(path: Path, state: GatewayState) -> None:
    """Write atomically: a crash leaves either the old or the new file, never a torn one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(to_json(state), sort_keys=True, separators=(",", ":"))
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
