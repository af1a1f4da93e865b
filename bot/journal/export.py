"""``alvh audit export``: the journal as CSV rows, or as one self-contained HTML report.

The HTML file embeds everything (CSS, and the chart as a PNG data URI) so that it can be mailed or
archived on its own: a header with the journal's verification status, a chart of coverage and
premium at risk after each decision, and a timeline of the evaluations with their decisions,
gates, orders, statuses and fills.
"""

from __future__ import annotations

import base64
import csv
import html
import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TextIO

from bot.journal.encoding import KINDS, Record
from bot.journal.summary import decision_metrics, flat_fields, summarize

CSV_COLUMNS = (
    "seq",
    "ts",
    "kind",
    "cycle_id",
    "slots",
    "intent_ids",
    "order_id",
    "perm_id",
    "side",
    "quantity",
    "price",
    "status",
    "coverage_after",
    "premium_at_risk_after",
    "premium_cap",
    "summary",
    "mode",
    "account",
    "config_hash",
    "code_version",
    "hash",
)

# what the HTML timeline shows: every kind but cycles and snapshots, which its cycle headers summarise
TIMELINE_KINDS = frozenset(KINDS) - {"cycle", "snapshot"}


def _joined(values: list[str | int]) -> str:
    return " ".join(str(value) for value in values)


def _few(values: list[str | int], plural: str) -> str:
    return _joined(values) if len(values) <= 1 else f"{len(values)} {plural}"


def csv_row(record: Record) -> dict[str, Any]:
    fields = flat_fields(record)
    order_ids = record.ref_values("order_id")
    perm_ids = record.ref_values("perm_id")
    return {
        "seq": record.seq,
        "ts": record.ts,
        "kind": record.kind,
        "cycle_id": record.cycle_id or "",
        "slots": _joined(record.ref_values("slot")),
        "intent_ids": _joined(record.ref_values("intent")),
        "order_id": _joined(order_ids),
        "perm_id": _joined(perm_ids),
        "side": fields["side"],
        "quantity": fields["quantity"],
        "price": fields["price"],
        "status": fields["status"],
        "coverage_after": fields["coverage_after"],
        "premium_at_risk_after": fields["premium_at_risk_after"],
        "premium_cap": fields["premium_cap"],
        "summary": summarize(record),
        "mode": record.mode,
        "account": record.account or "",
        "config_hash": record.config_hash,
        "code_version": record.code_version,
        "hash": record.hash,
    }


def write_csv(records: Iterable[Record], out: TextIO) -> int:
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="raise", lineterminator="\n")
    writer.writeheader()
    count = 0
    for record in records:
        writer.writerow({key: "" if value is None else value for key, value in csv_row(record).items()})
        count += 1
    return count


# --------------------------------------------------------------------------------------------------
# HTML


@dataclass(frozen=True)
class ReportHeader:
    journal: str
    verification: str  # one line: "chain intact ..." or the first problem
    verified_ok: bool
    generated_from: str  # filters applied


@dataclass(frozen=True)
class MetricPoint:
    ts: str
    coverage_after: float | None
    premium_at_risk_after: float | None
    premium_cap: float | None


def metric_points(records: Iterable[Record]) -> list[MetricPoint]:
    points = []
    for record in records:
        if record.kind != "decision":
            continue
        metrics = decision_metrics(record)
        points.append(
            MetricPoint(record.ts, metrics["coverage_after"], metrics["premium_at_risk_after"], metrics["premium_cap"])
        )
    return points


def chart_png(points: list[MetricPoint]) -> bytes:
    """Coverage (left axis) and premium at risk with its cap (right axis, dollars) over time."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    from bot.journal.encoding import parse_ts

    figure, coverage_axis = plt.subplots(figsize=(10, 3.8), dpi=100)
    try:
        if not points:
            coverage_axis.text(0.5, 0.5, "no decisions in this range", ha="center", va="center")
            coverage_axis.set_axis_off()
        else:
            times = mdates.date2num([parse_ts(point.ts) for point in points])  # type: ignore[no-untyped-call]
            coverage = [point.coverage_after if point.coverage_after is not None else float("nan") for point in points]
            premium = [
                point.premium_at_risk_after if point.premium_at_risk_after is not None else float("nan")
                for point in points
            ]
            cap = [point.premium_cap if point.premium_cap is not None else float("nan") for point in points]
            # a decision's values hold until the next decision: steps, with a dot at each decision
            coverage_axis.plot(
                times, coverage, drawstyle="steps-post", marker="o", markersize=3, color="#1f6feb", label="coverage"
            )
            coverage_axis.set_ylabel("coverage")
            coverage_axis.set_ylim(bottom=0.0)
            premium_axis = coverage_axis.twinx()
            premium_axis.plot(
                times,
                premium,
                drawstyle="steps-post",
                marker="o",
                markersize=3,
                color="#d1242f",
                label="premium at risk",
            )
            premium_axis.plot(
                times, cap, drawstyle="steps-post", color="#d1242f", linestyle=":", label="premium cap (hard)"
            )
            premium_axis.set_ylabel("premium at risk (\\$)")
            premium_axis.set_ylim(bottom=0.0)
            lines = coverage_axis.get_lines() + premium_axis.get_lines()
            coverage_axis.legend(
                lines,
                [str(line.get_label()) for line in lines],
                loc="upper center",
                bbox_to_anchor=(0.5, -0.12),
                ncol=3,
                fontsize=8,
                frameon=False,
            )
            locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
            coverage_axis.xaxis.set_major_locator(locator)
            coverage_axis.xaxis_date()
            coverage_axis.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
            coverage_axis.grid(alpha=0.3)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", metadata={"Software": None})
        return buffer.getvalue()
    finally:
        plt.close(figure)


_CSS = """
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #1f2328; }
h1 { font-size: 20px; margin: 0 0 4px; }
.meta { color: #59636e; margin-bottom: 16px; }
.ok { color: #1a7f37; font-weight: 600; } .bad { color: #d1242f; font-weight: 600; }
img { max-width: 100%; border: 1px solid #d1d9e0; }
table { border-collapse: collapse; width: 100%; margin-top: 16px; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #eaeef2; vertical-align: top; }
th { background: #f6f8fa; position: sticky; top: 0; }
tr.cycle td { background: #f6f8fa; font-weight: 600; border-top: 2px solid #d1d9e0; }
td.seq, td.ts { white-space: nowrap; font-family: ui-monospace, monospace; font-size: 12px; }
.kind { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 12px; background: #eaeef2; }
.k-decision { background: #ddf4ff; } .k-intent, .k-sent { background: #fff8c5; }
.k-fill, .k-harvest_fill { background: #dafbe1; } .k-gate { background: #fbefff; }
.k-error, .k-halt, .k-alert { background: #ffebe9; } .k-status { background: #eaeef2; }
"""


def render_html(records: list[Record], header: ReportHeader) -> str:
    points = metric_points(records)
    chart = base64.b64encode(chart_png(points)).decode("ascii")
    counts: dict[str, int] = {}
    for record in records:
        counts[record.kind] = counts.get(record.kind, 0) + 1
    first = records[0].ts if records else "-"
    last = records[-1].ts if records else "-"
    status_class = "ok" if header.verified_ok else "bad"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>alvh decision journal</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>alvh decision journal</h1>",
        f'<div class="meta">{html.escape(header.journal)} · {len(records)} records from {html.escape(first)} '
        f"to {html.escape(last)} · {html.escape(header.generated_from)}</div>",
        f'<div>Verification: <span class="{status_class}">{html.escape(header.verification)}</span></div>',
        '<div class="meta">'
        + ", ".join(f"{html.escape(kind)}: {count}" for kind, count in sorted(counts.items()))
        + "</div>",
        "<h2>Coverage and premium at risk</h2>",
        '<div class="meta">After each decision: coverage = hedge dollars per VIX point ÷ condor dollars per '
        "vol point; premium at risk = cost of held layers + limit value of working buys, against its cap.</div>",
        f'<img alt="coverage and premium at risk after each decision" src="data:image/png;base64,{chart}">',
        "<h2>Timeline</h2>",
        "<table><thead><tr><th>seq</th><th>time (UTC)</th><th>kind</th><th>slot</th><th>intent</th>"
        "<th>what</th></tr></thead><tbody>",
    ]
    snapshots: dict[str, str] = {}
    for record in records:
        if record.kind == "snapshot" and record.cycle_id:
            snapshots[record.cycle_id] = summarize(record)
    current_cycle: str | None = None
    for record in records:
        if (
            record.cycle_id != current_cycle
            and record.cycle_id is not None
            and record.kind in TIMELINE_KINDS | {"cycle"}
        ):
            current_cycle = record.cycle_id
            market = snapshots.get(current_cycle, "")
            parts.append(
                f'<tr class="cycle"><td colspan="6">evaluation {html.escape(current_cycle)}'
                + (f" · {html.escape(market)}" if market else "")
                + "</td></tr>"
            )
        elif record.cycle_id is None and record.kind in TIMELINE_KINDS:
            current_cycle = None
        if record.kind not in TIMELINE_KINDS:
            continue
        parts.append(
            "<tr>"
            f'<td class="seq">{record.seq}</td>'
            f'<td class="ts">{html.escape(record.ts[:19].replace("T", " "))}</td>'
            f'<td><span class="kind k-{html.escape(record.kind)}">{html.escape(record.kind)}</span></td>'
            f"<td>{html.escape(_joined(record.ref_values('slot')))}</td>"
            f"<td>{html.escape(_few(record.ref_values('intent'), 'intents'))}</td>"
            f"<td>{html.escape(summarize(record))}</td>"
            "</tr>"
        )
    parts.append("</tbody></table></body></html>")
    return "\n".join(parts) + "\n"
