"""Config schema and `alvh config check`: valid files pass, every problem is named with key, value, range."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli.main import main
from bot.config import BotConfig, ConfigError, load_config, parse_config

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "config" / "paper.toml"


def test_example_config_is_valid_and_equals_the_defaults_where_it_says_so() -> None:
    config = load_config(EXAMPLE)
    defaults = BotConfig()
    assert config.strategy.buckets == defaults.strategy.buckets
    assert config.strategy.sizing == defaults.strategy.sizing
    assert config.strategy.schedule == defaults.strategy.schedule
    assert config.strategy.harvest == defaults.strategy.harvest
    assert len(config.strategy.events) == 4
    assert config.strategy.buckets.slot_ids() == [
        "near-1",
        "near-2",
        "near-3",
        "near-4",
        "mid-1",
        "mid-2",
        "mid-3",
        "mid-4",
        "long-1",
        "long-2",
    ]


def test_config_check_accepts_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", str(EXAMPLE)]) == 0
    assert "valid" in capsys.readouterr().out


def test_config_check_names_every_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[connection]\nport = "four thousand"\n\n[strategy.sizing]\ncap_pct = 0.5\n\n'
        "[strategy.harvest]\nmultipliers = [5, 10]\n\n[strategy.schedule]\nmax_rebalances_per_week = 3\n"
    )
    assert main(["config", "check", str(bad)]) == 2
    out = capsys.readouterr().out
    assert "connection.port = 'four thousand'" in out and "valid integer" in out
    assert "strategy.sizing.cap_pct = 0.5" in out and "<= 0.15" in out
    assert "strategy.harvest.multipliers" in out and "unknown key" in out and "multiples" in out
    assert "strategy.schedule.max_rebalances_per_week = 3" in out and "<= 2" in out
    assert "Traceback" not in out


@pytest.mark.parametrize(
    ("toml", "fragment"),
    [
        ('[connection]\nhost = "10.0.0.5"\n', "not a loopback address"),
        (
            "[strategy.buckets.near]\nslots = 4\nbuy_window_min_dte = 7\nbuy_window_max_dte = 14\n"
            "leave_below_dte = 4\ndelta_ladder = [0.4]\n",
            "delta_ladder has 1 targets but the bucket has 4 slots",
        ),
        ("[strategy.sizing]\ntarget_pct = 0.12\ncap_pct = 0.10\n", "must not exceed cap_pct"),
        ("[strategy.sizing]\nbucket_budget_shares = { near = 0.5, mid = 0.5, long = 0.5 }\n", "add up to 1.0"),
        ('[strategy.schedule]\ntimezone = "Mars/Olympus"\n', "unknown time zone"),
        ("[strategy.harvest]\nmultiples = [10.0, 5.0]\n", "strictly increasing"),
        ('[[strategy.events]]\ndate = 2026-12-09\nkind = "GDP"\n', "strategy.events.0.kind"),
        ("this is not toml", "not valid TOML"),
    ],
)
def test_each_bad_value_is_explained(tmp_path: Path, toml: str, fragment: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert fragment in raised.value.render()


def test_missing_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", str(tmp_path / "nope.toml")]) == 2
    assert "file not found" in capsys.readouterr().out


def _problems(data: dict[str, object]) -> str:
    with pytest.raises(ConfigError) as raised:
        parse_config(data)
    return raised.value.render()


def test_every_level_forbids_unknown_keys() -> None:
    for section in ("connection", "account", "state", "logging"):
        assert f"{section}.surprise = 1: unknown key" in _problems({section: {"surprise": 1}})
    for section in ("buckets", "sizing", "coverage", "signals", "harvest", "schedule", "quotes", "exits", "condors"):
        assert f"strategy.{section}.surprise = 1: unknown key" in _problems({"strategy": {section: {"surprise": 1}}})
    assert "strategy.buckets.near.surprise" in _problems({"strategy": {"buckets": {"near": {"surprise": 1}}}})


def test_strategy_hash_changes_with_the_strategy_only() -> None:
    base = BotConfig()
    other_port = parse_config({"connection": {"port": 7497}})
    other_cap = parse_config({"strategy": {"sizing": {"cap_pct": 0.12}}})
    assert base.strategy_hash() == other_port.strategy_hash()
    assert base.strategy_hash() != other_cap.strategy_hash()
