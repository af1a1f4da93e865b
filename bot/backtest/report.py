"""The HTML report (one self-contained page) and ``details.json``.

Every sentence that states a result is generated from the run's numbers; the assumptions section is
built from the settings and calibrated parameters the run used.
"""

from __future__ import annotations

import base64
import html
import statistics
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bot.backtest.episodes import EpisodeFigures
from bot.backtest.variants import DESCRIPTIONS

if TYPE_CHECKING:
    from bot.backtest.pipeline import BacktestOutcome

MATERIAL_DIFFERENCE = 0.05  # offset-ratio points below which two variants are "the same"
PLANNER_VARIANTS = ("alvh_weekly", "alvh_daily", "alvh_no_harvest")


# --------------------------------------------------------------------------------------------------
# Words from numbers


def offset_verdict(ratio: float | None) -> str:
    if ratio is None:
        return "the condor book did not lose, so there was nothing to offset"
    if ratio >= 1.0:
        return "the hedge more than paid for the condor loss"
    if ratio >= 0.5:
        return "the hedge offset more than half of the condor loss"
    if ratio >= 0.2:
        return "the hedge offset part of the condor loss"
    if ratio > 0.0:
        return "the hedge offset only a small part of the condor loss"
    return "the hedge did not offset the loss (it lost money too)"


def compare_phrase(other: float | None, base: float | None, subject: str) -> str:
    """``subject`` (e.g. "rebalancing every day") compared with the weekly hedge's offset."""
    if other is None or base is None:
        return f"{subject.capitalize()}: no comparison (no condor loss)"
    difference = other - base
    if abs(difference) < MATERIAL_DIFFERENCE:
        return f"{subject.capitalize()} made no material difference ({_pct(other)} vs {_pct(base)})"
    verdict = "did better" if difference > 0 else "did worse"
    return f"{subject.capitalize()} {verdict}: {_pct(other)} vs {_pct(base)} ({_points(difference)} points)"


def _points(difference: float) -> str:
    value = round(difference * 100.0)
    return "0" if value == 0 else f"{value:+d}"


def _pct(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.0%}"


def _money(value: float | None) -> str:
    if value is None:
        return "n/a"
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.0f}"


def episode_answer(
    number: int, row: dict[str, Any], figures: dict[str, EpisodeFigures], trough: str, truncated: bool
) -> str:
    """The plain-words answer for one episode, from its figures."""
    base_name = "alvh_weekly" if "alvh_weekly" in figures else next(iter(figures))
    base = figures[base_name]
    head = (
        f"Episode {number} ({row['start']} to the VIX peak on {row['peak_date']}, VIX {row['vix_start']:.1f} to "
        f"{row['vix_peak']:.1f}): "
    )
    if base.offset_ratio is None:
        return head + (
            "the condor book's mark never fell below its level at the start within the window, so there was no "
            "loss to offset."
        )
    parts = [head + f"the condor book lost {_money(base.condor_loss)} by {trough}."]
    if base_name == "alvh_weekly":
        parts.append(
            f"The weekly layered hedge gained {_money(base.hedge_gain)} over the same days, an offset of "
            f"{_pct(base.offset_ratio)}: {offset_verdict(base.offset_ratio)}."
        )
        if "alvh_daily" in figures:
            parts.append(
                compare_phrase(figures["alvh_daily"].offset_ratio, base.offset_ratio, "rebalancing every day") + "."
            )
        if "alvh_no_harvest" in figures:
            parts.append(
                compare_phrase(
                    figures["alvh_no_harvest"].offset_ratio, base.offset_ratio, "dropping the harvest ladders"
                )
                + "."
            )
        if "vxth_style" in figures:
            parts.append(
                compare_phrase(figures["vxth_style"].offset_ratio, base.offset_ratio, "the VXTH-style hedge") + "."
            )
    if truncated:
        parts.append("The data end before 20 trading days after the start: the trough may come later.")
    return " ".join(parts)


def overall_answer(summary: dict[str, Any]) -> str:
    episodes = summary["episodes"]
    if not episodes:
        return "No spike episode in this period, so the question cannot be answered from it."
    ratios: dict[str, list[float]] = {}
    for row in episodes:
        for name, values in row["variants"].items():
            if values["offset_ratio"] is not None:
                ratios.setdefault(name, []).append(values["offset_ratio"])
    if "alvh_weekly" not in ratios:
        return "The weekly ALVH variant was not run, so the question is not answered here."
    weekly = ratios["alvh_weekly"]
    median_weekly = statistics.median(weekly)
    offset_half = sum(1 for r in weekly if r >= 0.5)
    if median_weekly >= 0.8:
        verdict = "Yes, largely"
    elif median_weekly >= 0.5:
        verdict = "Partly"
    else:
        verdict = "No, only a small part"
    text = [
        f"{verdict}: over {len(weekly)} spike episodes with a condor loss, the weekly layered hedge offset a median "
        f"{median_weekly:.0%} of the loss (from {min(weekly):.0%} to {max(weekly):.0%}); it offset at least half "
        f"in {offset_half} of them."
    ]
    if "alvh_daily" in ratios and len(ratios["alvh_daily"]) == len(weekly):
        differences = [d - w for d, w in zip(ratios["alvh_daily"], weekly, strict=True)]
        median_difference = statistics.median(differences)
        if abs(median_difference) < MATERIAL_DIFFERENCE:
            text.append(
                f"Daily forced rebalancing (the proxy for intraday tweaks) changed the offset by a median "
                f"{_points(median_difference)} points: tweaking more often would not have made the hedge work better."
            )
        else:
            direction = "improved" if median_difference > 0 else "reduced"
            text.append(
                f"Daily forced rebalancing (the proxy for intraday tweaks) {direction} the offset by a median "
                f"{_points(median_difference)} points."
            )
    if "alvh_no_harvest" in ratios and len(ratios["alvh_no_harvest"]) == len(weekly):
        difference = statistics.median(n - w for n, w in zip(ratios["alvh_no_harvest"], weekly, strict=True))
        text.append(f"Without the harvest ladders the offset moved by a median {_points(difference)} points.")
    if "vxth_style" in ratios and len(ratios["vxth_style"]) == len(weekly):
        vxth_median = statistics.median(ratios["vxth_style"])
        text.append(f"The VXTH-style hedge offset a median {vxth_median:.0%}.")
    variants = summary["variants"]
    if "alvh_weekly" in variants and "unhedged" in variants:
        weekly_total = variants["alvh_weekly"]
        text.append(
            f"Over the whole period the weekly hedge cost {weekly_total['hedge_cost_pct_of_credit']:.1f} % of the "
            f"condor credit in premium and returned a net {weekly_total['hedge_net_pct_of_credit']:+.1f} % of it; "
            f"the maximum drawdown was {_money(weekly_total['max_drawdown'])} against "
            f"{_money(variants['unhedged']['max_drawdown'])} unhedged."
        )
    return " ".join(text)


# --------------------------------------------------------------------------------------------------
# Assumptions


def assumptions(outcome: BacktestOutcome) -> list[tuple[str, str]]:
    settings = outcome.request.settings
    params = outcome.prepared.params
    condors = settings.condors
    vol = settings.spx_vol
    options = settings.vix_options
    strategy = outcome.request.strategy
    evaluation = settings.evaluation
    ratios = ", ".join(f"{t:g} d: {r:.3f}" for t, r in zip(params.tenor_days, params.atm_ratio, strict=True))
    beta = ", ".join(f"{p.dte} d: {p.beta:g}" for p in strategy.coverage.beta_table)
    return [
        (
            "Evaluation",
            f"One evaluation per trading day of the {strategy.schedule.calendar} calendar at "
            f"{evaluation.time:%H:%M} New York ({evaluation.minutes_before_early_close} minutes before the close on "
            "half days), priced with that day's closes: VIX close, SPX close, VX settlements (the 30-45 minutes "
            "between the evaluation and the close are the one approximation; no later day is ever used). "
            "Histories given to the planner hold completed closes of earlier days only.",
        ),
        (
            "Planner calls",
            f"Call policy '{evaluation.call_policy}': the planner runs on days it can act - a rebalance is allowed "
            "(the weekly opportunity with the cap unused; every day for the forced daily variant) or a harvest "
            "ladder needs upkeep (the day after a buy, after a partial harvest) - using the planner's own schedule "
            "rules; on other days it could only record 'no action'. A test checks that calling it every day gives "
            "identical trades and equity.",
        ),
        (
            "VIX futures",
            "Monthly VX settlements from VX_term_structure.csv; the future for any other expiry (weeklies) is "
            "linear in DTE through spot VIX at 0 days and the monthly settlements. Only monthly futures are in "
            "the planner's snapshot (weekly VX futures are not in the data).",
        ),
        (
            "VIX option listing",
            "Monthly expiries: the Wednesday 30 days before the next month's third Friday (holiday-adjusted; the "
            f"rule matches every expiry in the VX file), {options.monthly_listing_count} listed at a time. Weekly "
            f"(VIXW) expiries on the other Wednesdays, only from {options.weeklies_from} and at most "
            f"{options.weekly_listing_days} days ahead. Strikes: 1-point steps to 30, 2.5 to 50, 5 to 100, 10 "
            f"beyond. The snapshot lists expiries inside a buy window plus held ones, strikes with model delta "
            f"{options.min_delta:g}-{options.max_delta:g} plus held strikes.",
        ),
        (
            "VIX option prices",
            "Black-76 on the same-expiry future, no discounting. ATM implied vol = ratio(tenor) x (v_ref + "
            f"(VVIX/100 - v_ref) x m(tenor)) with v_ref = {params.vvix_reference:.4f} (the calibration day's VVIX), "
            f"ratio {ratios} (linear between, flat outside), m = 1 up to 30 days and (30/DTE)^"
            f"{params.mean_reversion_power:g} beyond (vol of vol mean-reverts; an assumption, one chain cannot "
            f"calibrate it). Call skew: IV = ATM x max({params.min_smile:g}, 1 + {params.skew_max_lift:.3f} "
            f"tanh(y / {params.skew_saturation:.3f})), y = ln(K/F) / ((DTE/30)^{params.skew_tenor_power:.3f} x "
            "ATM/ATM_ref): the smile at most doubles the ATM vol and flattens when vol is high. "
            f"Source: {params.source}; the parameters are fitted once and used for every year (a model "
            "assumption, nothing a decision could trade on). VVIX missing on a day: the last value up to "
            f"{options.vvix_max_stale_days} trading days old, else 81.8 + 0.385 x VIX (the 2007-2019 least-squares "
            "line). Quotes carry the model's delta, vega and IV as IB's model greeks would.",
        ),
        (
            "VIX bid/ask and costs",
            f"Full spread = {params.spread_base_monthly:.4f} + {params.spread_slope_monthly:.4f} x price for "
            f"monthlies, {params.spread_base_weekly:.4f} + {params.spread_slope_weekly:.4f} x price for weeklies "
            "(fitted to the chain's 15:45 quotes), bid rounded down and ask up to the tick (0.05 below $3, 0.10 "
            f"from $3); a bid under 0.05 is no bid. Commission ${options.commission_per_contract:.2f} per contract "
            "(IB commission plus exchange fees), none at cash settlement.",
        ),
        (
            "Fills",
            "Actions run in plan order, each only after its 'after' dependencies completed. A buy fills at its "
            "limit bound (the ask the planner saw) when the modelled ask is at or below it; a sell fills at its "
            "limit bound (the bid) when the modelled bid is at or above it and positive: the whole spread is paid, "
            "no price improvement. A sale with no bid does not fill; the layer is held (and settles at expiry). "
            "A migration into a slot whose own sale did not fill is skipped.",
        ),
        (
            "Harvest fills",
            "A resting GTC harvest sell fills at its limit on a later day when the option's modelled bid, repriced "
            f"with spot VIX at the day's high, reaches the limit: each future moves by beta(DTE) x (high - close) "
            f"with the config's beta table ({beta}), VVIX at that day's close. Lower limits fill first.",
        ),
        (
            "Expiry",
            "Options still held on their expiry day settle in cash at max(VIX open - strike, 0): the VIX open is "
            "the proxy for the special opening quotation (when the expiry day has no data, the next evaluation "
            "day's open). The planner normally sells them before; a sale with no bid leaves them to expire.",
        ),
        (
            "Condor book",
            f"One iron condor position of {condors.quantity} condors at a time on SPX monthly options (third "
            f"Friday): opened on the expiry nearest {condors.target_entry_dte} DTE at least {condors.min_entry_dte} "
            f"DTE away, closed at {condors.exit_dte} DTE and rolled into the next monthly the same day (so entries "
            f"are at 49-56 DTE and the book is never empty). Short strikes at |delta| {condors.short_delta:g}, "
            f"wings {condors.wing_width:g} points out, strikes every {condors.strike_step:g}. Sold at the bid, "
            f"bought at the ask (width {condors.spread_base:g} + {condors.spread_per_price:g} x price, at most "
            f"{condors.spread_max:g}), commission ${condors.commission_per_contract:.2f} per leg contract; marked "
            "at the model price. Its credit is the hedge's budget base and its legs' vega the coverage base.",
        ),
        (
            "SPX implied vol",
            f"Black-Scholes with zero rate and dividend. ATM vol = {vol.atm_ratio:g} x the VIX-family index of the "
            "tenor: VIX9D (9 d), VIX (30 d), VIX3M (93 d), VIX6M (182 d) where available that day (VIX alone "
            "otherwise), total variance linear in time. Put skew: IV = ATM x max("
            f"{vol.min_ratio:g}, 1 - s z + {vol.skew_curvature:g} z^2), z = ln(K/F)/(ATM sqrt T), s = "
            f"{vol.skew_slope:g}"
            + (" x (SKEW - 100)/20 clipped to 0.5-2" if vol.skew_index_scaling else "")
            + ". Not calibrated: the data hold no SPX option chain.",
        ),
        (
            "Metrics",
            "P&L in dollars since the first evaluation (condor book plus hedge). Sharpe on daily dollar P&L "
            "x sqrt(252). Worst week: the largest drop from one ISO week's last close to the next. Hedge cost / net "
            "in percent of the credit of all condors opened in the period. Cap breaches: evaluations after which a "
            "filled buy left premium at risk above the cap (15 % of the current credit).",
        ),
        (
            "Episodes",
            "A day with VIX <= 25 after which VIX closes >= 1.5 x that level and >= 25 within 10 trading days; "
            "overlapping spans merged. condor_loss: the drop of the condor book's mark from the start's close to "
            f"its lowest close within {settings.drawdown_window_days} trading days; hedge_gain: the hedge's P&L "
            "(realised plus marked) over the same days; offset_ratio = hedge_gain / condor_loss.",
        ),
        (
            "VXTH-style",
            "Cboe's VXTH rule (cboe.com/index/dashboard/VXTH; weights as reported at launch by optionmonster.com, "
            "'First Trust will offer tail hedge VIX fund'): one-month ~30-delta VIX calls bought at each monthly "
            "VIX expiry, weight 0 when the VIX future is <= 15 or > 50, 1 % from 15 to 30, 0.5 % from 30 to 50. "
            "Here the 1 % tier spends the ALVH target (10 % of condor credit), the 0.5 % tier half of it; held to "
            "expiry.",
        ),
    ]


# --------------------------------------------------------------------------------------------------
# details.json


def details_document(outcome: BacktestOutcome) -> dict[str, Any]:
    prepared = outcome.prepared
    figures = outcome.figures
    dates = prepared.history.dates[prepared.span.first :]
    variants = {}
    for name, result in outcome.results.items():
        excess_days = int(((result.premium_at_risk - result.cap) > 0.01).sum()) if name != "unhedged" else 0
        variants[name] = {
            "description": DESCRIPTIONS[name],
            "premium_paid": round(result.premium_paid, 2),
            "commissions": round(result.commissions, 2),
            "hedge_pnl": round(float(result.hedge_equity[-1]), 2),
            "trades": len(result.trades),
            "harvest_fills": result.harvest_fills,
            "rebalances": len(result.rebalances),
            "planner_calls": result.plan_calls,
            "planner_seconds": round(result.plan_seconds, 3),
            "snapshot_seconds": round(result.snapshot_seconds, 3),
            "planner_alerts": result.alerts,
            "planner_refusals": result.refusals,
            "executor_notes": result.executor_notes[:50],
            "executor_notes_count": len(result.executor_notes),
            "cap_breaches": result.cap_breaches,
            "days_over_cap_after_credit_fell": excess_days,
            "mean_layers_held": round(float(np.mean(result.layers_held)), 2) if len(result.layers_held) else 0.0,
            "refusal_reasons": dict(sorted(result.refusal_reasons.items(), key=lambda item: -item[1])[:10]),
            "mean_coverage": None
            if name == "unhedged" or not (result.coverage == result.coverage).any()
            else round(float(_nanmean(result.coverage)), 4),
        }
    episodes = []
    for number, episode in enumerate(figures.episodes):
        episodes.append(
            {
                "start": episode.start.isoformat(),
                "peak_date": episode.peak_date.isoformat(),
                "trough_date": str(dates[figures.figures[number][next(iter(outcome.results))].trough_index]),
                "window_truncated": figures.figures[number][next(iter(outcome.results))].truncated,
            }
        )
    return {
        "period": figures.summary["period"],
        "condor_book": {
            "positions": len(prepared.condors.positions),
            "credit_collected": round(prepared.condors.credit_collected, 2),
            "commissions": round(prepared.condors.commissions, 2),
            "pnl": round(float(prepared.condors.equity[-1]), 2),
        },
        "variants": variants,
        "episodes": episodes,
        "calibration": {"source": prepared.params.source, **prepared.params.fit_report},
        "data_notes": [note.render() for note in prepared.history.notes],
        "assumptions": dict(assumptions(outcome)),
        "settings": outcome.request.settings.model_dump(mode="json"),
        "timings": {key: round(value, 3) for key, value in outcome.timings.items()},
    }


def _nanmean(values: Any) -> float:
    return float(np.nanmean(values))


# --------------------------------------------------------------------------------------------------
# HTML

STYLE = """
body { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1150px;
       color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.88em; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; }
th { background: #f3f3f3; } td.left, th.left { text-align: left; }
.answer { background: #f6f9ff; border-left: 4px solid #1f77b4; padding: 0.6em 1em; }
.small { font-size: 0.85em; color: #555; } img { max-width: 100%; }
.bad { color: #b00; }
"""


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return html.escape(str(value))


def render_report(outcome: BacktestOutcome, charts: dict[str, Path]) -> str:
    summary = outcome.summary
    figures = outcome.figures
    names = list(outcome.results)
    dates = outcome.prepared.history.dates[outcome.prepared.span.first :]
    period = summary["period"]
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>ALVH backtest</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>ALVH 4/4/2 backtest: does the layered hedge offset volatility spikes without intraday tweaks?</h1>",
        f"<p class='small'>Period {period['start']} to {period['end']} ({period['evaluation_days']} evaluation "
        f"days). Variants: {', '.join(names)}. The hedge variants call the same planner as the live bot.</p>",
        f"<div class='answer'><p>{html.escape(overall_answer(summary))}</p></div>",
        "<h2>Spike episodes</h2>",
        _episode_table(summary, names),
    ]
    answers = []
    for number, row in enumerate(summary["episodes"]):
        episode_figures = figures.figures[number]
        first = next(iter(episode_figures.values()))
        trough = str(dates[first.trough_index])
        answers.append(
            "<li>" + html.escape(episode_answer(number + 1, row, episode_figures, trough, first.truncated)) + "</li>"
        )
    parts.append("<h3>The answer, episode by episode</h3><ol class='answers'>" + "".join(answers) + "</ol>")
    parts.append(_image(charts["offsets"]))
    parts.append(_image(charts["vix"]))
    parts.append("<h2>Whole period</h2>")
    parts.append(_variant_table(summary, outcome))
    for key in ("equity", "drawdown", "hedge", "coverage"):
        parts.append(_image(charts[key]))
    parts.append(_refusal_section(outcome))
    parts.append("<h2>Variants</h2><ul>")
    parts.extend(f"<li><b>{html.escape(n)}</b>: {html.escape(DESCRIPTIONS[n])}</li>" for n in names)
    parts.append("</ul>")
    parts.append("<h2>Assumptions</h2><table>")
    parts.extend(
        f"<tr><th class='left'>{html.escape(topic)}</th><td class='left'>{html.escape(text)}</td></tr>"
        for topic, text in assumptions(outcome)
    )
    parts.append("</table>")
    parts.append(_calibration_section(outcome))
    parts.append("<h2>Data checks</h2><ul class='small'>")
    parts.extend(f"<li>{html.escape(note.render())}</li>" for note in outcome.prepared.history.notes)
    parts.append("</ul>")
    timings = ", ".join(f"{key.replace('_', ' ')} {value:.1f}" for key, value in outcome.timings.items())
    parts.append(f"<p class='small'>Run time: {html.escape(timings)}.</p></body></html>")
    return "\n".join(parts)


def _episode_table(summary: dict[str, Any], names: list[str]) -> str:
    hedged = [n for n in names if n != "unhedged"]
    head = (
        "<table><tr><th>#</th><th>start</th><th>peak</th><th>VIX start</th><th>VIX peak</th><th>condor loss</th>"
        + "".join(f"<th>{html.escape(n)}<br>hedge gain</th><th>{html.escape(n)}<br>offset</th>" for n in hedged)
        + "</tr>"
    )
    rows = []
    for number, row in enumerate(summary["episodes"], start=1):
        first = next(iter(row["variants"].values()))
        cells = [
            f"<td>{number}</td><td>{row['start']}</td><td>{row['peak_date']}</td>",
            f"<td>{row['vix_start']:.2f}</td><td>{row['vix_peak']:.2f}</td><td>{_money(first['condor_loss'])}</td>",
        ]
        for name in hedged:
            values = row["variants"][name]
            cells.append(f"<td>{_money(values['hedge_gain'])}</td><td>{_pct(values['offset_ratio'])}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return head + "".join(rows) + "</table>"


def _variant_table(summary: dict[str, Any], outcome: BacktestOutcome) -> str:
    columns = [
        ("total_pnl", "total P&L $"),
        ("max_drawdown", "max drawdown $"),
        ("worst_week", "worst week $"),
        ("sharpe", "Sharpe"),
        ("hedge_cost_pct_of_credit", "hedge cost % credit"),
        ("hedge_net_pct_of_credit", "hedge net % credit"),
        ("cap_breaches", "cap breaches"),
        ("rebalances_per_week_max", "max rebalances / week"),
    ]
    head = "<table><tr><th class='left'>variant</th>" + "".join(f"<th>{label}</th>" for _, label in columns)
    head += "<th>mean coverage</th><th>mean layers held</th><th>trades</th><th>harvest fills</th>"
    head += "<th>planner calls</th></tr>"
    rows = []
    for name, values in summary["variants"].items():
        result = outcome.results[name]
        cells = "".join(
            f"<td>{_fmt(values[key], 0 if key in ('total_pnl', 'max_drawdown', 'worst_week') else 2)}</td>"
            for key, _ in columns
        )
        coverage = result.coverage[np.isfinite(result.coverage)]
        mean_coverage = f"{float(np.mean(coverage)):.3f}" if name != "unhedged" and len(coverage) else "n/a"
        extra = (
            f"<td>{mean_coverage}</td><td>{float(np.mean(result.layers_held)):.1f}</td>"
            f"<td>{len(result.trades)}</td><td>{result.harvest_fills}</td><td>{result.plan_calls}</td>"
        )
        rows.append(f"<tr><td class='left'>{html.escape(name)}</td>{cells}{extra}</tr>")
    return head + "".join(rows) + "</table>"


def _refusal_section(outcome: BacktestOutcome) -> str:
    """Why slots stayed empty: the planner's most frequent refusals, per planner variant."""
    blocks = []
    for name in PLANNER_VARIANTS:
        result = outcome.results.get(name)
        if result is None or not result.refusal_reasons:
            continue
        top = sorted(result.refusal_reasons.items(), key=lambda item: -item[1])[:5]
        items = "".join(f"<li>{count} x {html.escape(reason)}</li>" for reason, count in top)
        blocks.append(
            f"<p><b>{html.escape(name)}</b> ({result.refusals} refusals in {result.plan_calls} planner calls)"
            f":</p><ul class='small'>{items}</ul>"
        )
    if not blocks:
        return ""
    return (
        "<h3>Why slots stayed empty</h3><p class='small'>The planner's most frequent refusals (numbers replaced by "
        "#). Before weekly VIX options were listed (October 2015) the near bucket's 7-14 DTE window rarely holds "
        "a monthly expiry that trades past the next rebalance, so near slots are mostly filled by migrations.</p>"
        + "".join(blocks)
    )


def _tenor_rows(report: dict[str, object]) -> list[dict[str, Any]]:
    rows = report.get("by_tenor")
    return list(rows) if isinstance(rows, list) else []


def _calibration_section(outcome: BacktestOutcome) -> str:
    params = outcome.prepared.params
    report = params.fit_report
    if not report:
        return f"<h2>VIX option model calibration</h2><p>{html.escape(params.source)}; no chain was available.</p>"
    rows = "".join(
        f"<tr><td>{t['dte']}</td><td>{'weekly' if t['weekly'] else 'monthly'}</td><td>{t['options']}</td>"
        f"<td>{t['iv_rmse_points']:.2f}</td><td>{t['iv_bias_points']:+.2f}</td><td>{t['price_rmse']:.3f}</td>"
        f"<td>{t['inside_bid_ask']:.0%}</td></tr>"
        for t in _tenor_rows(report)
    )
    return (
        "<h2>VIX option model calibration</h2>"
        f"<p>{html.escape(params.source)}: {report['options']} calls with a two-sided quote and delta 0.03-0.85, "
        f"priced with the backtest's own forward curve and VVIX. Overall RMSE: implied vol "
        f"{report['iv_rmse_points']} vol points, price ${report['price_rmse']} per share; modelled bid RMSE "
        f"${report['bid_rmse']}, ask RMSE ${report['ask_rmse']}; {float(report['inside_bid_ask']):.0%} of model prices "  # type: ignore[arg-type]
        "inside the quoted bid/ask.</p>"
        "<table><tr><th>DTE</th><th>class</th><th>calls</th><th>IV RMSE (pts)</th><th>IV bias (pts)</th>"
        f"<th>price RMSE $</th><th>inside bid/ask</th></tr>{rows}</table>"
    )
