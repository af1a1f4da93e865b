"""Loaders of Cboe's daily history files, with the checks a backtest on them needs.

Every file is read as text and checked row by row: dates that do not parse, numbers that are not
numbers (or NaN, or not positive), exact duplicate rows, conflicting duplicates, rows out of order,
rows on days the exchange calendar has no session (holidays) and sessions the file misses (gaps).
What is skipped or repaired is recorded as a ``LoadNote`` the report prints; what makes a backtest
meaningless (a required file missing, conflicting duplicates, a long gap inside the requested range,
a range the files do not cover) raises ``DataError`` with the reason.

Files (names as Cboe publishes them; ``VX_term_structure.csv`` is the monthly VIX futures curve):

| file | required | columns |
|---|---|---|
| VIX_History.csv | yes | DATE, OPEN, HIGH, LOW, CLOSE |
| SPX_History.csv | yes | DATE, OPEN, HIGH, LOW, CLOSE |
| VX_term_structure.csv | yes | date, VXn, VXn_expiry, VXn_dte (n = 1..9) |
| VVIX_History.csv | no (VIX-based estimate otherwise) | DATE, VVIX |
| VIX9D/VIX3M/VIX6M_History.csv | no (VIX otherwise) | DATE, OPEN, HIGH, LOW, CLOSE |
| SKEW_History.csv | no (fixed skew otherwise) | DATE, SKEW |
| vix_option_chains/*.csv | no (built-in calibration otherwise) | Cboe option EOD calcs |
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pandas_market_calendars as mcal

from bot.backtest.listing import monthly_vix_expiry_for_month
from bot.calendar import ExchangeCalendar

DATE_FORMATS = ("%m/%d/%Y", "%Y-%m-%d")
MAX_EXAMPLES = 5
MAX_VX_CONTRACTS = 9
OHLC = ("OPEN", "HIGH", "LOW", "CLOSE")


class DataError(Exception):
    """The data cannot support the backtest asked for; the message says why and what to do."""


@dataclass(frozen=True)
class LoadNote:
    file: str
    kind: str  # "skipped", "repaired", "gap", "holiday", "missing", "info"
    message: str
    count: int = 0
    examples: tuple[str, ...] = ()

    def render(self) -> str:
        shown = f" (e.g. {', '.join(self.examples)})" if self.examples else ""
        return f"{self.file}: {self.message}{shown}"


@dataclass
class IndexSeries:
    """One daily index file after checks: sorted unique session dates and float columns."""

    name: str
    dates: np.ndarray  # datetime64[D]
    columns: dict[str, np.ndarray]

    @property
    def first(self) -> dt.date:
        return _to_date(self.dates[0])

    @property
    def last(self) -> dt.date:
        return _to_date(self.dates[-1])


@dataclass
class FuturesCurve:
    """VX term structure after checks: price and expiry of the n-th monthly future on each date."""

    dates: np.ndarray  # datetime64[D]
    prices: np.ndarray  # (days, contracts) float, NaN when missing
    expiries: np.ndarray  # (days, contracts) datetime64[D], NaT when missing


@dataclass
class MarketHistory:
    """Aligned daily history on the evaluation days (sessions where VIX, SPX and VX all have data).

    Arrays are indexed by day; optional series are NaN where missing. ``notes`` lists everything the
    loaders skipped, repaired or found missing.
    """

    dates: np.ndarray  # datetime64[D]
    vix_open: np.ndarray
    vix_high: np.ndarray
    vix_low: np.ndarray
    vix_close: np.ndarray
    spx_open: np.ndarray
    spx_close: np.ndarray
    vix9d: np.ndarray
    vix3m: np.ndarray
    vix6m: np.ndarray
    vvix: np.ndarray
    skew: np.ndarray
    vx_prices: np.ndarray
    vx_expiries: np.ndarray
    notes: list[LoadNote] = field(default_factory=list)
    chain_files: list[Path] = field(default_factory=list)
    full: MarketHistory | None = field(default=None, repr=False)  # every day the files share (calibration)

    def __len__(self) -> int:
        return len(self.dates)

    def date(self, index: int) -> dt.date:
        return _to_date(self.dates[index])

    def index_of(self, day: dt.date) -> int:
        position = int(np.searchsorted(self.dates, np.datetime64(day, "D")))
        if position >= len(self.dates) or self.dates[position] != np.datetime64(day, "D"):
            raise KeyError(day)
        return position

    def window(self, start: int, stop: int) -> MarketHistory:
        """The days [start, stop) as a history of their own (notes kept)."""
        sliced = {
            name: getattr(self, name)[start:stop]
            for name in (
                "dates",
                "vix_open",
                "vix_high",
                "vix_low",
                "vix_close",
                "spx_open",
                "spx_close",
                "vix9d",
                "vix3m",
                "vix6m",
                "vvix",
                "skew",
                "vx_prices",
                "vx_expiries",
            )
        }
        return MarketHistory(**sliced, notes=list(self.notes), chain_files=list(self.chain_files))


def _to_date(value: np.datetime64) -> dt.date:
    return dt.date.fromisoformat(str(value)[:10])


def _examples(values: list[str] | pd.Series) -> tuple[str, ...]:
    return tuple(str(value) for value in list(values)[:MAX_EXAMPLES])


def _note_bad_dates(notes: list[LoadNote], name: str, raw_dates: pd.Series, bad_dates: pd.Series) -> None:
    """Record the rows skipped because their date does not parse (with examples of the raw text)."""
    if not bad_dates.any():
        return
    lines = [f"line {i + 2}: {raw_dates.iloc[i]!r}" for i in np.flatnonzero(bad_dates)]
    count = int(bad_dates.sum())
    notes.append(LoadNote(name, "skipped", f"{count} row(s) with a date that does not parse", count, _examples(lines)))


def _parse_dates(raw: pd.Series) -> pd.Series:
    """Each value parsed with the first format that fits (Cboe's MM/DD/YYYY or ISO); NaT otherwise."""
    text = raw.astype(str).str.strip()
    parsed = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    for fmt in DATE_FORMATS:
        missing = parsed.isna()
        if not missing.any():
            break
        parsed[missing] = pd.to_datetime(text[missing], format=fmt, errors="coerce")
    return parsed


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=True)
    except FileNotFoundError:
        raise DataError(f"{path.name}: file not found in {path.parent}") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as error:
        raise DataError(f"{path.name}: cannot be read as CSV: {error}") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path.name}: the file is empty") from None
    frame.columns = [str(column).strip() for column in frame.columns]
    return frame


def _column(frame: pd.DataFrame, wanted: str, path: Path) -> str:
    for column in frame.columns:
        if column.upper() == wanted.upper():
            return column
    raise DataError(f"{path.name}: no column {wanted!r} (columns: {', '.join(frame.columns) or 'none'})")


@lru_cache(maxsize=64)
def _session_dates_cached(name: str, first: dt.date, last: dt.date) -> np.ndarray:
    # The schedule bot.calendar reads, in one call for the whole span (decades of sessions at once).
    schedule = mcal.get_calendar(name).schedule(start_date=first.isoformat(), end_date=last.isoformat())
    return np.asarray(schedule.index.values.astype("datetime64[D]"))


def _session_dates(calendar: ExchangeCalendar, first: dt.date, last: dt.date) -> np.ndarray:
    return _session_dates_cached(calendar.name, first, last)


def _dedupe_sort(
    name: str, dates: pd.Series, values: pd.DataFrame, notes: list[LoadNote]
) -> tuple[pd.Series, pd.DataFrame]:
    """Sorted by date; exact duplicates dropped; conflicting duplicates stop the load."""
    if not dates.is_monotonic_increasing:
        notes.append(LoadNote(name, "repaired", "rows were not in date order: sorted by date"))
    order = np.argsort(dates.to_numpy(), kind="stable")
    dates = dates.iloc[order].reset_index(drop=True)
    values = values.iloc[order].reset_index(drop=True)
    duplicated = dates.duplicated(keep=False)
    if duplicated.any():
        groups = values[duplicated].assign(_date=dates[duplicated]).groupby("_date")
        conflicting = [str(day.date()) for day, group in groups if len(group.drop_duplicates()) > 1]
        if conflicting:
            raise DataError(
                f"{name}: {len(conflicting)} date(s) appear more than once with different values "
                f"({', '.join(conflicting[:MAX_EXAMPLES])}); keep one row per date"
            )
        extra = dates.duplicated(keep="first")
        notes.append(
            LoadNote(
                name,
                "skipped",
                f"{int(extra.sum())} exact duplicate row(s) dropped",
                int(extra.sum()),
                _examples(dates[extra].dt.date),
            )
        )
        dates = dates[~extra].reset_index(drop=True)
        values = values[~extra].reset_index(drop=True)
    return dates, values


def _calendar_checks(name: str, dates: pd.Series, calendar: ExchangeCalendar, notes: list[LoadNote]) -> np.ndarray:
    """Drops rows on non-session days (noted as holidays) and notes sessions the file misses."""
    days = dates.to_numpy().astype("datetime64[D]")
    sessions = _session_dates(calendar, _to_date(days[0]), _to_date(days[-1]))
    on_session = np.isin(days, sessions)
    if not on_session.all():
        off = days[~on_session]
        notes.append(
            LoadNote(
                name,
                "holiday",
                f"{len(off)} row(s) on days with no {calendar.name} session (holidays, weekends): not used",
                len(off),
                _examples([str(day) for day in off]),
            )
        )
    missing = np.setdiff1d(sessions, days)
    if len(missing):
        notes.append(
            LoadNote(
                name,
                "gap",
                f"{len(missing)} session(s) between {days[0]} and {days[-1]} have no row",
                len(missing),
                _examples([str(day) for day in missing]),
            )
        )
    return on_session


def load_index_file(
    path: Path, value_columns: tuple[str, ...], calendar: ExchangeCalendar, notes: list[LoadNote]
) -> IndexSeries:
    """A Cboe daily index file (DATE plus ``value_columns``) after the checks in the module docstring."""
    name = path.name
    frame = _read_csv(path)
    if frame.empty:
        raise DataError(f"{name}: no data rows")
    date_column = _column(frame, "DATE", path)
    columns = {wanted: _column(frame, wanted, path) for wanted in value_columns}
    dates = _parse_dates(frame[date_column])
    bad_dates = dates.isna()
    _note_bad_dates(notes, name, frame[date_column], bad_dates)
    values = pd.DataFrame(
        {wanted: pd.to_numeric(frame[column].str.strip(), errors="coerce") for wanted, column in columns.items()}
    )
    key = "CLOSE" if "CLOSE" in values else value_columns[0]
    key_values = values[key]
    bad_values = ~bad_dates & ~(np.isfinite(key_values) & (key_values > 0.0))
    if bad_values.any():
        lines = [f"line {i + 2}: {key}={frame[columns[key]].iloc[i]!r}" for i in np.flatnonzero(bad_values)]
        notes.append(
            LoadNote(
                name,
                "skipped",
                f"{int(bad_values.sum())} row(s) whose {key} is missing, not a number or not positive",
                int(bad_values.sum()),
                _examples(lines),
            )
        )
    keep = ~(bad_dates | bad_values)
    if not keep.any():
        raise DataError(f"{name}: no usable rows")
    dates, values = _dedupe_sort(name, dates[keep].reset_index(drop=True), values[keep].reset_index(drop=True), notes)
    if all(column in values for column in OHLC):
        values = _repair_ohlc(name, dates, values, notes)
    on_session = _calendar_checks(name, dates, calendar, notes)
    return IndexSeries(
        name=name,
        dates=dates.to_numpy().astype("datetime64[D]")[on_session],
        columns={column: values[column].to_numpy(dtype=float)[on_session] for column in values},
    )


def _repair_ohlc(name: str, dates: pd.Series, values: pd.DataFrame, notes: list[LoadNote]) -> pd.DataFrame:
    """Missing OPEN/HIGH/LOW take the CLOSE; a HIGH below OPEN/CLOSE or LOW above them is widened."""
    values = values.copy()
    close = values["CLOSE"]
    for column in ("OPEN", "HIGH", "LOW"):
        invalid = ~(np.isfinite(values[column]) & (values[column] > 0.0))
        if invalid.any():
            notes.append(
                LoadNote(
                    name,
                    "repaired",
                    f"{int(invalid.sum())} row(s) without a valid {column}: set to the CLOSE",
                    int(invalid.sum()),
                    _examples(dates[invalid].dt.date),
                )
            )
            values.loc[invalid, column] = close[invalid]
    top = values[["OPEN", "CLOSE"]].max(axis=1)
    bottom = values[["OPEN", "CLOSE"]].min(axis=1)
    inconsistent = (values["HIGH"] < top) | (values["LOW"] > bottom)
    if inconsistent.any():
        notes.append(
            LoadNote(
                name,
                "repaired",
                f"{int(inconsistent.sum())} row(s) with HIGH below OPEN/CLOSE or "
                "LOW above them: widened to cover OPEN and CLOSE",
                int(inconsistent.sum()),
                _examples(dates[inconsistent].dt.date),
            )
        )
        values["HIGH"] = np.maximum(values["HIGH"], top)
        values["LOW"] = np.minimum(values["LOW"], bottom)
    return values


def load_vx_curve(path: Path, calendar: ExchangeCalendar, notes: list[LoadNote]) -> FuturesCurve:
    """The VX term structure: VX1 and VX2 must be valid on a row, further contracts may be missing."""
    name = path.name
    frame = _read_csv(path)
    if frame.empty:
        raise DataError(f"{name}: no data rows")
    date_column = _column(frame, "date", path)
    available = [n for n in range(1, MAX_VX_CONTRACTS + 1) if any(c.upper() == f"VX{n}" for c in frame.columns)]
    if available[:2] != [1, 2]:
        raise DataError(f"{name}: columns VX1 and VX2 (with VX1_expiry, VX2_expiry) are required")
    contracts = max(available)
    dates = _parse_dates(frame[date_column])
    prices = np.full((len(frame), contracts), np.nan)
    expiries = np.full((len(frame), contracts), np.datetime64("NaT"), dtype="datetime64[D]")
    dte_mismatch = 0
    for n in available:
        price = pd.to_numeric(frame[_column(frame, f"VX{n}", path)].str.strip(), errors="coerce").to_numpy(float)
        expiry = _parse_dates(frame[_column(frame, f"VX{n}_expiry", path)]).to_numpy().astype("datetime64[D]")
        prices[:, n - 1] = np.where(np.isfinite(price) & (price > 0.0), price, np.nan)
        expiries[:, n - 1] = expiry
        dte_name = next((c for c in frame.columns if c.upper() == f"VX{n}_DTE"), None)
        if dte_name is not None:
            stated = pd.to_numeric(frame[dte_name].str.strip(), errors="coerce").to_numpy(float)
            actual = (expiry - dates.to_numpy().astype("datetime64[D]")).astype(float)
            dte_mismatch += int(np.sum(np.isfinite(stated) & np.isfinite(actual) & (stated != actual)))
    if dte_mismatch:
        notes.append(
            LoadNote(
                name,
                "repaired",
                f"{dte_mismatch} VXn_dte value(s) disagree with VXn_expiry - date: DTE recomputed from the expiry",
                dte_mismatch,
            )
        )
    bad_dates = dates.isna().to_numpy()
    row_dates = dates.to_numpy().astype("datetime64[D]")
    front_ok = np.all(np.isfinite(prices[:, :2]), axis=1) & np.all(~np.isnat(expiries[:, :2]), axis=1)
    with np.errstate(invalid="ignore"):
        ordered = front_ok & (expiries[:, 0] > row_dates) & (expiries[:, 1] > expiries[:, 0])
    bad_rows = ~bad_dates & ~ordered
    _note_bad_dates(notes, name, frame[date_column], bad_dates)
    if bad_rows.any():
        lines = [f"line {i + 2} ({frame[date_column].iloc[i]})" for i in np.flatnonzero(bad_rows)]
        notes.append(
            LoadNote(
                name,
                "skipped",
                f"{int(bad_rows.sum())} row(s) without a valid VX1 and VX2 "
                "(price, expiry after the date, VX2 after VX1)",
                int(bad_rows.sum()),
                _examples(lines),
            )
        )
    keep = ~(bad_dates | bad_rows)
    if not keep.any():
        raise DataError(f"{name}: no usable rows")
    kept_dates = dates[keep].reset_index(drop=True)
    table = pd.DataFrame(np.column_stack([prices[keep], expiries[keep].astype("int64")]))
    kept_dates, table = _dedupe_sort(name, kept_dates, table, notes)
    prices = table.iloc[:, :contracts].to_numpy(float)
    expiries = table.iloc[:, contracts:].to_numpy("int64").astype("datetime64[D]")
    expiries[np.isnan(prices)] = np.datetime64("NaT")
    _note_missing_contracts(name, kept_dates, prices, contracts, notes)
    _check_expiry_rule(name, expiries, calendar, notes)
    on_session = _calendar_checks(name, kept_dates, calendar, notes)
    return FuturesCurve(
        dates=kept_dates.to_numpy().astype("datetime64[D]")[on_session],
        prices=prices[on_session],
        expiries=expiries[on_session],
    )


def _note_missing_contracts(
    name: str, dates: pd.Series, prices: np.ndarray, contracts: int, notes: list[LoadNote]
) -> None:
    # The last contract is often not listed yet (VX9 mostly blank): report gaps inside the curve only.
    for n in range(3, contracts + 1):
        missing = np.isnan(prices[:, n - 1])
        later_present = np.any(np.isfinite(prices[:, n:]), axis=1) if n < contracts else np.zeros(len(prices), bool)
        inner = missing & later_present
        if n <= 4:
            inner = missing
        if inner.any():
            notes.append(
                LoadNote(
                    name,
                    "missing",
                    f"VX{n} missing on {int(inner.sum())} day(s): the curve is interpolated over it",
                    int(inner.sum()),
                    _examples(dates[inner].dt.date),
                )
            )


def _check_expiry_rule(name: str, expiries: np.ndarray, calendar: ExchangeCalendar, notes: list[LoadNote]) -> None:
    """Expiries should follow the VIX rule (Wednesday 30 days before the next month's 3rd Friday)."""
    seen = np.unique(expiries[~np.isnat(expiries)])
    wrong = []
    for value in seen:
        day = _to_date(value)
        if monthly_vix_expiry_for_month(day.year, day.month, calendar) != day:
            wrong.append(day.isoformat())
    if wrong:
        notes.append(
            LoadNote(
                name,
                "info",
                f"{len(wrong)} expiry date(s) differ from the VIX listing rule; the file's dates are used",
                len(wrong),
                _examples(wrong),
            )
        )


def _align(series: IndexSeries, column: str, days: np.ndarray) -> np.ndarray:
    """``series[column]`` on ``days``, NaN where the series has no row."""
    positions = np.searchsorted(series.dates, days)
    positions = np.clip(positions, 0, len(series.dates) - 1)
    found = series.dates[positions] == days
    return np.where(found, series.columns[column][positions], np.nan)


def load_history(
    data_dir: Path,
    calendar: ExchangeCalendar | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    warmup_days: int = 60,
    max_gap_sessions: int = 5,
) -> tuple[MarketHistory, int]:
    """All files of ``data_dir`` checked and aligned on evaluation days.

    Returns the history (warm-up days included) and the index of the first day to evaluate. The
    evaluation range is [start, end] clipped to what the files cover; asking for days they do not
    cover, or a range with a gap of more than ``max_gap_sessions`` sessions, raises ``DataError``.
    """
    calendar = calendar or ExchangeCalendar()
    if not data_dir.is_dir():
        raise DataError(f"data directory {data_dir} does not exist")
    notes: list[LoadNote] = []
    vix = load_index_file(data_dir / "VIX_History.csv", OHLC, calendar, notes)
    spx = load_index_file(data_dir / "SPX_History.csv", OHLC, calendar, notes)
    curve = load_vx_curve(data_dir / "VX_term_structure.csv", calendar, notes)
    optional: dict[str, IndexSeries | None] = {}
    for key, file_name, columns in (
        ("vix9d", "VIX9D_History.csv", OHLC),
        ("vix3m", "VIX3M_History.csv", OHLC),
        ("vix6m", "VIX6M_History.csv", OHLC),
        ("vvix", "VVIX_History.csv", ("VVIX",)),
        ("skew", "SKEW_History.csv", ("SKEW",)),
    ):
        path = data_dir / file_name
        if path.exists():
            optional[key] = load_index_file(path, columns, calendar, notes)
        else:
            optional[key] = None
            notes.append(LoadNote(file_name, "missing", "file not found: the model's fallback is used (see report)"))

    common = np.intersect1d(np.intersect1d(vix.dates, spx.dates), curve.dates)
    if len(common) == 0:
        raise DataError("VIX_History.csv, SPX_History.csv and VX_term_structure.csv have no session in common")
    covered_first, covered_last = _to_date(common[0]), _to_date(common[-1])
    all_sessions = _session_dates(calendar, covered_first, covered_last)
    skipped = np.setdiff1d(all_sessions, common)
    if len(skipped):
        notes.append(
            LoadNote(
                "(all)",
                "gap",
                f"{len(skipped)} session(s) lack VIX, SPX or VX data: no evaluation on those days",
                len(skipped),
                _examples([str(d) for d in skipped]),
            )
        )
    if warmup_days >= len(common):
        raise DataError(f"the files share only {len(common)} sessions; at least {warmup_days + 1} are needed")
    first_evaluable = _to_date(common[warmup_days])
    if start is not None and start < first_evaluable:
        raise DataError(
            f"--start {start} is before the first day the files can support ({first_evaluable}: "
            f"{warmup_days} sessions of VX1 and SPX history are needed before it; VIX, SPX and VX data "
            f"start together on {covered_first})"
        )
    if end is not None and end > covered_last:
        raise DataError(f"--end {end} is after the last day all required files cover ({covered_last})")
    if start is not None and end is not None and end < start:
        raise DataError(f"--end {end} is before --start {start}")
    first_day = start or first_evaluable
    last_day = end or covered_last
    run_days = common[(common >= np.datetime64(first_day, "D")) & (common <= np.datetime64(last_day, "D"))]
    if len(run_days) == 0:
        raise DataError(f"no session with VIX, SPX and VX data between {first_day} and {last_day}")
    _check_gaps(calendar, run_days, common, max_gap_sessions)

    first_index = int(np.searchsorted(common, run_days[0]))
    last_index = int(np.searchsorted(common, run_days[-1]))
    days = common
    curve_rows = np.searchsorted(curve.dates, days)

    def optional_column(key: str, column: str) -> np.ndarray:
        series = optional[key]
        return _align(series, column, days) if series is not None else np.full(len(days), np.nan)

    full = MarketHistory(
        dates=days,
        vix_open=_align(vix, "OPEN", days),
        vix_high=_align(vix, "HIGH", days),
        vix_low=_align(vix, "LOW", days),
        vix_close=_align(vix, "CLOSE", days),
        spx_open=_align(spx, "OPEN", days),
        spx_close=_align(spx, "CLOSE", days),
        vix9d=optional_column("vix9d", "CLOSE"),
        vix3m=optional_column("vix3m", "CLOSE"),
        vix6m=optional_column("vix6m", "CLOSE"),
        vvix=optional_column("vvix", "VVIX"),
        skew=optional_column("skew", "SKEW"),
        vx_prices=curve.prices[curve_rows],
        vx_expiries=curve.expiries[curve_rows],
        notes=notes,
        chain_files=sorted((data_dir / "vix_option_chains").glob("*.csv")),
    )
    history = full.window(first_index - warmup_days, last_index + 1)
    history.notes = notes
    history.full = full
    for key, label in (("vvix", "VVIX"), ("vix9d", "VIX9D"), ("vix3m", "VIX3M"), ("vix6m", "VIX6M")):
        values = getattr(history, key)[warmup_days:]
        missing = int(np.isnan(values).sum())
        series = optional[key]
        if missing and series is not None:
            notes.append(
                LoadNote(
                    f"{label}_History.csv",
                    "info",
                    f"no {label} value on {missing} of the {len(values)} evaluation days "
                    f"(series starts {series.first})",
                    missing,
                )
            )
    return history, warmup_days


def _check_gaps(calendar: ExchangeCalendar, run_days: np.ndarray, common: np.ndarray, max_gap: int) -> None:
    sessions = _session_dates(calendar, _to_date(run_days[0]), _to_date(run_days[-1]))
    present = np.isin(sessions, common)
    run = 0
    for index, ok in enumerate(present):
        run = 0 if ok else run + 1
        if run > max_gap:
            gap_end = index
            while gap_end + 1 < len(present) and not present[gap_end + 1]:
                gap_end += 1
            gap_start = index - run + 1
            raise DataError(
                f"{gap_end - gap_start + 1} consecutive sessions without VIX, SPX or VX data "
                f"({sessions[gap_start]} to {sessions[gap_end]}), more than the {max_gap} a backtest can bridge; "
                "fill the gap in the files or choose --start/--end around it"
            )


CHAIN_COLUMNS = (
    "quote_date",
    "expiration",
    "strike",
    "option_type",
    "bid_1545",
    "ask_1545",
    "implied_underlying_price_1545",
    "implied_volatility_1545",
    "delta_1545",
)


def load_option_chain(path: Path, notes: list[LoadNote]) -> pd.DataFrame:
    """A Cboe VIX option EOD file: calls and puts with a two-sided 15:45 quote (others are counted, dropped)."""
    name = path.name
    frame = _read_csv(path)
    columns = {wanted: _column(frame, wanted, path) for wanted in CHAIN_COLUMNS}
    table = pd.DataFrame(
        {
            "quote_date": _parse_dates(frame[columns["quote_date"]]),
            "expiration": _parse_dates(frame[columns["expiration"]]),
            "strike": pd.to_numeric(frame[columns["strike"]], errors="coerce"),
            "right": frame[columns["option_type"]].str.strip().str.upper(),
            "bid": pd.to_numeric(frame[columns["bid_1545"]], errors="coerce"),
            "ask": pd.to_numeric(frame[columns["ask_1545"]], errors="coerce"),
            "underlying": pd.to_numeric(frame[columns["implied_underlying_price_1545"]], errors="coerce"),
            "iv": pd.to_numeric(frame[columns["implied_volatility_1545"]], errors="coerce"),
            "delta": pd.to_numeric(frame[columns["delta_1545"]], errors="coerce"),
        }
    )
    valid = (
        table["quote_date"].notna()
        & table["expiration"].notna()
        & (table["expiration"] > table["quote_date"])
        & np.isfinite(table["strike"])
        & (table["strike"] > 0)
        & table["right"].isin(["C", "P"])
        & np.isfinite(table["bid"])
        & np.isfinite(table["ask"])
        & (table["ask"] >= table["bid"])
    )
    two_sided = valid & (table["bid"] > 0.0)
    dropped = len(table) - int(two_sided.sum())
    if dropped:
        notes.append(
            LoadNote(
                name,
                "info",
                f"{dropped} of {len(table)} rows unused for calibration (expiring "
                "today, no bid, crossed or not parseable)",
                dropped,
            )
        )
    if not two_sided.any():
        raise DataError(f"{name}: no option with a two-sided quote")
    if table.loc[two_sided, "quote_date"].nunique() != 1:
        raise DataError(f"{name}: more than one quote_date in one file")
    result = table[two_sided].reset_index(drop=True)
    result["quote_date"] = result["quote_date"].dt.date
    result["expiration"] = result["expiration"].dt.date
    return result


def is_number(value: float) -> bool:
    return value is not None and math.isfinite(value)
