"""Realistic journals for the journal tests, written through the journal's own API.

Each evaluation is what the engine will write: cycle start, snapshot (the planner's full inputs as a
blob), decision (the real planner's plan on the recorded inputs), a risk gate, then for some
actions intent -> sent -> status -> fill -> status, plus operator, harvest, reconcile and alert
records between evaluations.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from bot.examples import EXAMPLE_AS_OF, MarketParameters, example_book, example_snapshot
from bot.journal import Journal, Record
from bot.journal.writers import strategy_config_hash
from strategies.alvh.config import StrategyConfig
from strategies.alvh.models import Book, MarketSnapshot
from strategies.alvh.planner import plan

ACCOUNT = "DU1234567"


class StepClock:
    """Simulated time: every reading advances by ``step``; ``jump`` moves to a later moment."""

    def __init__(self, start: dt.datetime, step: dt.timedelta = dt.timedelta(milliseconds=250)) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> dt.datetime:
        self.now += self.step
        return self.now

    def jump(self, moment: dt.datetime) -> None:
        self.now = max(self.now, moment)


def open_journal(
    directory: Path,
    clock: StepClock,
    *,
    group_commit: bool = False,
    account: str | None = ACCOUNT,
    config: StrategyConfig | None = None,
) -> Journal:
    return Journal.open(
        directory,
        clock=clock,
        code_version="0.1.0+gtest",
        config_hash=strategy_config_hash(config or StrategyConfig()),
        mode="paper",
        account=account,
        group_commit=group_commit,
    )


@lru_cache(maxsize=16)
def market(as_of: dt.datetime, vix: float = 16.0) -> MarketSnapshot:
    return example_snapshot(as_of=as_of, params=MarketParameters(vix=vix, long_run_level=20.0), strikes_per_expiry=14)


@lru_cache(maxsize=16)
def book_for(as_of: dt.datetime, held_slots: int, vix: float = 16.0) -> Book:
    return example_book(market(as_of, vix), held_slots=held_slots)


@dataclass
class Fabricated:
    records: list[Record] = field(default_factory=list)
    decisions: list[Record] = field(default_factory=list)
    snapshot_hashes: list[str] = field(default_factory=list)
    intents: list[str] = field(default_factory=list)
    order_ids: list[int] = field(default_factory=list)
    perm_ids: list[int] = field(default_factory=list)


def evaluation_times(count: int, start: dt.datetime = EXAMPLE_AS_OF) -> list[dt.datetime]:
    """Weekly Monday evaluations from the example's Monday (all regular sessions)."""
    return [start + dt.timedelta(weeks=week) for week in range(count)]


def fabricate(
    journal: Journal,
    clock: StepClock,
    *,
    evaluations: int = 3,
    config: StrategyConfig | None = None,
    start: dt.datetime = EXAMPLE_AS_OF,
    held_slots: tuple[int, ...] = (6, 3, 0, 8),
    vix_levels: tuple[float, ...] = (16.0, 18.0, 24.0),
) -> Fabricated:
    config = config or StrategyConfig()
    out = Fabricated()
    order_id = 100
    for number, as_of in enumerate(evaluation_times(evaluations, start)):
        clock.jump(as_of)
        vix = vix_levels[number % len(vix_levels)]
        snapshot = market(as_of, vix)
        book = book_for(as_of, held_slots[number % len(held_slots)], vix)
        with journal.cycle(trigger="scheduled", scheduled_for=as_of.isoformat()):
            recorded = journal.record_snapshot(snapshot, book, config)
            out.records.append(recorded.record)
            out.snapshot_hashes.append(recorded.snapshot_hash)
            planned = plan(recorded.snapshot, recorded.book, recorded.config)
            decision = journal.record_decision(planned, recorded.snapshot_hash)
            out.records.append(decision)
            out.decisions.append(decision)
            orders = [action for action in planned.actions if action.kind in ("buy", "sell")][:3]
            out.records.append(
                journal.record_gate(
                    "premium_cap",
                    True,
                    "premium at risk within the cap",
                    intent_ids=[action.intent_id for action in orders],
                    details={"premium_at_risk_after": planned.record.budget.premium_at_risk_after},
                )
            )
            for action in orders:
                assert action.contract is not None and action.side is not None
                order_id += 1
                perm_id = 900_000 + order_id
                price = action.limit_start or 0.05
                out.intents.append(action.intent_id)
                out.order_ids.append(order_id)
                out.perm_ids.append(perm_id)
                out.records.append(journal.record_intent(action, decision_seq=decision.seq))
                out.records.append(
                    journal.record_sent(
                        action.intent_id,
                        order_id,
                        slot_id=action.slot_id,
                        side=action.side,
                        quantity=action.quantity,
                        limit_price=price,
                        contract=action.contract.key,
                        tif=action.tif or "DAY",
                        client_id=17,
                    )
                )
                out.records.append(
                    journal.record_status(
                        action.intent_id,
                        order_id,
                        "Submitted",
                        perm_id=perm_id,
                        slot_id=action.slot_id,
                        remaining=action.quantity,
                        limit_price=price,
                    )
                )
                out.records.append(
                    journal.record_fill(
                        action.intent_id,
                        exec_id=f"0000e{order_id}.01",
                        order_id=order_id,
                        perm_id=perm_id,
                        slot_id=action.slot_id,
                        contract=action.contract.key,
                        side="BOT" if action.side == "BUY" else "SLD",
                        quantity=action.quantity,
                        price=price,
                        exec_time=clock.now,
                        commission=1.05 * action.quantity,
                        role=action.role,
                    )
                )
                out.records.append(
                    journal.record_status(
                        action.intent_id,
                        order_id,
                        "Filled",
                        perm_id=perm_id,
                        slot_id=action.slot_id,
                        filled=action.quantity,
                        avg_fill_price=price,
                    )
                )
        # between evaluations: a harvest ladder rung fills, an operator asks for something
        clock.jump(as_of + dt.timedelta(days=2, hours=3))
        out.records.append(
            journal.record_fill(
                f"alvh-example-near-1-hv{number + 1}",
                exec_id=f"0000h{number}.01",
                order_id=5000 + number,
                perm_id=800_000 + number,
                slot_id="near-1",
                contract="VIX VIX 20261216 C 25",
                side="SLD",
                quantity=1,
                price=4.2,
                exec_time=clock.now,
                role="harvest",
                harvest=True,
            )
        )
        if number == 1:
            out.records.append(journal.record_operator("halt", reason="checking fills", os_user="alice"))
            out.records.append(journal.record_halt("checking fills", source="control", operator="alice"))
            out.records.append(journal.record_resume("done", source="control", operator="alice"))
            out.records.append(journal.record_alert("coverage_low", "coverage 0.15 below 0.20", slot_ids=["near-2"]))
            out.records.append(journal.record_reconcile("clean", "3 intents resolved against executions"))
    return out
