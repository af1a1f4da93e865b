"""`alvh backtest` end to end on a short real range: the three outputs, the answer, the exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli.main import main

REPO_ROOT = Path(__file__).resolve().parents[3]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="module")
def data_dir() -> Path:
    if not (SHARED_DATA / "VIX_History.csv").exists():
        pytest.skip(f"shared history data not found at {SHARED_DATA}")
    return SHARED_DATA


def test_backtest_writes_summary_report_and_plots(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bt"
    status = main(
        ["backtest", "--data", str(data_dir), "--out", str(out), "--start", "2018-01-02", "--end", "2018-03-29",
         "--workers", "2", "--quiet"]
    )  # fmt: skip
    assert status == 0
    printed = capsys.readouterr().out
    assert "alvh_weekly" in printed and "2018-01-22" in printed
    for name in ("summary.json", "report.html", "details.json", "trades.csv", "equity.png", "drawdown.png",
                 "vix_episodes.png", "coverage.png", "hedge_pnl.png", "episode_offsets.png"):  # fmt: skip
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["period"] == {"start": "2018-01-02", "end": "2018-03-29", "evaluation_days": 61}
    assert list(summary["variants"]) == ["unhedged", "alvh_weekly", "alvh_daily", "alvh_no_harvest", "vxth_style"]
    (episode,) = summary["episodes"]
    weekly = episode["variants"]["alvh_weekly"]
    report = (out / "report.html").read_text()
    assert report.count("data:image/png;base64,") == 6 and "<script" not in report
    assert "Episode 1 (2018-01-22 to the VIX peak on 2018-02-05" in report
    # The plain-words answer quotes the table's figures.
    assert f"an offset of {weekly['offset_ratio']:.0%}" in report
    assert f"${weekly['hedge_gain']:,.0f}" in report
    assert "Assumptions" in report and "calibrated to VIX_EOD_2016-06-01.csv" in report


def test_json_output_and_a_variant_subset(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(
        ["backtest", "--data", str(data_dir), "--out", str(tmp_path / "o"), "--start", "2019-07-01", "--end",
         "2019-08-30", "--variants", "unhedged,alvh_weekly", "--json", "--workers", "1"]
    )  # fmt: skip
    assert status == 0
    document = json.loads(capsys.readouterr().out)
    assert list(document["variants"]) == ["unhedged", "alvh_weekly"]


def test_clear_refusals(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["backtest", "--data", str(data_dir), "--out", str(tmp_path), "--start", "2006-01-03"])
    assert status == 1
    assert (
        "backtest stopped: --start 2006-01-03 is before the first day the files can support" in capsys.readouterr().err
    )
    status = main(["backtest", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path)])
    assert status == 1
    assert "does not exist" in capsys.readouterr().err
    settings = tmp_path / "settings.toml"
    settings.write_text("[condors]\nquantity = 0\n")
    status = main(["backtest", "--data", str(data_dir), "--out", str(tmp_path), "--settings", str(settings)])
    assert status == 2
    assert "condors.quantity = 0" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["backtest", "--data", str(data_dir), "--out", str(tmp_path), "--variants", "alvh_hourly"])
    assert exit_info.value.code == 2
