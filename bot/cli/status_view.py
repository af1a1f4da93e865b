"""Terminal rendering of `alvh status`."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def render_status(data: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    link = data.get("connection", {})
    console.print(
        f"[bold]alvh[/bold] clock {data.get('clock_time')}  connected={link.get('connected')} "
        f"account={link.get('account')} mode={link.get('mode')} md_type={link.get('market_data_type')} "
        f"lines={link.get('market_data_lines')} reconnects={link.get('reconnects')}"
        + (" [yellow]DRY RUN[/yellow]" if data.get("dry_run") else "")
    )
    for key in ("read_only_reason", "trading_blocked", "market_data_fallback"):
        if link.get(key):
            console.print(f"[yellow]{key}[/yellow]: {link[key]}")
    halted = data.get("halted")
    console.print(
        f"[red]HALTED[/red] by {halted['by']} at {halted['at']}: {halted['reason']}" if halted else "not halted"
    )
    table = Table(title="Slots")
    for column in ("slot", "contract", "qty", "entry", "mark", "P&L", "DTE", "state", "harvest orders"):
        table.add_column(column)
    for slot in data.get("slots", []):
        table.add_row(
            slot["slot"],
            _fmt(slot["contract"]),
            str(slot["quantity"]),
            _fmt(slot["entry"]),
            _fmt(slot["mark"]),
            _fmt(slot["pnl"]),
            _fmt(slot["dte"]),
            slot["state"],
            ", ".join(slot["harvest_orders"]) or "-",
        )
    console.print(table)
    console.print(
        f"coverage {_fmt(data.get('coverage'), 3)}; premium at risk ${_fmt(data.get('premium_at_risk'))} of cap "
        f"${_fmt(data.get('premium_cap'))} (credit ${_fmt(data.get('credit'))}); realised P&L "
        f"${_fmt(data.get('realized_pnl'))}"
    )
    console.print(
        f"rebalances this week {data.get('rebalances_this_week')} of {data.get('max_rebalances_per_week')}; "
        f"next evaluation {data.get('next_evaluation')}"
    )
    for leftover in data.get("leftovers", []):
        console.print(f"[yellow]leftover[/yellow] {leftover}")
    for decision in data.get("recent_decisions", []):
        console.print(f"  {decision['cycle']} [{decision['trigger']}] {decision['summary']}")
