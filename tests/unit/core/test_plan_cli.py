"""`alvh plan`: the example input gives a plan explaining all ten slots; schemas; bad input is a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli.main import main
from strategies.alvh.models import Book, MarketSnapshot

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures"
SNAPSHOT = FIXTURES / "snapshot_example.json"
BOOK = FIXTURES / "book_example.json"


def test_plan_json_explains_all_ten_slots(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--snapshot", str(SNAPSHOT), "--book", str(BOOK), "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    slots = plan["record"]["slots"]
    assert [s["slot_id"] for s in slots] == [f"near-{i}" for i in range(1, 5)] + [f"mid-{i}" for i in range(1, 5)] + [
        "long-1",
        "long-2",
    ]
    assert all(s["reason"] and s["rule"] and s["outcome"] for s in slots)
    assert plan["is_rebalance"] is True
    kinds = [a["kind"] for a in plan["actions"]]
    assert "migrate" in kinds and "sell" in kinds and "buy" in kinds


def test_plan_is_the_same_bytes_every_time(capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    for _ in range(2):
        assert main(["plan", "--snapshot", str(SNAPSHOT), "--book", str(BOOK), "--json"]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]


def test_plan_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--snapshot", str(SNAPSHOT), "--book", str(BOOK)]) == 0
    out = capsys.readouterr().out
    assert "near-1" in out and "long-2" in out and "Actions" in out


def test_schema_describes_both_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--schema"]) == 0
    schemas = json.loads(capsys.readouterr().out)
    assert "vix_options" in schemas["snapshot"]["properties"]
    assert "slots" in schemas["book"]["properties"]


def test_fixtures_match_the_models() -> None:
    MarketSnapshot.model_validate_json(SNAPSHOT.read_text())
    Book.model_validate_json(BOOK.read_text())


def test_bad_snapshot_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "snapshot.json"
    broken.write_text(json.dumps({"as_of": "yesterday", "vix_options": [{"bid": 1}]}))
    assert main(["plan", "--snapshot", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "is not a valid market snapshot" in err and "as_of" in err
    assert main(["plan", "--snapshot", str(tmp_path / "missing.json")]) == 2
    assert main(["plan"]) == 2
