"""Readable terminal rendering of a Plan: the evaluation, signals, money, each slot, the actions."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from strategies.alvh.models import Plan


def _number(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def render_plan(plan: Plan, console: Console | None = None) -> None:
    console = console or Console()
    record = plan.record
    evaluation = record.evaluation
    console.print(f"[bold]Plan at {plan.as_of.isoformat()}[/bold]: {record.summary}")
    console.print(
        f"trigger {evaluation.trigger}; {evaluation.trading_window_reason}; {evaluation.rebalance_rule}; "
        f"next scheduled rebalance {evaluation.next_scheduled_rebalance}"
    )
    signals = record.signals
    console.print(
        f"signals: VX1 {_number(signals.vx1)} VX2 {_number(signals.vx2)} contango "
        f"{'-' if signals.contango is None else f'{signals.contango:.2%}'}; backwardation {signals.backwardation}; "
        f"VX trend up {signals.vx_trend_up}; SPX RSI {_number(signals.spx_rsi, 1)}; "
        f"events ahead {', '.join(signals.events_ahead) or 'none'}"
    )
    console.print(f"opens: {signals.opens_rule}")
    budget, coverage = record.budget, record.coverage
    console.print(
        f"credit ${budget.credit:,.2f} ({budget.credit_source}); target ${budget.target:,.2f}; "
        f"premium at risk ${budget.premium_at_risk_before:,.2f} -> ${budget.premium_at_risk_after:,.2f} "
        f"of cap ${budget.cap:,.2f}; coverage {_number(coverage.coverage_before, 3)} -> "
        f"{_number(coverage.coverage_after, 3)} (max {coverage.max_coverage:g})"
    )
    slots = Table(title="Slots", show_lines=False)
    for column in ("slot", "target", "before", "outcome", "why"):
        slots.add_column(column, overflow="fold")
    for slot in record.slots:
        slots.add_row(slot.slot_id, f"{slot.delta_target:.2f}", slot.state_before, slot.outcome, slot.reason)
    console.print(slots)
    if plan.actions:
        actions = Table(title="Actions (in order)")
        for column in ("intent id", "kind", "slot", "contract", "qty", "limit", "after"):
            actions.add_column(column, overflow="fold")
        for action in plan.actions:
            limit = (
                ""
                if action.limit_start is None
                else f"{action.limit_start:.2f}..{action.limit_bound:.2f}"
                if action.limit_bound != action.limit_start
                else f"{action.limit_start:.2f}"
            )
            slot = action.slot_id + (f" -> {action.to_slot_id}" if action.to_slot_id else "")
            actions.add_row(
                action.intent_id,
                f"{action.kind} ({action.role})",
                slot,
                action.contract.key if action.contract else "",
                str(action.quantity),
                limit,
                ", ".join(action.after),
            )
        console.print(actions)
    for condor in record.condors:
        console.print(
            f"condor {condor.trading_class} {condor.expiry} {condor.long_put:g}/{condor.short_put:g}/"
            f"{condor.short_call:g}/{condor.long_call:g} x{condor.quantity}: credit ${condor.credit:,.2f}, "
            f"break-evens {condor.lower_breakeven:.2f}/{condor.upper_breakeven:.2f}"
            + (f" [red]{condor.alert}[/red]" if condor.alert else "")
        )
    for leg in record.unmatched_legs:
        console.print(f"[yellow]unmatched leg[/yellow] {leg}")
    for alert in record.alerts:
        console.print(f"[red]alert[/red] {alert}")
    for refusal in record.refusals:
        console.print(f"[yellow]refused[/yellow] {refusal}")
