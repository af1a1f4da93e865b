"""The report's charts as PNG files (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np

from bot.backtest.episodes import Episode
from bot.backtest.metrics import drawdown_series

COLORS = {
    "unhedged": "#7f7f7f",
    "alvh_weekly": "#1f77b4",
    "alvh_daily": "#ff7f0e",
    "alvh_no_harvest": "#2ca02c",
    "vxth_style": "#9467bd",
}
FIGSIZE = (11, 4.2)
DPI = 90


def _dates(dates: np.ndarray) -> np.ndarray:
    return dates.astype("datetime64[D]").astype("datetime64[ms]").astype(object)


def _finish(figure: plt.Figure, axes: plt.Axes, path: Path, ylabel: str) -> Path:
    axes.set_ylabel(ylabel)
    axes.grid(True, alpha=0.3)
    axes.xaxis.set_major_locator(mdates.YearLocator())
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    plt.close(figure)
    return path


def _shade(axes: plt.Axes, episodes: list[Episode]) -> None:
    for episode in episodes:
        axes.axvspan(
            float(mdates.date2num(episode.start)),
            float(mdates.date2num(episode.peak_date)),
            color="#d62728",
            alpha=0.15,
            linewidth=0,
        )


def equity_plot(dates: np.ndarray, equity: dict[str, np.ndarray], episodes: list[Episode], path: Path) -> Path:
    figure, axes = plt.subplots(figsize=FIGSIZE)
    x = _dates(dates)
    for name, values in equity.items():
        axes.plot(x, values / 1000.0, label=name, color=COLORS.get(name), linewidth=1.1)
    _shade(axes, episodes)
    axes.set_title("Cumulative P&L: condor book plus hedge (spike episodes shaded)")
    axes.legend(loc="upper left", fontsize=8)
    return _finish(figure, axes, path, r"thousand \$")


def drawdown_plot(dates: np.ndarray, equity: dict[str, np.ndarray], path: Path) -> Path:
    figure, axes = plt.subplots(figsize=FIGSIZE)
    x = _dates(dates)
    for name, values in equity.items():
        axes.plot(x, drawdown_series(values) / 1000.0, label=name, color=COLORS.get(name), linewidth=1.0)
    axes.set_title("Drawdown from the running peak")
    axes.legend(loc="lower left", fontsize=8)
    return _finish(figure, axes, path, r"thousand \$")


def hedge_plot(dates: np.ndarray, hedge: dict[str, np.ndarray], episodes: list[Episode], path: Path) -> Path:
    figure, axes = plt.subplots(figsize=FIGSIZE)
    x = _dates(dates)
    for name, values in hedge.items():
        if name != "unhedged":
            axes.plot(x, values / 1000.0, label=name, color=COLORS.get(name), linewidth=1.0)
    _shade(axes, episodes)
    axes.axhline(0.0, color="black", linewidth=0.6)
    axes.set_title("Hedge P&L alone (realised plus marked)")
    axes.legend(loc="upper left", fontsize=8)
    return _finish(figure, axes, path, r"thousand \$")


def vix_plot(dates: np.ndarray, vix: np.ndarray, episodes: list[Episode], path: Path) -> Path:
    figure, axes = plt.subplots(figsize=FIGSIZE)
    axes.plot(_dates(dates), vix, color="black", linewidth=0.8, label="VIX close")
    _shade(axes, episodes)
    for number, episode in enumerate(episodes, start=1):
        axes.annotate(
            str(number),
            (episode.peak_date, episode.vix_peak),  # type: ignore[arg-type]
            textcoords="offset points",
            xytext=(0, 4),
            ha="center",
            fontsize=8,
            color="#d62728",
        )
    axes.axhline(25.0, color="#d62728", linewidth=0.6, linestyle="--")
    axes.set_title("VIX with the detected spike episodes (start to peak shaded, numbered as in the table)")
    return _finish(figure, axes, path, "VIX")


def coverage_plot(dates: np.ndarray, coverage: dict[str, np.ndarray], alert_below: float, path: Path) -> Path:
    figure, axes = plt.subplots(figsize=FIGSIZE)
    x = _dates(dates)
    for name, values in coverage.items():
        axes.plot(x, values, label=name, color=COLORS.get(name), linewidth=0.8)
    axes.axhline(alert_below, color="#d62728", linewidth=0.6, linestyle="--", label=f"alert floor {alert_below:g}")
    axes.set_title(
        r"Coverage: hedge \$ per VIX point / condor \$ per vol point (axis cut at 2; it jumps when condor vega is tiny)"
    )
    axes.set_ylim(0.0, 2.0)
    axes.legend(loc="upper left", fontsize=8)
    return _finish(figure, axes, path, "coverage")


def offset_plot(labels: list[str], ratios: dict[str, list[float | None]], path: Path) -> Path:
    figure, axes = plt.subplots(figsize=FIGSIZE)
    names = [name for name in ratios if name != "unhedged"]
    width = 0.8 / max(len(names), 1)
    positions = np.arange(len(labels))
    for number, name in enumerate(names):
        values = [np.nan if v is None else v for v in ratios[name]]
        axes.bar(positions + number * width, values, width, label=name, color=COLORS.get(name))
    axes.axhline(1.0, color="black", linewidth=0.6, linestyle="--")
    axes.axhline(0.0, color="black", linewidth=0.6)
    axes.set_xticks(positions + width * (len(names) - 1) / 2, labels, rotation=30, ha="right", fontsize=8)
    axes.set_ylabel("offset ratio = hedge gain / condor loss")
    axes.set_title("Offset per spike episode (1.0 = the hedge paid for the whole condor loss)")
    axes.legend(fontsize=8)
    axes.grid(True, axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    plt.close(figure)
    return path
