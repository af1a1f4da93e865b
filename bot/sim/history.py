"""Daily history for the replay scenario: Cboe-shaped CSV files in one directory.

Expected files (the shapes of ``../shared/data``):

- ``VIX_History.csv``: DATE (MM/DD/YYYY), OPEN, HIGH, LOW, CLOSE
- ``SPX_History.csv``: DATE, OPEN, HIGH, LOW, CLOSE
- ``VX_term_structure.csv``: date (ISO), VXn, VXn_expiry, VXn_dte for n = 1..9 (monthly futures by rank)

Rows that cannot be parsed are skipped and counted; a file that is missing, empty or without the
expected columns is an error that names the file and what is wrong.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path


class HistoryError(ValueError):
    """The history directory cannot drive a replay."""


@dataclass(frozen=True)
class DailyBar:
    open: float
    high: float
    low: float
    close: float


@dataclass
class ReplayData:
    """Daily VIX and SPX bars and the VX futures curve by date."""

    vix: dict[dt.date, DailyBar]
    spx: dict[dt.date, DailyBar]
    curves: dict[dt.date, tuple[tuple[int, float], ...]]  # date -> ((dte, settlement), ...) by dte
    skipped_rows: dict[str, int] = field(default_factory=dict)
    _dates: list[dt.date] = field(default_factory=list)
    _curve_dates: list[dt.date] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._dates = sorted(set(self.vix) & set(self.spx))
        self._curve_dates = sorted(self.curves)
        if not self._dates:
            raise HistoryError("VIX and SPX histories share no dates")

    @property
    def first_date(self) -> dt.date:
        return self._dates[0]

    @property
    def last_date(self) -> dt.date:
        return self._dates[-1]

    def covers(self, day: dt.date) -> bool:
        return self.first_date <= day <= self.last_date

    def bar_on_or_before(self, series: str, day: dt.date) -> tuple[dt.date, DailyBar] | None:
        """The bar of ``day`` or the latest before it (carrying values over a gap in the data)."""
        index = bisect.bisect_right(self._dates, day) - 1
        if index < 0:
            return None
        found = self._dates[index]
        table = self.vix if series == "VIX" else self.spx
        return found, table[found]

    def curve_on_or_before(self, day: dt.date) -> tuple[tuple[int, float], ...] | None:
        index = bisect.bisect_right(self._curve_dates, day) - 1
        if index < 0:
            return None
        return self.curves[self._curve_dates[index]]


def _parse_us_date(text: str) -> dt.date:
    text = text.strip()
    if "/" in text:
        month, day, year = text.split("/")
        return dt.date(int(year), int(month), int(day))
    return dt.date.fromisoformat(text)


def _read_ohlc(path: Path, skipped: dict[str, int]) -> dict[dt.date, DailyBar]:
    if not path.is_file():
        raise HistoryError(f"{path}: file not found")
    bars: dict[dt.date, DailyBar] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = {name.strip().upper() for name in (reader.fieldnames or [])}
        missing = {"DATE", "OPEN", "HIGH", "LOW", "CLOSE"} - columns
        if missing:
            raise HistoryError(f"{path}: missing columns {sorted(missing)}")
        for row in reader:
            clean = {key.strip().upper(): (value or "").strip() for key, value in row.items() if key}
            try:
                day = _parse_us_date(clean["DATE"])
                values = [float(clean[key]) for key in ("OPEN", "HIGH", "LOW", "CLOSE")]
            except (ValueError, KeyError):
                skipped[path.name] = skipped.get(path.name, 0) + 1
                continue
            if not all(math.isfinite(v) and v > 0 for v in values):
                skipped[path.name] = skipped.get(path.name, 0) + 1
                continue
            open_, high, low, close = values
            bars[day] = DailyBar(open=open_, high=max(high, open_, close), low=min(low, open_, close), close=close)
    if not bars:
        raise HistoryError(f"{path}: no usable rows")
    return bars


def _read_curves(path: Path, skipped: dict[str, int]) -> dict[dt.date, tuple[tuple[int, float], ...]]:
    if not path.is_file():
        raise HistoryError(f"{path}: file not found")
    curves: dict[dt.date, tuple[tuple[int, float], ...]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "date" not in reader.fieldnames or "VX1" not in reader.fieldnames:
            raise HistoryError(f"{path}: expected columns date, VX1, VX1_expiry, VX1_dte, ...")
        for row in reader:
            try:
                day = dt.date.fromisoformat((row.get("date") or "").strip())
            except ValueError:
                skipped[path.name] = skipped.get(path.name, 0) + 1
                continue
            points: list[tuple[int, float]] = []
            for rank in range(1, 10):
                price_text = (row.get(f"VX{rank}") or "").strip()
                expiry_text = (row.get(f"VX{rank}_expiry") or "").strip()
                if not price_text or not expiry_text:
                    continue
                try:
                    price = float(price_text)
                    expiry = dt.date.fromisoformat(expiry_text)
                except ValueError:
                    continue
                if math.isfinite(price) and price > 0:
                    points.append(((expiry - day).days, price))
            if points:
                curves[day] = tuple(sorted(points))
            else:
                skipped[path.name] = skipped.get(path.name, 0) + 1
    if not curves:
        raise HistoryError(f"{path}: no usable rows")
    return curves


def load_replay_data(directory: Path) -> ReplayData:
    """Read a history directory shaped like ``../shared/data``."""
    if not directory.is_dir():
        raise HistoryError(f"{directory}: not a directory")
    skipped: dict[str, int] = {}
    vix = _read_ohlc(directory / "VIX_History.csv", skipped)
    spx = _read_ohlc(directory / "SPX_History.csv", skipped)
    curves = _read_curves(directory / "VX_term_structure.csv", skipped)
    return ReplayData(vix=vix, spx=spx, curves=curves, skipped_rows=skipped)


def interpolate_curve(points: tuple[tuple[int, float], ...], days: float) -> float:
    """Settlement at ``days`` to expiry from (dte, price) points: linear inside, flat outside."""
    if days <= points[0][0]:
        return points[0][1]
    if days >= points[-1][0]:
        return points[-1][1]
    dtes = [p[0] for p in points]
    index = bisect.bisect_left(dtes, days)
    (d0, p0), (d1, p1) = points[index - 1], points[index]
    if d1 == d0:
        return p1
    weight = (days - d0) / (d1 - d0)
    return p0 + (p1 - p0) * weight
