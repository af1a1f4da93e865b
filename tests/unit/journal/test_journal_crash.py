"""Crash simulation: a writer process killed at random points, many times, on the same journal.

After every kill the journal must reopen, hold every record the writer saw acknowledged (same seq,
same hash) and verify end to end. Every third round also simulates a power loss: bytes written after
the last durable point (the last acknowledgement or the anchor, whichever is later) are cut at a
random offset, leaving a torn line for the next open to quarantine.
"""

from __future__ import annotations

import datetime as dt
import random
import subprocess
import sys
import time
from pathlib import Path

from bot.journal.anchor import read_anchor
from bot.journal.encoding import LineError, check_line
from bot.journal.files import iter_lines, ledger_files
from bot.journal.verify import verify
from tests.unit.journal.journal_fabricate import StepClock, open_journal

WRITER = Path(__file__).with_name("crash_writer.py")
KILLS = 30


def _acknowledged(ack_file: Path) -> dict[int, str]:
    acks: dict[int, str] = {}
    for line in ack_file.read_text().splitlines():
        if line == "ready" or " " not in line:
            continue
        seq, digest = line.split()
        acks[int(seq)] = digest
    return acks


def _ledger(directory: Path) -> dict[int, tuple[str, Path, int]]:
    """seq -> (hash, file, end offset) of every complete, valid line."""
    found: dict[int, tuple[str, Path, int]] = {}
    for path in ledger_files(directory):
        for raw in iter_lines(path):
            if not raw.terminated:
                continue
            try:
                record = check_line(raw.data)
            except LineError:
                continue
            found[record.seq] = (record.hash, path, raw.offset + len(raw.data) + 1)
    return found


def _wait_ready(ack_file: Path, rounds_so_far: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if ack_file.exists() and ack_file.read_text().count("ready") > rounds_so_far:
            return
        if process.poll() is not None:
            raise AssertionError(f"the writer exited early: {process.stderr.read().decode() if process.stderr else ''}")
        time.sleep(0.002)
    raise AssertionError("the writer did not start")


def _simulate_power_loss(directory: Path, acks: dict[int, str], rng: random.Random) -> None:
    ledger = _ledger(directory)
    anchor = read_anchor(directory / "anchor.json")
    durable_seq = max([*acks, anchor.seq if anchor else 0, 0])
    files = ledger_files(directory)
    if not files:
        return
    last = files[-1]
    size = last.stat().st_size
    durable_end = 0
    if durable_seq in ledger and ledger[durable_seq][1] == last:
        durable_end = ledger[durable_seq][2]
    elif durable_seq in ledger:
        return  # the durable point is in an earlier file: nothing unsynced in this one to lose
    if size > durable_end:
        with last.open("r+b") as handle:
            handle.truncate(rng.randrange(durable_end, size + 1))


def test_killed_writers_never_lose_an_acknowledged_record(tmp_path: Path) -> None:
    rng = random.Random(20261124)
    directory = tmp_path / "journal"
    ack_file = tmp_path / "acks.txt"
    quarantined = 0
    for round_number in range(KILLS):
        process = subprocess.Popen(
            [sys.executable, str(WRITER), str(directory), str(ack_file), str(round_number)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            _wait_ready(ack_file, round_number, process)
            time.sleep(rng.uniform(0.0, 0.12))
        finally:
            process.kill()
            process.wait()
            if process.stderr:
                process.stderr.close()
        acks = _acknowledged(ack_file)
        ledger = _ledger(directory)
        missing = {seq for seq, digest in acks.items() if ledger.get(seq, ("",))[0] != digest}
        assert not missing, f"round {round_number}: acknowledged records lost or changed: {sorted(missing)[:10]}"
        if round_number % 3 == 2:
            _simulate_power_loss(directory, acks, rng)

        clock = StepClock(dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=round_number))
        with open_journal(directory, clock) as journal:
            assert journal.last_seq >= max(acks, default=0)
        report = verify(directory)
        assert report.ok, f"round {round_number}: {report.problems[:3]}"
        ledger = _ledger(directory)
        assert all(ledger[seq][0] == digest for seq, digest in acks.items())
        quarantined = len(list((directory / "quarantine").glob("*"))) if (directory / "quarantine").exists() else 0
    acks = _acknowledged(ack_file)
    assert len(acks) > KILLS  # the writers did get records acknowledged between kills
    assert len(ledger_files(directory)) > KILLS // 3  # and crossed month boundaries
    assert quarantined >= 1  # and the power losses left torn lines that went to quarantine
