"""The bot's state in SQLite (WAL, synchronous=FULL): slots, intents, fills, rebalances, halt state.

The journal is the audit record; this store is the working state the bot resumes from after a crash.
Every write is its own committed transaction, so what a call returned is on disk. Schema changes are
applied by ``user_version`` migrations.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.engine.order_state import IntentStatus, OrderTrack
from strategies.alvh.models import Layer, OptionContract

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS slots (slot_id TEXT PRIMARY KEY, layer TEXT, incoming TEXT);
CREATE TABLE IF NOT EXISTS leftovers (contract_key TEXT PRIMARY KEY, layer TEXT NOT NULL, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS intents (
    intent_id TEXT PRIMARY KEY,
    cycle_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    kind TEXT NOT NULL,
    role TEXT NOT NULL,
    slot_id TEXT NOT NULL,
    side TEXT,
    contract TEXT,
    quantity INTEGER NOT NULL,
    limit_start REAL,
    limit_bound REAL,
    limit_price REAL,
    tif TEXT,
    status TEXT NOT NULL,
    order_id INTEGER,
    perm_id INTEGER,
    client_id INTEGER,
    parent_intent TEXT,
    harvest_rung INTEGER,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS intents_status ON intents(status);
CREATE INDEX IF NOT EXISTS intents_slot ON intents(slot_id);
CREATE INDEX IF NOT EXISTS intents_perm ON intents(perm_id);
CREATE TABLE IF NOT EXISTS fills (
    exec_id TEXT PRIMARY KEY,
    intent_id TEXT NOT NULL,
    order_id INTEGER,
    perm_id INTEGER,
    contract_key TEXT NOT NULL,
    side TEXT NOT NULL,
    quantity REAL NOT NULL,
    price REAL NOT NULL,
    time TEXT NOT NULL,
    commission REAL
);
CREATE INDEX IF NOT EXISTS fills_intent ON fills(intent_id);
CREATE TABLE IF NOT EXISTS rebalances (
    at TEXT PRIMARY KEY,
    cycle_id TEXT,
    forced INTEGER NOT NULL DEFAULT 0,
    operator TEXT,
    reason TEXT
);
"""


_UPSERT_SLOT = (
    "INSERT INTO slots(slot_id, layer) VALUES (?, ?) ON CONFLICT(slot_id) DO UPDATE SET layer = excluded.layer"
)


def _iso(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to the store")
    return moment.astimezone(dt.UTC).isoformat()


def _from_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@dataclass(frozen=True)
class IntentRecord:
    """An order intent (or a journal-only action) as the executor tracks it."""

    intent_id: str
    kind: str
    role: str
    slot_id: str
    quantity: int
    created_at: dt.datetime
    status: IntentStatus = IntentStatus.JOURNALED
    cycle_id: str | None = None
    side: str | None = None
    contract: OptionContract | None = None
    limit_start: float | None = None
    limit_bound: float | None = None
    limit_price: float | None = None
    tif: str | None = None
    order_id: int | None = None
    perm_id: int | None = None
    client_id: int | None = None
    parent_intent: str | None = None
    harvest_rung: int | None = None
    note: str = ""
    updated_at: dt.datetime | None = None
    fills: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def track(self) -> OrderTrack:
        return OrderTrack(quantity=self.quantity, status=self.status, fills=dict(self.fills))

    @property
    def filled(self) -> float:
        return self.track.filled

    @property
    def remaining(self) -> float:
        return self.track.remaining


@dataclass(frozen=True)
class FillRecord:
    exec_id: str
    intent_id: str
    contract_key: str
    side: str
    quantity: float
    price: float
    time: dt.datetime
    order_id: int | None = None
    perm_id: int | None = None
    commission: float | None = None


@dataclass(frozen=True)
class HaltState:
    reason: str
    by: str
    at: dt.datetime


_INTENT_COLUMNS = (
    "intent_id",
    "cycle_id",
    "created_at",
    "updated_at",
    "kind",
    "role",
    "slot_id",
    "side",
    "contract",
    "quantity",
    "limit_start",
    "limit_bound",
    "limit_price",
    "tif",
    "status",
    "order_id",
    "perm_id",
    "client_id",
    "parent_intent",
    "harvest_rung",
    "note",
)


class Store:
    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self._lock = threading.RLock()
        self._depth = 0  # nesting of open transactions (atomic() groups several writes into one)
        self.path = path

    @classmethod
    def open(cls, path: Path) -> Store:
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA busy_timeout=5000")
        store = cls(connection, path)
        store._migrate()
        return store

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"state database {self.path} has schema {version}, newer than this bot ({SCHEMA_VERSION})"
            )
        if version < 1:
            # executescript commits on its own; the schema statements are idempotent.
            with self._lock:
                self._db.executescript(_SCHEMA + f"PRAGMA user_version={SCHEMA_VERSION};")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._depth:  # inside atomic(): the outer transaction commits (or rolls back) everything
                self._depth += 1
                try:
                    yield self._db
                finally:
                    self._depth -= 1
                return
            self._db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self._db
            except BaseException:
                self._depth = 0
                self._db.execute("ROLLBACK")
                raise
            self._depth = 0
            self._db.execute("COMMIT")

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Group several writes into one transaction: after a crash either all of them are on disk or none."""
        with self._transaction():
            yield

    # ------------------------------------------------------------------ meta

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row["value"])

    def set(self, key: str, value: Any) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value, sort_keys=True)),
            )

    def halt_state(self) -> HaltState | None:
        value = self.get("halt")
        if not value:
            return None
        return HaltState(reason=value["reason"], by=value["by"], at=_from_iso(value["at"]))

    def set_halt(self, reason: str, by: str, at: dt.datetime) -> None:
        self.set("halt", {"reason": reason, "by": by, "at": _iso(at)})

    def clear_halt(self) -> None:
        self.set("halt", None)

    def last_rebalance_opportunity(self) -> dt.datetime | None:
        value = self.get("last_rebalance_opportunity")
        return None if value is None else _from_iso(value)

    def set_last_rebalance_opportunity(self, at: dt.datetime) -> None:
        self.set("last_rebalance_opportunity", _iso(at))

    def realized_pnl(self) -> float:
        return float(self.get("hedge_realized_pnl", 0.0))

    def add_realized_pnl(self, amount: float) -> None:
        with self._lock:
            self.set("hedge_realized_pnl", self.realized_pnl() + amount)

    # ------------------------------------------------------------------ slots

    def layers(self) -> dict[str, Layer | None]:
        with self._lock:
            rows = self._db.execute("SELECT slot_id, layer FROM slots ORDER BY slot_id").fetchall()
        return {
            row["slot_id"]: None if row["layer"] is None else Layer.model_validate_json(row["layer"]) for row in rows
        }

    def set_layer(self, slot_id: str, layer: Layer | None) -> None:
        with self._transaction() as db:
            db.execute(
                _UPSERT_SLOT,
                (slot_id, None if layer is None else layer.model_dump_json()),
            )

    def incoming(self) -> dict[str, Layer]:
        """Layers bought by a roll whose old layer is not yet sold, by slot."""
        with self._lock:
            rows = self._db.execute("SELECT slot_id, incoming FROM slots WHERE incoming IS NOT NULL").fetchall()
        return {row["slot_id"]: Layer.model_validate_json(row["incoming"]) for row in rows}

    def set_incoming(self, slot_id: str, layer: Layer | None) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO slots(slot_id, incoming) VALUES (?, ?) "
                "ON CONFLICT(slot_id) DO UPDATE SET incoming = excluded.incoming",
                (slot_id, None if layer is None else layer.model_dump_json()),
            )

    def leftovers(self) -> dict[str, tuple[Layer, str]]:
        """Positions the bot owns outside any slot (an old layer a roll could not sell), by contract key."""
        with self._lock:
            rows = self._db.execute("SELECT contract_key, layer, reason FROM leftovers").fetchall()
        return {row["contract_key"]: (Layer.model_validate_json(row["layer"]), row["reason"]) for row in rows}

    def add_leftover(self, layer: Layer, reason: str) -> Layer:
        """Add a layer to the leftovers, merged with one already there for the same contract (two slots may
        have held the same contract); returns the leftover as it now stands."""
        key = layer.contract.key
        with self._lock:
            existing = self.leftovers().get(key)
            if existing is not None:
                held, earlier_reason = existing
                layer = held.plus(layer.quantity, layer.entry_price)
                reason = f"{earlier_reason}; {reason}"
            self.set_leftover(layer, key, reason)
        return layer

    def set_leftover(self, layer: Layer | None, contract_key: str, reason: str = "") -> None:
        with self._transaction() as db:
            if layer is None:
                db.execute("DELETE FROM leftovers WHERE contract_key = ?", (contract_key,))
            else:
                db.execute(
                    "INSERT INTO leftovers(contract_key, layer, reason) VALUES (?, ?, ?) ON CONFLICT(contract_key) "
                    "DO UPDATE SET layer = excluded.layer, reason = excluded.reason",
                    (contract_key, layer.model_dump_json(), reason),
                )

    def move_layer(self, from_slot: str, to_slot: str) -> Layer:
        """Relabel a layer (a migration), in one transaction; the target slot must be empty."""
        with self._transaction() as db:
            source = db.execute("SELECT layer FROM slots WHERE slot_id = ?", (from_slot,)).fetchone()
            if source is None or source["layer"] is None:
                raise ValueError(f"slot {from_slot} holds no layer to migrate")
            target = db.execute("SELECT layer FROM slots WHERE slot_id = ?", (to_slot,)).fetchone()
            if target is not None and target["layer"] is not None:
                raise ValueError(f"slot {to_slot} is not empty")
            db.execute(
                _UPSERT_SLOT,
                (to_slot, source["layer"]),
            )
            db.execute("UPDATE slots SET layer = NULL WHERE slot_id = ?", (from_slot,))
            db.execute(
                "UPDATE intents SET slot_id = ? WHERE slot_id = ? AND role = 'harvest' AND status IN (?, ?, ?, ?)",
                (to_slot, from_slot, "journaled", "sent", "working", "partial"),
            )
        return Layer.model_validate_json(source["layer"])

    # ------------------------------------------------------------------ intents

    def add_intent(self, intent: IntentRecord) -> None:
        row = self._intent_row(intent)
        with self._transaction() as db:
            db.execute(
                f"INSERT INTO intents({', '.join(_INTENT_COLUMNS)}) VALUES ({', '.join('?' for _ in _INTENT_COLUMNS)})",
                [row[column] for column in _INTENT_COLUMNS],
            )

    def update_intent(self, intent_id: str, at: dt.datetime, **changes: Any) -> IntentRecord:
        allowed = set(_INTENT_COLUMNS) - {"intent_id", "created_at"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"cannot update intent fields {sorted(unknown)}")
        if "status" in changes:
            changes["status"] = str(changes["status"])
        if "contract" in changes and isinstance(changes["contract"], OptionContract):
            changes["contract"] = changes["contract"].model_dump_json()
        changes["updated_at"] = _iso(at)
        assignments = ", ".join(f"{column} = ?" for column in changes)
        with self._transaction() as db:
            cursor = db.execute(f"UPDATE intents SET {assignments} WHERE intent_id = ?", [*changes.values(), intent_id])
            if cursor.rowcount != 1:
                raise KeyError(f"no intent {intent_id}")
        found = self.intent(intent_id)
        assert found is not None
        return found

    def intent(self, intent_id: str) -> IntentRecord | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM intents WHERE intent_id = ?", (intent_id,)).fetchone()
            if row is None:
                return None
            return self._intent_from(row)

    def intents(
        self, statuses: Iterable[IntentStatus] | None = None, slot_id: str | None = None, role: str | None = None
    ) -> list[IntentRecord]:
        clauses, values = [], []
        if statuses is not None:
            wanted = [str(s) for s in statuses]
            clauses.append(f"status IN ({', '.join('?' for _ in wanted)})")
            values.extend(wanted)
        if slot_id is not None:
            clauses.append("slot_id = ?")
            values.append(slot_id)
        if role is not None:
            clauses.append("role = ?")
            values.append(role)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            rows = self._db.execute(f"SELECT * FROM intents {where} ORDER BY created_at, intent_id", values).fetchall()
            return [self._intent_from(row) for row in rows]

    def intent_by_perm_id(self, perm_id: int) -> IntentRecord | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM intents WHERE perm_id = ?", (perm_id,)).fetchone()
            return None if row is None else self._intent_from(row)

    def _intent_row(self, intent: IntentRecord) -> dict[str, Any]:
        return {
            "intent_id": intent.intent_id,
            "cycle_id": intent.cycle_id,
            "created_at": _iso(intent.created_at),
            "updated_at": _iso(intent.updated_at or intent.created_at),
            "kind": intent.kind,
            "role": intent.role,
            "slot_id": intent.slot_id,
            "side": intent.side,
            "contract": None if intent.contract is None else intent.contract.model_dump_json(),
            "quantity": intent.quantity,
            "limit_start": intent.limit_start,
            "limit_bound": intent.limit_bound,
            "limit_price": intent.limit_price,
            "tif": intent.tif,
            "status": str(intent.status),
            "order_id": intent.order_id,
            "perm_id": intent.perm_id,
            "client_id": intent.client_id,
            "parent_intent": intent.parent_intent,
            "harvest_rung": intent.harvest_rung,
            "note": intent.note,
        }

    def _intent_from(self, row: sqlite3.Row) -> IntentRecord:
        fills = {
            f["exec_id"]: (f["quantity"], f["price"])
            for f in self._db.execute(
                "SELECT exec_id, quantity, price FROM fills WHERE intent_id = ?", (row["intent_id"],)
            ).fetchall()
        }
        return IntentRecord(
            intent_id=row["intent_id"],
            cycle_id=row["cycle_id"],
            created_at=_from_iso(row["created_at"]),
            updated_at=_from_iso(row["updated_at"]),
            kind=row["kind"],
            role=row["role"],
            slot_id=row["slot_id"],
            side=row["side"],
            contract=None if row["contract"] is None else OptionContract.model_validate_json(row["contract"]),
            quantity=row["quantity"],
            limit_start=row["limit_start"],
            limit_bound=row["limit_bound"],
            limit_price=row["limit_price"],
            tif=row["tif"],
            status=IntentStatus(row["status"]),
            order_id=row["order_id"],
            perm_id=row["perm_id"],
            client_id=row["client_id"],
            parent_intent=row["parent_intent"],
            harvest_rung=row["harvest_rung"],
            note=row["note"],
            fills=fills,
        )

    # ------------------------------------------------------------------ fills

    def add_fill(self, fill: FillRecord) -> bool:
        """Record an execution; False when its execution id was already recorded (a duplicate report)."""
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO fills(exec_id, intent_id, order_id, perm_id, contract_key, side, quantity, "
                "price, time, commission) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    fill.exec_id,
                    fill.intent_id,
                    fill.order_id,
                    fill.perm_id,
                    fill.contract_key,
                    fill.side,
                    fill.quantity,
                    fill.price,
                    _iso(fill.time),
                    fill.commission,
                ),
            )
            return cursor.rowcount == 1

    def set_commission(self, exec_id: str, commission: float) -> None:
        with self._transaction() as db:
            db.execute("UPDATE fills SET commission = ? WHERE exec_id = ?", (commission, exec_id))

    def fills(self, intent_id: str | None = None) -> list[FillRecord]:
        query = "SELECT * FROM fills" + (" WHERE intent_id = ?" if intent_id else "") + " ORDER BY time, exec_id"
        with self._lock:
            rows = self._db.execute(query, (intent_id,) if intent_id else ()).fetchall()
        return [
            FillRecord(
                exec_id=row["exec_id"],
                intent_id=row["intent_id"],
                contract_key=row["contract_key"],
                side=row["side"],
                quantity=row["quantity"],
                price=row["price"],
                time=_from_iso(row["time"]),
                order_id=row["order_id"],
                perm_id=row["perm_id"],
                commission=row["commission"],
            )
            for row in rows
        ]

    def has_fill(self, exec_id: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM fills WHERE exec_id = ?", (exec_id,)).fetchone() is not None

    # ------------------------------------------------------------------ rebalances

    def add_rebalance(
        self, at: dt.datetime, cycle_id: str | None, forced: bool, operator: str | None, reason: str | None
    ) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO rebalances(at, cycle_id, forced, operator, reason) VALUES (?, ?, ?, ?, ?)",
                (_iso(at), cycle_id, int(forced), operator, reason),
            )

    def remove_rebalance(self, at: dt.datetime) -> None:
        """Withdraw a rebalance recorded before its orders went out, when none was sent after all."""
        with self._transaction() as db:
            db.execute("DELETE FROM rebalances WHERE at = ?", (_iso(at),))

    def rebalance_log(self) -> list[tuple[dt.datetime, bool, str | None, str | None]]:
        """Every recorded rebalance: (time, forced, operator, reason), oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT at, forced, operator, reason FROM rebalances ORDER BY at").fetchall()
        return [(_from_iso(row["at"]), bool(row["forced"]), row["operator"], row["reason"]) for row in rows]

    def rebalances_since(self, since: dt.datetime) -> list[dt.datetime]:
        with self._lock:
            rows = self._db.execute("SELECT at FROM rebalances WHERE at >= ? ORDER BY at", (_iso(since),)).fetchall()
        return [_from_iso(row["at"]) for row in rows]
