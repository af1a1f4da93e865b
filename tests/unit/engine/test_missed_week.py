"""The missed-weekly-rebalance alert: raised once when a whole ISO week passed without a rebalance chance."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bot.clock import RealClock
from bot.config import parse_config
from bot.engine.service import BotService
from bot.store.database import Store

NY = dt.timezone(dt.timedelta(hours=-5))


def _service(tmp_path: Path) -> BotService:
    config = parse_config({"state": {"dir": str(tmp_path)}})
    service = BotService(config, RealClock())
    service.store = Store.open(tmp_path / "state.sqlite")
    return service


def _at(day: int, month: int = 1) -> dt.datetime:
    return dt.datetime(2027, month, day, 10, 0, tzinfo=NY)


async def test_a_week_without_any_rebalance_chance_is_alerted_once(tmp_path: Path) -> None:
    service = _service(tmp_path)
    assert service.store is not None
    service._check_missed_week(_at(4))  # the first run: nothing to compare with
    service.store.set_last_rebalance_opportunity(_at(4))
    service._check_missed_week(_at(11))  # week 1 had its Monday chance
    assert not [a for a in service.alerter.sent if a.kind == "missed_rebalance"]
    # the bot was away for the whole week of 11 January (last chance on the 4th), back on the 19th
    service._check_missed_week(_at(19))
    service._check_missed_week(_at(20))
    missed = [a for a in service.alerter.sent if a.kind == "missed_rebalance"]
    assert len(missed) == 1 and "2027-W02" in missed[0].message
    service.store.close()


async def test_no_alert_for_the_week_the_bot_started_in(tmp_path: Path) -> None:
    service = _service(tmp_path)
    assert service.store is not None
    service._check_missed_week(_at(7))  # first run on a Thursday, no chance yet that week
    service._check_missed_week(_at(11))
    assert not [a for a in service.alerter.sent if a.kind == "missed_rebalance"]
    service.store.close()
