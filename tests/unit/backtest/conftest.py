"""Fixtures of the backtest tests: the shared real data (skipped when absent) and synthetic data sets."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from bot.backtest.listing import monthly_vix_expiries_after
from bot.calendar import ExchangeCalendar

REPO_ROOT = Path(__file__).resolve().parents[3]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
DATA_FILES = (
    "VIX_History.csv",
    "SPX_History.csv",
    "VIX9D_History.csv",
    "VIX3M_History.csv",
    "VIX6M_History.csv",
    "VVIX_History.csv",
    "SKEW_History.csv",
    "VX_term_structure.csv",
)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (SHARED_DATA / "VIX_History.csv").exists():
        pytest.skip(f"shared history data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def data_copy(data_dir: Path, tmp_path: Path) -> Path:
    """A writable copy of the history files (in tmp_path, never in the repository)."""
    target = tmp_path / "data"
    target.mkdir()
    for name in DATA_FILES:
        shutil.copy(data_dir / name, target / name)
    if (data_dir / "vix_option_chains").is_dir():
        shutil.copytree(data_dir / "vix_option_chains", target / "vix_option_chains")
    return target


def write_synthetic(
    directory: Path,
    vix: list[float],
    spx: list[float],
    first_day: dt.date = dt.date(2017, 1, 3),
    vvix: float = 85.0,
) -> list[dt.date]:
    """Cboe-shaped files for the sessions from ``first_day`` on, one per value of ``vix``.

    The VX curve is VIX plus a contango of 0.5 point per month (monthly expiries by the real rule),
    VIX9D/VIX3M/VIX6M follow VIX, highs and lows are 2 % around the close.
    """
    calendar = ExchangeCalendar()
    sessions = [s.date for s in calendar.sessions_between(first_day, first_day + dt.timedelta(days=len(vix) * 2))]
    days = sessions[: len(vix)]
    assert len(days) == len(vix) == len(spx)
    directory.mkdir(parents=True, exist_ok=True)

    def index_file(name: str, values: list[float], scale: float = 1.0) -> None:
        lines = ["DATE,OPEN,HIGH,LOW,CLOSE"]
        for day, value in zip(days, values, strict=True):
            close = value * scale
            lines.append(f"{day:%m/%d/%Y},{close:.2f},{close * 1.02:.2f},{close * 0.98:.2f},{close:.2f}")
        (directory / name).write_text("\n".join(lines) + "\n")

    index_file("VIX_History.csv", vix)
    index_file("SPX_History.csv", spx)
    index_file("VIX9D_History.csv", vix, 0.95)
    index_file("VIX3M_History.csv", vix, 1.08)
    index_file("VIX6M_History.csv", vix, 1.12)
    (directory / "VVIX_History.csv").write_text("DATE,VVIX\n" + "".join(f"{day:%m/%d/%Y},{vvix:.2f}\n" for day in days))
    (directory / "SKEW_History.csv").write_text("DATE,SKEW\n" + "".join(f"{day:%m/%d/%Y},120.00\n" for day in days))
    header = ["date"] + [f"VX{n}{suffix}" for n in range(1, 9) for suffix in ("", "_expiry", "_dte")]
    rows = [",".join(header)]
    for day, level in zip(days, vix, strict=True):
        cells = [day.isoformat()]
        for number, expiry in enumerate(monthly_vix_expiries_after(day, 8, calendar), start=1):
            price = level + 0.5 * number
            cells += [f"{price:.3f}", expiry.isoformat(), str((expiry - day).days)]
        rows.append(",".join(cells))
    (directory / "VX_term_structure.csv").write_text("\n".join(rows) + "\n")
    return days


@pytest.fixture
def synthetic() -> Callable[..., list[dt.date]]:
    return write_synthetic


def spike_series(length: int, spike_at: int) -> tuple[list[float], list[float]]:
    """VIX flat at 14 with a spike (peak 32) starting at ``spike_at``; SPX drifting up then falling 12 %."""
    vix = [14.0] * length
    shape = [17.0, 22.0, 27.0, 32.0, 29.0, 24.0, 20.0, 17.0, 15.0]
    for offset, value in enumerate(shape):
        if spike_at + offset < length:
            vix[spike_at + offset] = value
    spx = list(2200.0 * np.exp(0.0004 * np.arange(length)))
    for offset in range(length - spike_at):
        fall = min(offset, 3) * 0.04
        recover = max(0, offset - 5) * 0.01
        spx[spike_at + offset] *= 1.0 - fall + min(recover, 0.08)
    return vix, [float(v) for v in spx]


@pytest.fixture
def spike() -> Callable[..., tuple[list[float], list[float]]]:
    return spike_series
