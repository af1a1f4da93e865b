"""Time rules of strategy.md §1 and §5, from the snapshot's time and trading sessions (no wall clock).

- the trading window: regular hours of today's session minus the open/close margins, outside IB's
  maintenance windows;
- a contract's last trading day: its own, or the last session before expiry (VIX options stop
  trading the day before their Wednesday settlement);
- the next scheduled rebalance: the first session on or after the rebalance weekday in a later ISO
  week (a holiday Monday moves it to Tuesday: the catch-up rule);
- whether this evaluation may rebalance, under the weekly cap.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from strategies.alvh.config import WEEKDAY_NUMBERS, ScheduleConfig
from strategies.alvh.models import Book, EvaluationRequest, OptionContract, TradingSession


@dataclass(frozen=True)
class TradingWindow:
    open: bool
    reason: str


def local_time(moment: dt.datetime, config: ScheduleConfig) -> dt.datetime:
    return moment.astimezone(ZoneInfo(config.timezone))


def iso_week(moment: dt.datetime, config: ScheduleConfig) -> tuple[int, int]:
    year, week, _ = local_time(moment, config).isocalendar()
    return year, week


def session_on(day: dt.date, sessions: list[TradingSession]) -> TradingSession | None:
    for session in sessions:
        if session.date == day:
            return session
    return None


def trading_window(as_of: dt.datetime, sessions: list[TradingSession], config: ScheduleConfig) -> TradingWindow:
    local = local_time(as_of, config)
    session = session_on(local.date(), sessions)
    if session is None:
        return TradingWindow(False, f"{local.date().isoformat()} is not a trading day")
    clock = local.time()
    for window in config.maintenance_windows:
        inside = (
            window.start <= clock < window.end
            if window.start <= window.end
            else clock >= window.start or clock < window.end
        )
        if inside:
            return TradingWindow(False, f"inside IB maintenance window {window.start}-{window.end}")
    earliest = session.open + dt.timedelta(minutes=config.open_margin_minutes)
    latest = session.close - dt.timedelta(minutes=config.close_margin_minutes)
    if as_of < earliest:
        return TradingWindow(
            False, f"before {local_time(earliest, config):%H:%M} ({config.open_margin_minutes} min after the open)"
        )
    if as_of > latest:
        return TradingWindow(
            False, f"after {local_time(latest, config):%H:%M} ({config.close_margin_minutes} min before the close)"
        )
    return TradingWindow(
        True,
        f"regular hours {local_time(earliest, config):%H:%M}-{local_time(latest, config):%H:%M} with margins",
    )


def last_trade_date(contract: OptionContract, sessions: list[TradingSession]) -> dt.date | None:
    """The contract's last trading day; None when neither IB nor the calendar can tell."""
    if contract.last_trade_date is not None:
        return contract.last_trade_date
    before = [s.date for s in sessions if s.date < contract.expiry]
    if not before or not any(s.date >= contract.expiry for s in sessions):
        # The calendar must reach past expiry to know the last session before it for sure.
        return None
    return max(before)


def next_scheduled_rebalance(today: dt.date, sessions: list[TradingSession], config: ScheduleConfig) -> dt.date | None:
    """The first session on or after the rebalance weekday of a later ISO week than today's."""
    this_week = today.isocalendar()[:2]
    weekday = WEEKDAY_NUMBERS[config.rebalance_weekday]
    for session in sorted(sessions, key=lambda s: s.date):
        if session.date.isocalendar()[:2] > this_week and session.date.weekday() >= weekday:
            return session.date
    return None


@dataclass(frozen=True)
class RebalancePermission:
    opportunity: bool
    allowed: bool
    rule: str
    rebalances_this_week: int


def rebalance_permission(
    as_of: dt.datetime,
    request: EvaluationRequest,
    book: Book,
    window: TradingWindow,
    config: ScheduleConfig,
) -> RebalancePermission:
    """Whether this evaluation may send rebalance orders (§5), and the rule that decided it."""
    week = iso_week(as_of, config)
    done = sum(1 for moment in book.recent_rebalances if iso_week(moment, config) == week)
    cap = config.max_rebalances_per_week
    if not window.open:
        return RebalancePermission(False, False, f"no orders: {window.reason}", done)
    if request.trigger == "forced":
        if not (request.reason and request.reason.strip()):
            return RebalancePermission(False, False, "forced rebalance refused: a reason is required", done)
        over = " (over the weekly cap: override recorded)" if done >= cap else ""
        return RebalancePermission(
            True, True, f"forced by {request.operator or 'operator'}: {request.reason}{over}", done
        )
    local = local_time(as_of, config)
    if request.trigger == "manual":
        opportunity_rule = f"manual request by {request.operator or 'operator'}"
    else:
        weekday = WEEKDAY_NUMBERS[config.rebalance_weekday]
        earlier_opportunity = book.last_rebalance_opportunity is not None and (
            iso_week(book.last_rebalance_opportunity, config) == week
            and local_time(book.last_rebalance_opportunity, config).date() < local.date()
        )
        if local.weekday() == weekday:
            opportunity_rule = f"scheduled rebalance day ({config.rebalance_weekday})"
        elif local.weekday() > weekday and not earlier_opportunity and done == 0:
            opportunity_rule = (
                f"catch-up: no rebalance opportunity earlier this week ({config.rebalance_weekday} missed)"
            )
        else:
            return RebalancePermission(
                False, False, f"not a rebalance day (scheduled {config.rebalance_weekday}, weekly cap {cap})", done
            )
    if done >= cap:
        return RebalancePermission(
            True, False, f"{opportunity_rule}, but the weekly cap is used ({done} of {cap} this ISO week)", done
        )
    return RebalancePermission(True, True, f"{opportunity_rule}; {done} of {cap} rebalances used this week", done)
