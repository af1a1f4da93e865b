"""Loaders: the known values of SOURCES.md, and clear skips or stops on bad files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from bot.backtest.listing import monthly_vix_expiry_for_month, weekly_vix_expiries
from bot.backtest.loaders import DataError, LoadNote, load_history, load_index_file, load_vx_curve
from bot.calendar import ExchangeCalendar

CALENDAR = ExchangeCalendar()
KNOWN_DAY = dt.date(2018, 2, 5)


def test_known_values_of_2018_02_05(data_dir: Path) -> None:
    history, warmup = load_history(data_dir, start=dt.date(2018, 1, 2), end=dt.date(2018, 3, 29))
    index = history.index_of(KNOWN_DAY)
    assert history.vix_close[index] == pytest.approx(37.32)
    assert history.vix_high[index] == pytest.approx(38.80)
    assert history.spx_close[index] == pytest.approx(2648.94)
    assert history.vx_prices[index, 0] == pytest.approx(33.225)
    assert history.vx_prices[index, 1] == pytest.approx(27.975)
    assert history.vx_prices[index, 0] > history.vx_prices[index, 1]  # backwardation that day
    assert str(history.vx_expiries[index, 0]) == "2018-02-14"
    assert history.date(warmup) == dt.date(2018, 1, 2)
    assert warmup == 60


def test_the_whole_range_and_its_notes(data_dir: Path) -> None:
    history, warmup = load_history(data_dir)
    assert history.date(warmup) == dt.date(2007, 6, 27)  # 60 VX sessions after 2007-04-02
    assert history.date(len(history) - 1) == dt.date(2019, 12, 31)
    assert np.all(np.diff(history.dates.astype("int64")) > 0)
    rendered = [note.render() for note in history.notes]
    # VX rows on CFE-only days (Good Friday 2015, 5 Dec 2018) are holidays of the options calendar.
    assert any("VX_term_structure.csv" in text and "2018-12-05" in text and "holidays" in text for text in rendered)
    assert any("VIX_History.csv" in text and "widened" in text for text in rendered)
    assert any("VX4 missing" in text for text in rendered)


def test_every_vx_expiry_follows_the_listing_rule(data_dir: Path) -> None:
    notes: list[LoadNote] = []
    curve = load_vx_curve(data_dir / "VX_term_structure.csv", CALENDAR, notes)
    expiries = {dt.date.fromisoformat(str(e)) for e in np.unique(curve.expiries[~np.isnat(curve.expiries)])}
    assert len(expiries) > 150
    assert all(monthly_vix_expiry_for_month(e.year, e.month, CALENDAR) == e for e in expiries)
    assert not any("listing rule" in note.message for note in notes)


def test_weeklies_are_listed_only_from_late_2015() -> None:
    assert weekly_vix_expiries(dt.date(2015, 6, 1), 31, dt.date(2015, 10, 8)) == []
    listed = weekly_vix_expiries(dt.date(2016, 6, 1), 31, dt.date(2015, 10, 8))
    # The real chain of 2016-06-01 lists exactly these weeklies (06-15 is the monthly).
    assert listed == [dt.date(2016, 6, 8), dt.date(2016, 6, 22), dt.date(2016, 6, 29)]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_bad_rows_are_skipped_and_said(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "VIX_History.csv",
        "DATE,OPEN,HIGH,LOW,CLOSE\n"
        "01/05/2018,9.5,9.8,9.2,9.22\n"
        "01/03/2018,9.2,9.4,9.0,9.15\n"  # out of order
        "not a date,1,1,1,1\n"
        "01/04/2018,9.1,9.3,8.9,NaN\n"
        "01/08/2018,9.5,9.6,9.4,abc\n"
        "01/09/2018,9.5,9.2,9.4,10.08\n"  # HIGH below CLOSE
        "01/09/2018,9.5,9.2,9.4,10.08\n"  # exact duplicate
        "01/01/2018,9.5,9.6,9.4,9.77\n"  # New Year's Day: no session
        "01/10/2018,,,,9.82\n",
    )
    notes: list[LoadNote] = []
    series = load_index_file(path, ("OPEN", "HIGH", "LOW", "CLOSE"), CALENDAR, notes)
    assert [str(d) for d in series.dates] == ["2018-01-03", "2018-01-05", "2018-01-09", "2018-01-10"]
    text = "\n".join(note.render() for note in notes)
    assert "1 row(s) with a date that does not parse" in text and "line 4" in text
    assert "2 row(s) whose CLOSE is missing, not a number or not positive" in text
    assert "sorted by date" in text
    assert "1 exact duplicate row(s) dropped" in text
    assert "no CBOE_Index_Options session" in text and "2018-01-01" in text
    assert "widened" in text
    assert "without a valid OPEN" in text
    assert "session(s) between" in text and "have no row" in text  # 01-04 and 01-08 are gaps now
    assert series.columns["HIGH"][2] == pytest.approx(10.08)


def test_conflicting_duplicates_stop_the_load(tmp_path: Path) -> None:
    path = _write(tmp_path / "VVIX_History.csv", "DATE,VVIX\n01/03/2018,90.1\n01/03/2018,91.5\n01/04/2018,92\n")
    with pytest.raises(DataError, match=r"appear more than once with different values \(2018-01-03\)"):
        load_index_file(path, ("VVIX",), CALENDAR, [])


def test_missing_column_and_empty_file_stop(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no column 'CLOSE'"):
        load_index_file(_write(tmp_path / "a.csv", "DATE,OPEN\n01/03/2018,1\n"), ("CLOSE",), CALENDAR, [])
    with pytest.raises(DataError, match="empty"):
        load_index_file(_write(tmp_path / "b.csv", ""), ("CLOSE",), CALENDAR, [])
    with pytest.raises(DataError, match="no usable rows"):
        load_index_file(_write(tmp_path / "c.csv", "DATE,CLOSE\nx,1\n"), ("CLOSE",), CALENDAR, [])


def test_vx_rows_without_front_contracts_are_skipped(tmp_path: Path) -> None:
    header = "date,VX1,VX1_expiry,VX1_dte,VX2,VX2_expiry,VX2_dte,VX3,VX3_expiry,VX3_dte\n"
    rows = (
        "2018-01-02,10.5,2018-01-17,15,11.8,2018-02-14,43,12.9,2018-03-21,78\n"
        "2018-01-03,,2018-01-17,14,11.7,2018-02-14,42,12.8,2018-03-21,77\n"  # VX1 missing
        "2018-01-04,10.4,2018-01-17,13,11.6,2018-02-14,42,,2018-03-21,76\n"  # VX3 missing, wrong VX2 dte
        "2018-01-05,10.3,2018-02-14,40,11.5,2018-01-17,12,12.6,2018-03-21,75\n"  # VX2 before VX1
    )
    notes: list[LoadNote] = []
    curve = load_vx_curve(_write(tmp_path / "VX_term_structure.csv", header + rows), CALENDAR, notes)
    assert [str(d) for d in curve.dates] == ["2018-01-02", "2018-01-04"]
    assert np.isnan(curve.prices[1, 2])
    text = "\n".join(note.render() for note in notes)
    assert "2 row(s) without a valid VX1 and VX2" in text
    assert "VX3 missing on 1 day(s)" in text
    assert "DTE recomputed" in text


def test_missing_required_file_and_uncovered_range_stop(data_copy: Path) -> None:
    with pytest.raises(DataError, match="before the first day the files can support \\(2007-06-27"):
        load_history(data_copy, start=dt.date(2005, 1, 3))
    with pytest.raises(DataError, match="after the last day all required files cover \\(2019-12-31\\)"):
        load_history(data_copy, end=dt.date(2020, 6, 1))
    with pytest.raises(DataError, match="is before --start"):
        load_history(data_copy, start=dt.date(2018, 3, 1), end=dt.date(2018, 2, 1))
    (data_copy / "VX_term_structure.csv").unlink()
    with pytest.raises(DataError, match=r"VX_term_structure\.csv: file not found"):
        load_history(data_copy)


def test_optional_files_may_be_missing(data_copy: Path) -> None:
    for name in ("VVIX_History.csv", "VIX9D_History.csv", "SKEW_History.csv"):
        (data_copy / name).unlink()
    history, _warmup = load_history(data_copy, start=dt.date(2018, 1, 2), end=dt.date(2018, 1, 31))
    assert np.isnan(history.vvix).all()
    assert any(note.file == "VVIX_History.csv" and note.kind == "missing" for note in history.notes)


def test_a_long_gap_inside_the_range_stops(data_copy: Path) -> None:
    path = data_copy / "VIX_History.csv"
    lines = path.read_text().splitlines()
    kept = [line for line in lines if not line.startswith(("03/0", "03/1")) or "/2018" not in line]
    path.write_text("\n".join(kept) + "\n")
    with pytest.raises(DataError, match=r"consecutive sessions without VIX, SPX or VX data \(2018-03-01"):
        load_history(data_copy, start=dt.date(2018, 1, 2), end=dt.date(2018, 4, 30))
    # A range that avoids the gap works, and later days are still usable.
    history, warmup = load_history(data_copy, start=dt.date(2018, 4, 2), end=dt.date(2018, 6, 29))
    assert history.date(warmup) == dt.date(2018, 4, 2)


def test_a_short_gap_is_skipped_with_a_note(data_copy: Path) -> None:
    path = data_copy / "SPX_History.csv"
    lines = [line for line in path.read_text().splitlines() if not line.startswith("02/07/2018")]
    path.write_text("\n".join(lines) + "\n")
    history, _ = load_history(data_copy, start=dt.date(2018, 1, 2), end=dt.date(2018, 3, 29))
    with pytest.raises(KeyError):
        history.index_of(dt.date(2018, 2, 7))
    assert any("lack VIX, SPX or VX data" in note.message and "2018-02-07" in note.examples for note in history.notes)


def test_newer_years_work(tmp_path: Path, synthetic) -> None:  # type: ignore[no-untyped-def]
    """Files that run past 2019 (a user's newer Cboe download) load like any other range."""
    days = synthetic(tmp_path / "data", [16.0] * 120, [4000.0] * 120, first_day=dt.date(2023, 1, 3))
    history, warmup = load_history(tmp_path / "data")
    assert history.date(len(history) - 1) == days[-1]
    assert history.date(warmup) == days[60]
