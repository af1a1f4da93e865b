"""`alvh audit`: verify, list, show, replay, export, anchor and reindex on a fabricated journal."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from pathlib import Path

import pytest

from bot.cli.main import main
from tests.unit.journal.journal_fabricate import Fabricated


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["audit", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _state(fabricated: tuple[Path, Fabricated]) -> list[str]:
    return ["--state-dir", str(fabricated[0].parent)]


def test_verify(fabricated: tuple[Path, Fabricated], capsys: pytest.CaptureFixture[str]) -> None:
    directory, made = fabricated
    code, out, _ = _run(capsys, "verify", *_state(fabricated))
    assert code == 0 and "OK" in out and "anchor:  seq" in out and "blobs:   4 verified" in out
    code, out, _ = _run(capsys, "verify", "--json", *_state(fabricated))
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["records"] > len(made.records)

    ledger = sorted(directory.glob("ledger-*.jsonl"))[0]
    lines = ledger.read_bytes().split(b"\n")
    lines[6] = lines[6].replace(b'"status":"Submitted"', b'"status":"Cancelled"', 1)
    assert b"Cancelled" in lines[6]
    ledger.write_bytes(b"\n".join(lines))
    code, out, _ = _run(capsys, "verify", *_state(fabricated))
    assert code == 1
    assert (
        f"FAILED: altered: {ledger.name} line 7 (expected record seq 7, after seq 6): content does not match its hash"
        in out
    )


def test_verify_against_an_anchor_copy(
    fabricated: tuple[Path, Fabricated], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = _run(capsys, "anchor", *_state(fabricated))
    anchor = json.loads(out)
    assert code == 0 and anchor["seq"] > 0 and len(anchor["hash"]) == 64
    copy = tmp_path / "anchor-copy.json"
    copy.write_text(out)
    assert _run(capsys, "verify", "--anchor", str(copy), *_state(fabricated))[0] == 0
    copy.write_text(json.dumps({**anchor, "seq": anchor["seq"] + 5}))
    code, out, _ = _run(capsys, "verify", "--anchor", str(copy), *_state(fabricated))
    assert code == 1 and "truncated" in out
    copy.write_text("not json")
    assert _run(capsys, "verify", "--anchor", str(copy), *_state(fabricated))[0] == 2


def test_list(fabricated: tuple[Path, Fabricated], capsys: pytest.CaptureFixture[str]) -> None:
    _, made = fabricated
    code, out, _ = _run(capsys, "list", *_state(fabricated))
    assert code == 0 and "decision" in out and "harvest_fill" in out and "record(s)" in out
    code, out, _ = _run(capsys, "list", "--kind", "decision", "--json", *_state(fabricated))
    rows = json.loads(out)["records"]
    assert code == 0 and [row["seq"] for row in rows] == [record.seq for record in made.decisions]
    code, out, _ = _run(
        capsys, "list", "--intent", made.intents[0], "--kind", "fill,status", "--json", *_state(fabricated)
    )
    assert [row["kind"] for row in json.loads(out)["records"]] == ["status", "fill", "status"]
    code, out, _ = _run(capsys, "list", "--order-id", str(made.order_ids[0]), "--json", "--full", *_state(fabricated))
    records = json.loads(out)["records"]
    assert {record["kind"] for record in records} == {"sent", "status", "fill"}
    assert all("payload" in record and "hash" in record for record in records)
    code, out, _ = _run(
        capsys,
        "list",
        "--since",
        "2026-12-01",
        "--until",
        "2026-12-07",
        "--kind",
        "decision",
        "--json",
        *_state(fabricated),
    )
    assert [row["ts"][:10] for row in json.loads(out)["records"]] == ["2026-12-07"]  # --until DATE includes the day
    code, out, _ = _run(capsys, "list", "--slot", "near-1", "--limit", "2", "--json", *_state(fabricated))
    assert len(json.loads(out)["records"]) == 2
    assert _run(capsys, "list", "--kind", "Bad Kind", *_state(fabricated))[0] == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["audit", "list", "--since", "yesterday", *_state(fabricated)])
    assert exit_info.value.code == 2


def test_show(fabricated: tuple[Path, Fabricated], capsys: pytest.CaptureFixture[str]) -> None:
    _, made = fabricated
    decision = made.decisions[0]
    code, out, _ = _run(capsys, "show", str(decision.seq), *_state(fabricated))
    assert code == 0 and f"record seq {decision.seq}" in out and decision.hash in out and '"plan"' in out
    code, out, _ = _run(capsys, "show", decision.hash[:12], "--json", *_state(fabricated))
    assert json.loads(out)["record"]["hash"] == decision.hash
    snapshot = made.records[0]
    code, out, _ = _run(capsys, "show", str(snapshot.seq), "--blob", "--json", *_state(fabricated))
    document = json.loads(out)
    assert code == 0 and set(document["blob"]) == {"snapshot", "book", "strategy_config"}
    code, _, err = _run(capsys, "show", "99999", *_state(fabricated))
    assert code == 1 and "no record with seq 99999" in err


def test_replay(fabricated: tuple[Path, Fabricated], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _, made = fabricated
    decision = made.decisions[1]
    code, out, _ = _run(capsys, "replay", str(decision.seq), *_state(fabricated))
    assert code == 0 and "replayed plan is identical" in out
    # any record of the evaluation leads to its decision
    code, out, _ = _run(capsys, "replay", str(made.records[0].seq), "--json", *_state(fabricated))
    assert code == 0 and json.loads(out)["decision_seq"] == made.decisions[0].seq
    code, out, _ = _run(capsys, "replay", "--all", *_state(fabricated))
    assert code == 0 and "4 decision(s) replayed: 4 identical, 0 different" in out

    other = tmp_path / "tighter.toml"
    other.write_text("[strategy.sizing]\ntarget_pct = 0.08\ncap_pct = 0.12\n")
    code, out, _ = _run(capsys, "replay", str(decision.seq), "--config", str(other), *_state(fabricated))
    assert code == 1
    assert "replayed plan is DIFFERENT" in out and "sizing.cap_pct: recorded 0.15 -> replayed 0.12" in out
    assert re.search(r"record\.budget\.cap: recorded [\d.]+ -> replayed [\d.]+", out)
    code, out, _ = _run(
        capsys, "replay", str(decision.seq), "--config", str(other), "--recorded-config", *_state(fabricated)
    )
    assert code == 0
    assert _run(capsys, "replay", *_state(fabricated))[0] == 2


def test_export_csv(fabricated: tuple[Path, Fabricated], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _, made = fabricated
    out_file = tmp_path / "journal.csv"
    code, _, err = _run(capsys, "export", "--format", "csv", "--out", str(out_file), *_state(fabricated))
    assert code == 0 and "wrote" in err
    rows = list(csv.DictReader(io.StringIO(out_file.read_text())))
    assert len(rows) == len(made.records) + 2 * len(made.decisions)
    decisions = [row for row in rows if row["kind"] == "decision"]
    assert all(float(row["coverage_after"]) > 0 and float(row["premium_at_risk_after"]) > 0 for row in decisions)
    fills = [row for row in rows if row["kind"] == "fill"]
    assert fills and all(row["order_id"] and row["price"] and row["side"] in ("BOT", "SLD") for row in fills)
    assert all(row["account"].startswith("DU****567#") for row in rows)


def test_export_html_is_one_self_contained_file(
    fabricated: tuple[Path, Fabricated], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _, made = fabricated
    out_file = tmp_path / "journal.html"
    code, _, _ = _run(capsys, "export", "--format", "html", "--out", str(out_file), *_state(fabricated))
    assert code == 0
    text = out_file.read_text()
    assert text.startswith("<!DOCTYPE html>") and "chain intact" in text
    assert not re.search(r"""(src|href)=["'](?!data:)""", text)  # nothing loaded from elsewhere
    png = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert png and base64.b64decode(png.group(1)).startswith(b"\x89PNG")
    for intent in made.intents:
        assert intent in text
    assert text.count('class="cycle"') == len(made.decisions)
    assert "harvest_fill" in text and "premium_cap passed" in text


def test_reindex_and_errors(
    fabricated: tuple[Path, Fabricated], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = _run(capsys, "reindex", *_state(fabricated))
    assert code == 0 and "indexed" in out
    code, _, err = _run(capsys, "list", "--state-dir", str(tmp_path / "nowhere"))
    assert code == 1 and "no journal" in err


def test_auditing_while_the_bot_is_writing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.unit.journal.journal_fabricate import EXAMPLE_AS_OF, StepClock, open_journal

    clock = StepClock(EXAMPLE_AS_OF)
    directory = tmp_path / "state" / "journal"
    state = ["--state-dir", str(tmp_path / "state")]
    with open_journal(directory, clock) as journal:
        for number in range(5):
            journal.append("status", {"status": "Submitted", "n": number}, refs={"intent": "x"})
        code, out, _ = _run(capsys, "list", "--intent", "x", "--json", *state)
        assert code == 0 and len(json.loads(out)["records"]) == 5
        with (directory / sorted(p.name for p in directory.glob("ledger-*"))[-1]).open("ab") as handle:
            handle.write(b'{"account":')  # what a reader may see while a line is being appended
        code, out, _ = _run(capsys, "verify", *state)
        assert code == 0 and "being written by the running bot" in out
        code, _, err = _run(capsys, "reindex", *state)
        assert code == 1 and "stop it first" in err
