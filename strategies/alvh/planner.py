"""The ALVH planner: ``plan(snapshot, book, config) -> Plan``, strategy.md §1-§6.

Pure and deterministic: the same inputs give the same plan, byte for byte (``Plan.canonical_json``).
The live bot, dry runs, the backtest and audit replay all call this one function.

A rebalance works in the order of §1: (0) in backwardation, layers marked at the rebalance-harvest
multiple are sold whole; (1) near layers that must leave are sold, freeing their slots; (2) mid
layers that must leave migrate into free near slots, else roll within mid; (3) long layers likewise
into mid; (4) slots still empty are filled: a near slot emptied at step (1) is refilled as a roll
(always allowed), any other empty slot is opened if §3's signals allow. Outside a rebalance only the
resting harvest ladders are maintained. Every slot gets a decision saying what happened and why.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from pydantic import JsonValue

from strategies.alvh.config import BUCKET_ORDER, BucketName, StrategyConfig
from strategies.alvh.ids import intent_id
from strategies.alvh.models import (
    REBALANCE_ROLES,
    Action,
    Book,
    Budget,
    CondorSummary,
    Coverage,
    DecisionRecord,
    Evaluation,
    Layer,
    MarketSnapshot,
    OptionContract,
    OptionQuote,
    OrderRole,
    Plan,
    Signals,
    SlotDecision,
    WorkingOrder,
)
from strategies.alvh.quotes import (
    DeltaEstimate,
    buy_limits,
    call_deltas,
    check_quote,
    future_price_for,
    is_finite_number,
    is_worthless,
    mid_price,
    sell_limits,
)
from strategies.alvh.schedule import (
    RebalancePermission,
    TradingWindow,
    last_trade_date,
    next_scheduled_rebalance,
    rebalance_permission,
    trading_window,
)
from strategies.alvh.signals import (
    clean_history,
    describe_opens,
    events_ahead,
    front_monthly_futures,
    macd,
    rsi,
    usable_price,
)
from strategies.alvh.sizing import (
    CONTRACT_MULTIPLIER,
    beta_at,
    contracts_for,
    harvest_actions,
    harvest_ladder,
)
from strategies.condors import (
    CondorBook,
    IronCondor,
    condor_mark_pnl,
    condor_vega_dollars,
    find_condors,
)
from strategies.pricing import black_scholes, implied_vol_black_scholes, years_from_days

BLOCKING_ROLES = frozenset({"open", "roll_buy", "roll_sell", "close", "rebalance_harvest"})


def plan(snapshot: MarketSnapshot, book: Book, config: StrategyConfig) -> Plan:
    """The actions for this evaluation and the decision record that explains them."""
    return _Planner(snapshot, book, config).run()


# --------------------------------------------------------------------------------------------------
# Working state


@dataclass
class _SlotWork:
    slot_id: str
    bucket: BucketName
    index: int
    delta_target: float
    layer: Layer | None
    harvest_orders: list[WorkingOrder]
    blocking_orders: list[WorkingOrder]
    state_before: str
    vacated_at_step_one: bool = False
    vacated_basis: float = 0.0
    vacated_by: str | None = None
    vacated_proceeds: float = 0.0
    harvested_now: bool = False
    selling: bool = False
    incoming: _IncomingBuy | None = None
    outcomes: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    details: dict[str, JsonValue] = field(default_factory=dict)

    def note(self, outcome: str, rule: str, reason: str, **details: JsonValue) -> None:
        self.outcomes.append(outcome)
        self.rules.append(rule)
        self.reasons.append(reason)
        self.details.update(details)

    @property
    def busy(self) -> bool:
        return bool(self.blocking_orders)

    @property
    def empty(self) -> bool:
        return self.layer is None and self.incoming is None


@dataclass(frozen=True)
class _IncomingBuy:
    contract: OptionContract
    quantity: int
    limit_bound: float
    hedge_dollars: float


@dataclass(frozen=True)
class _Sizing:
    quantity: int
    limits: tuple[float, float] | None
    limited_by: str
    text: str


@dataclass(frozen=True)
class _Candidate:
    quote: OptionQuote
    delta: float
    delta_source: str


@dataclass(frozen=True)
class _LayerView:
    """What the planner knows of a held layer's market: quote usability, mark, delta, DTE."""

    quote: OptionQuote | None
    quote_problem: str
    mark: float | None
    delta: DeltaEstimate
    dte: int
    last_trade: dt.date | None


class _Planner:
    def __init__(self, snapshot: MarketSnapshot, book: Book, config: StrategyConfig) -> None:
        self.snapshot = snapshot
        self.book = book
        self.config = config
        self.as_of = snapshot.as_of
        self.today = snapshot.as_of.astimezone(ZoneInfo(config.schedule.timezone)).date()
        self.actions: list[Action] = []
        self.alerts: list[str] = []
        self.refusals: list[str] = []
        self.quotes: dict[str, OptionQuote] = {}
        self.ambiguous_keys: set[str] = set()
        self.calls_by_expiry: dict[dt.date, list[OptionQuote]] = {}
        self.delta_cache: dict[str, DeltaEstimate] = {}
        self.future_notes: dict[dt.date, str] = {}
        self.view_cache: dict[str, _LayerView] = {}
        self._index_quotes()

    # ------------------------------------------------------------------ entry

    def run(self) -> Plan:
        window = trading_window(self.as_of, self.snapshot.sessions, self.config.schedule)
        permission = rebalance_permission(self.as_of, self.snapshot.request, self.book, window, self.config.schedule)
        self.next_rebalance = next_scheduled_rebalance(self.today, self.snapshot.sessions, self.config.schedule)
        if self.next_rebalance is None:
            self.alerts.append("the trading calendar does not reach the next scheduled rebalance")
        self.signals = self._signals()
        self.condor_book = find_condors(self.book.condor_legs)
        self.slots = self._load_slots()
        self.credit, credit_source = self._credit()
        self.condor_dollars = self._condor_vega_dollars()
        budget_targets = self._budgets()
        self.cap = self.config.sizing.cap_pct * self.credit
        self.premium_at_risk = self._premium_at_risk_now()
        premium_at_risk_before = self.premium_at_risk
        hedge_before = self._hedge_dollars_now()
        self.hedge_dollars = hedge_before

        if permission.allowed:
            self._rebalance()
        else:
            self._no_rebalance(permission)
        self._maintain_harvest_ladders(window.open)
        self._expiry_alerts(permission)

        condor_summaries, combined = self._condor_summaries()
        coverage = Coverage(
            condor_dollars_per_vol_point=self.condor_dollars,
            hedge_dollars_per_vix_point_before=hedge_before,
            hedge_dollars_per_vix_point_after=self.hedge_dollars,
            coverage_before=self._coverage(hedge_before),
            coverage_after=self._coverage(self.hedge_dollars),
            max_coverage=self.config.coverage.max_coverage,
        )
        if coverage.coverage_after is not None and coverage.coverage_after < self.config.coverage.alert_below:
            self.alerts.append(
                f"coverage {coverage.coverage_after:.2f} below the alert floor {self.config.coverage.alert_below:g}"
            )
        bucket_budgets, slot_budgets = budget_targets
        budget = Budget(
            credit=self.credit,
            credit_source=credit_source,
            target=self.config.sizing.target_pct * self.credit,
            cap=self.cap,
            bucket_budgets=bucket_budgets,
            slot_budgets=slot_budgets,
            premium_at_risk_before=premium_at_risk_before,
            premium_at_risk_after=self.premium_at_risk,
        )
        is_rebalance = any(action.role in REBALANCE_ROLES for action in self.actions)
        hedge_unrealized = self._hedge_unrealized()
        record = DecisionRecord(
            as_of=self.as_of,
            evaluation=self._evaluation(window, permission),
            signals=self.signals,
            budget=budget,
            coverage=coverage,
            slots=[self._slot_decision(slot) for slot in self.slots],
            condors=condor_summaries,
            unmatched_legs=[leg.describe() for leg in self.condor_book.unmatched],
            combined_pnl=None
            if combined is None or hedge_unrealized is None
            else combined + hedge_unrealized + self.book.hedge_realized_pnl,
            hedge_unrealized_pnl=hedge_unrealized,
            alerts=self.alerts,
            refusals=self.refusals,
            summary=self._summary(permission, is_rebalance),
        )
        return Plan(as_of=self.as_of, actions=self.actions, record=record, is_rebalance=is_rebalance)

    # ------------------------------------------------------------------ inputs

    def _index_quotes(self) -> None:
        seen: set[str] = set()
        for quote in self.snapshot.vix_options:
            key = quote.contract.key
            if key in seen:
                self.ambiguous_keys.add(key)
            seen.add(key)
            self.quotes[key] = quote
        for key in sorted(self.ambiguous_keys):
            del self.quotes[key]
            self.refusals.append(f"{key}: two different quotes in one snapshot; neither is used")
        for quote in self.quotes.values():
            contract = quote.contract
            if contract.symbol == "VIX" and contract.right == "C" and contract.expiry > self.today:
                self.calls_by_expiry.setdefault(contract.expiry, []).append(quote)
        for calls in self.calls_by_expiry.values():
            calls.sort(key=lambda quote: quote.contract.strike)

    def _future_price(self, expiry: dt.date) -> float | None:
        price, note = future_price_for(expiry, self.today, self.snapshot.vx_futures)
        self.future_notes[expiry] = note
        return price

    def _deltas_for_expiry(self, expiry: dt.date) -> None:
        calls = self.calls_by_expiry.get(expiry, [])
        missing = [quote for quote in calls if quote.contract.key not in self.delta_cache]
        if not missing:
            return
        estimates = call_deltas(missing, self._future_price(expiry), self.today, self.config.quotes.risk_free_rate)
        for quote, estimate in zip(missing, estimates, strict=True):
            self.delta_cache[quote.contract.key] = estimate

    def _delta_of(self, contract: OptionContract) -> DeltaEstimate:
        key = contract.key
        if key not in self.delta_cache:
            if key in self.quotes:
                self._deltas_for_expiry(contract.expiry)
            if key not in self.delta_cache:
                return DeltaEstimate(None, "no quote for the contract")
        return self.delta_cache[key]

    def _layer_view(self, layer: Layer) -> _LayerView:
        cached = self.view_cache.get(layer.contract.key)
        if cached is not None:
            return cached
        view = self._build_layer_view(layer)
        self.view_cache[layer.contract.key] = view
        return view

    def _build_layer_view(self, layer: Layer) -> _LayerView:
        quote = self.quotes.get(layer.contract.key)
        check = check_quote(quote, self.as_of, self.config.quotes)
        mark = mid_price(quote) if quote is not None and check.usable else None
        return _LayerView(
            quote=quote if check.usable else None,
            quote_problem=check.problem,
            mark=mark,
            delta=self._delta_of(layer.contract),
            dte=(layer.contract.expiry - self.today).days,
            last_trade=last_trade_date(layer.contract, self.snapshot.sessions),
        )

    def _signals(self) -> Signals:
        config = self.config.signals
        vx1_future, vx2_future = front_monthly_futures(self.snapshot.vx_futures, self.today)
        vx1, vx2 = usable_price(vx1_future), usable_price(vx2_future)
        contango = None if vx1 is None or vx2 is None else vx2 / vx1 - 1.0
        extreme = None if contango is None else contango > config.contango_extreme
        backwardation = None if vx1 is None or vx2 is None else vx1 > vx2
        vx1_closes = clean_history(self.snapshot.vx1_history, self.today)
        trend = macd(vx1_closes.values, config.macd_fast, config.macd_slow, config.macd_signal)
        spx_closes = clean_history(self.snapshot.spx_history, self.today)
        spx_rsi = rsi(spx_closes.values, config.rsi_period)
        trend_up = None if trend is None else trend[0] > trend[1]
        overextended = None if spx_rsi is None else spx_rsi >= config.rsi_overextended
        events, horizon_note = events_ahead(
            [*self.config.events, *self.snapshot.event_dates],
            self.today,
            self.snapshot.sessions,
            config.event_lookahead_trading_days,
        )
        opens_allowed, opens_rule = describe_opens(contango, extreme, trend_up, overextended, bool(events), config)
        notes = [f"VX1 history: {vx1_closes.note}", f"SPX history: {spx_closes.note}", f"events {horizon_note}"]
        if trend is None:
            notes.append(f"VX trend unknown: MACD needs {config.macd_slow + config.macd_signal} VX1 closes")
        if spx_rsi is None:
            notes.append(f"SPX RSI unknown: needs {config.rsi_period + 1} SPX closes")
        return Signals(
            vx1=vx1,
            vx2=vx2,
            contango=contango,
            contango_extreme=extreme,
            backwardation=backwardation,
            vx1_macd=None if trend is None else trend[0],
            vx1_macd_signal=None if trend is None else trend[1],
            vx_trend_up=trend_up,
            spx_rsi=spx_rsi,
            spx_overextended=overextended,
            events_ahead=events,
            event_ahead=bool(events),
            opens_allowed=opens_allowed,
            opens_rule=opens_rule + " [" + "; ".join(notes) + "]",
        )

    def _load_slots(self) -> list[_SlotWork]:
        configured = self.config.buckets
        book_slots: dict[str, Layer | None] = {}
        for slot in self.book.slots:
            if slot.slot_id in book_slots:
                self.alerts.append(f"book lists slot {slot.slot_id} twice: only the first is used")
                continue
            book_slots[slot.slot_id] = slot.layer
        known = set(configured.slot_ids())
        for slot_id, layer in book_slots.items():
            if slot_id not in known:
                held = f" holding {layer.quantity} x {layer.contract.key}" if layer else ""
                self.alerts.append(f"book slot {slot_id}{held} is not in the config: left alone")
        orders_by_slot: dict[str, list[WorkingOrder]] = {}
        for order in self.book.working_orders:
            orders_by_slot.setdefault(order.slot_id, []).append(order)
            if order.slot_id not in known:
                self.alerts.append(f"working order {order.intent_id} names unknown slot {order.slot_id}")
        slots = []
        for bucket in BUCKET_ORDER:
            bucket_config = configured.bucket(bucket)
            for index in range(bucket_config.slots):
                slot_id = f"{bucket}-{index + 1}"
                layer = book_slots.get(slot_id)
                orders = sorted(orders_by_slot.get(slot_id, []), key=lambda order: order.intent_id)
                harvest = [order for order in orders if order.role == "harvest"]
                blocking = [order for order in orders if order.role in BLOCKING_ROLES]
                state = "empty" if layer is None else "held"
                if blocking:
                    state += ", order working"
                slots.append(
                    _SlotWork(
                        slot_id=slot_id,
                        bucket=bucket,
                        index=index,
                        delta_target=bucket_config.delta_ladder[index],
                        layer=layer,
                        harvest_orders=harvest,
                        blocking_orders=blocking,
                        state_before=state,
                    )
                )
                if layer is not None:
                    slots[-1].details.update(
                        held=layer.contract.key, quantity=layer.quantity, entry_price=layer.entry_price
                    )
        return slots

    # ------------------------------------------------------------------ money

    def _credit(self) -> tuple[float, str]:
        override = self.config.condors.credit_override
        if override is not None:
            return override, "config override"
        count = len(self.condor_book.condors)
        credit = max(self.condor_book.credit, 0.0)
        return credit, f"condor positions ({count} condor{'s' if count != 1 else ''})"

    def _budgets(self) -> tuple[dict[str, float], dict[str, float]]:
        target = self.config.sizing.target_pct * self.credit
        bucket_budgets: dict[str, float] = {}
        self.slot_budgets: dict[str, float] = {}
        for bucket in BUCKET_ORDER:
            bucket_budget = target * self.config.bucket_budget_share(bucket)
            bucket_budgets[bucket] = bucket_budget
            slots = self.config.buckets.bucket(bucket).slots
            for slot in self.slots:
                if slot.bucket == bucket:
                    self.slot_budgets[slot.slot_id] = bucket_budget / slots
        return bucket_budgets, dict(self.slot_budgets)

    def _premium_at_risk_now(self) -> float:
        held = sum(
            slot.layer.quantity * slot.layer.entry_price * CONTRACT_MULTIPLIER for slot in self.slots if slot.layer
        )
        working = sum(
            order.quantity * order.limit_price * CONTRACT_MULTIPLIER
            for order in self.book.working_orders
            if order.side == "BUY"
        )
        return held + working

    def _layer_hedge_dollars(self, layer: Layer) -> float | None:
        delta = self._delta_of(layer.contract).delta
        if delta is None:
            return None
        dte = (layer.contract.expiry - self.today).days
        return layer.quantity * CONTRACT_MULTIPLIER * delta * beta_at(dte, self.config.coverage.beta_table)

    def _hedge_dollars_now(self) -> float:
        total = 0.0
        for slot in self.slots:
            if slot.layer is None:
                continue
            dollars = self._layer_hedge_dollars(slot.layer)
            if dollars is None:
                self.alerts.append(f"coverage leaves out {slot.slot_id}: no delta for {slot.layer.contract.key}")
                continue
            total += dollars
        return total

    def _coverage(self, hedge_dollars: float) -> float | None:
        if self.condor_dollars <= 0.0:
            return None
        return hedge_dollars / self.condor_dollars

    def _spx_leg_vegas_and_marks(self) -> tuple[dict[str, float], dict[str, float]]:
        vegas: dict[str, float] = {}
        marks: dict[str, float] = {}
        spot = self.snapshot.spx
        for quote in self.snapshot.spx_options:
            key = quote.contract.key
            usable = check_quote(quote, self.as_of, self.config.quotes).usable
            if usable:
                marks[key] = mid_price(quote)
            if is_finite_number(quote.model_vega):
                assert quote.model_vega is not None
                vegas[key] = quote.model_vega
            elif usable and spot is not None and math.isfinite(spot) and spot > 0.0:
                contract = quote.contract
                years = years_from_days((contract.expiry - self.today).days)
                rate = self.config.quotes.risk_free_rate
                vol = implied_vol_black_scholes(contract.right, mid_price(quote), spot, contract.strike, years, rate)
                if math.isfinite(float(vol)):
                    vega = black_scholes(contract.right, spot, contract.strike, years, vol, rate).vega
                    vegas[key] = float(vega)
        return vegas, marks

    def _condor_vega_dollars(self) -> float:
        vegas, _ = self._spx_leg_vegas_and_marks()
        total = 0.0
        for condor in self.condor_book.condors:
            vega = condor_vega_dollars(condor, vegas)
            if vega is None:
                self.alerts.append(f"condor {_condor_label(condor)}: leg vega unknown, left out of coverage")
                continue
            total += vega
        return abs(total)

    # ------------------------------------------------------------------ rebalance

    def _no_rebalance(self, permission: RebalancePermission) -> None:
        for slot in self.slots:
            if slot.busy:
                slot.note("waiting", "§5", self._working_text(slot))
            else:
                slot.note("no action", "§5", permission.rule)

    def _rebalance(self) -> None:
        for slot in self.slots:
            if slot.busy:
                slot.note("waiting", "§1", self._working_text(slot))
        if not self.condor_book.condors and self.config.condors.on_no_condors == "close":
            self._close_all_without_condors()
            return
        self._rebalance_harvest()
        self._step_one_near_exits()
        self._step_leave_bucket("mid", "near")
        self._step_leave_bucket("long", "mid")
        self._step_fill_empty_slots()

    @property
    def _has_condors(self) -> bool:
        return bool(self.condor_book.condors)

    def _close_all_without_condors(self) -> None:
        for slot in self.slots:
            if slot.busy:
                continue
            if slot.layer is None:
                slot.note("not opened", "§2 on_no_condors", "no iron condor held: nothing is opened")
                continue
            view = self._layer_view(slot.layer)
            self._sell_layer(slot, view, "close", "§2 on_no_condors=close", "no iron condor held: layer closed")

    def _expiring(self, view: _LayerView) -> bool:
        """True when the layer's last trading day comes before the next scheduled rebalance."""
        if view.last_trade is None:
            return False
        horizon = self.next_rebalance or (self.today + dt.timedelta(days=7))
        return view.last_trade < horizon

    def _must_leave(self, layer: Layer, view: _LayerView, bucket: BucketName) -> bool:
        return view.dte < self.config.buckets.bucket(bucket).leave_below_dte or self._expiring(view)

    def _rebalance_harvest(self) -> None:
        harvest = self.config.harvest
        if not harvest.rebalance_harvest_enabled or not self.signals.backwardation:
            return
        for slot in self.slots:
            if slot.busy or slot.layer is None:
                continue
            view = self._layer_view(slot.layer)
            if view.mark is None:
                continue
            multiple = view.mark / slot.layer.entry_price
            if multiple >= harvest.rebalance_harvest_multiple:
                reason = (
                    f"backwardation (VX1 {self.signals.vx1} > VX2 {self.signals.vx2}) and layer marked at "
                    f"{multiple:.1f}x entry >= {harvest.rebalance_harvest_multiple:g}x: sold whole"
                )
                if self._sell_layer(slot, view, "rebalance_harvest", "§4 rebalance harvest", reason):
                    slot.harvested_now = True

    def _step_one_near_exits(self) -> None:
        near = self.config.buckets.near
        for slot in self.slots:
            if slot.bucket != "near" or slot.busy or slot.layer is None or slot.selling:
                continue
            view = self._layer_view(slot.layer)
            if not self._must_leave(slot.layer, view, "near"):
                slot.note("held", "§1", f"near layer at {view.dte} DTE >= {near.leave_below_dte}: held", dte=view.dte)
                continue
            why = (
                f"near layer at {view.dte} DTE < {near.leave_below_dte}"
                if view.dte < near.leave_below_dte
                else f"last trading day {view.last_trade} before the next rebalance {self.next_rebalance}"
            )
            held = slot.layer
            raw_quote = self.quotes.get(held.contract.key)
            if view.quote is None and is_worthless(raw_quote, self.as_of, self.config.quotes):
                self._release_layer(slot, held, f"{why}, and no bid (worthless): released to expire, slot freed")
                continue
            if self._sell_layer(slot, view, "close", "§1 step 1", f"{why}: sold, slot freed"):
                slot.vacated_at_step_one = True
                slot.vacated_basis = held.quantity * held.entry_price * CONTRACT_MULTIPLIER
                bid = (view.quote.bid if view.quote else 0.0) or 0.0
                slot.vacated_proceeds = held.quantity * bid * CONTRACT_MULTIPLIER

    def _step_leave_bucket(self, bucket: BucketName, shorter: BucketName) -> None:
        leave_below = self.config.buckets.bucket(bucket).leave_below_dte
        leaving: list[tuple[int, int, _SlotWork, _LayerView]] = []
        for slot in self.slots:
            if slot.bucket != bucket or slot.busy or slot.layer is None or slot.selling:
                continue
            view = self._layer_view(slot.layer)
            if self._must_leave(slot.layer, view, bucket):
                leaving.append((view.dte, slot.index, slot, view))
            else:
                slot.note("held", "§1", f"{bucket} layer at {view.dte} DTE >= {leave_below}: held", dte=view.dte)
        for _, _, slot, view in sorted(leaving, key=lambda item: (item[0], item[1])):
            assert slot.layer is not None
            target = self._migration_target(slot.layer, view, shorter)
            if target is not None:
                self._migrate(slot, target, view)
            else:
                self._roll(slot, view)

    def _migration_target(self, layer: Layer, view: _LayerView, shorter: BucketName) -> _SlotWork | None:
        """A free slot of the next shorter bucket that the layer could live in, closest in delta."""
        target_bucket = self.config.buckets.bucket(shorter)
        if view.dte < target_bucket.leave_below_dte or self._expiring(view):
            return None
        free = [s for s in self.slots if s.bucket == shorter and s.empty and not s.busy]
        if not free:
            return None
        delta = view.delta.delta
        return min(free, key=lambda s: (abs(s.delta_target - delta) if delta is not None else 0.0, s.index))

    def _migrate(self, source: _SlotWork, target: _SlotWork, view: _LayerView) -> None:
        layer = source.layer
        assert layer is not None
        action = Action(
            intent_id=intent_id(self.as_of, source.slot_id, "migrate", target.slot_id, layer.contract.key),
            kind="migrate",
            role="migrate",
            slot_id=source.slot_id,
            to_slot_id=target.slot_id,
            contract=layer.contract,
            quantity=layer.quantity,
            after=[target.vacated_by] if target.vacated_by else [],
            reason=f"{source.bucket} layer at {view.dte} DTE moves into free slot {target.slot_id}: relabel, no trade",
        )
        self.actions.append(action)
        source.vacated_by = action.intent_id
        target.layer = layer
        target.harvest_orders = source.harvest_orders
        source.layer = None
        source.harvest_orders = []
        source.note(
            "migrated out",
            "§1 time-shifting",
            f"layer at {view.dte} DTE below {self.config.buckets.bucket(source.bucket).leave_below_dte}: "
            f"migrated to {target.slot_id} (no trade)",
            migrated_to=target.slot_id,
        )
        target.note(
            "migrated in",
            "§1 time-shifting",
            f"took {layer.contract.key} x {layer.quantity} from {source.slot_id}; keeps its contract and harvest "
            f"ladder though delta {_fmt(view.delta.delta)} is off this slot's {target.delta_target}",
            migrated_from=source.slot_id,
        )

    def _roll(self, slot: _SlotWork, view: _LayerView) -> None:
        """Buy a new contract in the slot's own window, then sell the old one (never unhedged)."""
        layer = slot.layer
        assert layer is not None
        if view.quote is None:
            self._refuse(slot, "§1 roll", f"roll refused: old layer's quote unusable ({view.quote_problem})")
            return
        if not self._has_condors:
            if self._expiring(view):
                self._sell_layer(slot, view, "close", "§2 on_no_condors=hold", "no condors to roll for; expires: sold")
            else:
                slot.note("held", "§2 on_no_condors=hold", "no iron condor held: kept, no roll (rolls buy)")
            return
        old_proceeds = layer.quantity * (view.quote.bid or 0.0) * CONTRACT_MULTIPLIER
        old_basis = layer.quantity * layer.entry_price * CONTRACT_MULTIPLIER
        old_hedge = self._layer_hedge_dollars(layer) or 0.0
        buy = self._plan_buy(
            slot,
            "roll_buy",
            old_basis=old_basis,
            room_adjustment=min(old_basis, old_proceeds),
            old_hedge_dollars=old_hedge,
        )
        if buy is None:
            if self._expiring(view):
                self._sell_layer(slot, view, "close", "§1 roll", "roll buy impossible and layer expires: closed")
            else:
                slot.note("held", "§1 roll", "roll buy impossible: old layer kept until the next rebalance")
            return
        self._sell_layer(slot, view, "roll_sell", "§1 roll", "rolled: old layer sold after the new one fills", buy)

    def _step_fill_empty_slots(self) -> None:
        for slot in self.slots:
            if not slot.empty or slot.busy or (slot.selling and not slot.vacated_at_step_one):
                continue
            if slot.harvested_now:
                slot.note("empty", "§4", "harvested at this rebalance: refilled at the next one")
                continue
            if not self._has_condors:
                slot.note("not opened", "§2 on_no_condors", "no iron condor held: nothing is bought")
                continue
            if slot.vacated_at_step_one:
                # The step-1 sale already left premium at risk; the refill still counts at net premium.
                shortfall = max(0.0, slot.vacated_basis - slot.vacated_proceeds)
                self._plan_buy(slot, "roll_buy", room_adjustment=-shortfall)
            elif self.signals.opens_allowed:
                self._plan_buy(slot, "open")
            else:
                slot.note("not opened", "§3", self.signals.opens_rule)

    # ------------------------------------------------------------------ buying

    def _window_expiries(self, bucket: BucketName) -> list[dt.date]:
        config = self.config.buckets.bucket(bucket)
        expiries = []
        for expiry in sorted(self.calls_by_expiry):
            dte = (expiry - self.today).days
            if not config.buy_window_min_dte <= dte <= config.buy_window_max_dte:
                continue
            last_trade = last_trade_date(self.calls_by_expiry[expiry][0].contract, self.snapshot.sessions)
            horizon = self.next_rebalance or (self.today + dt.timedelta(days=7))
            if last_trade is not None and last_trade < horizon:
                continue
            expiries.append(expiry)
        return expiries

    def _choose_expiry(self, slot: _SlotWork) -> tuple[dt.date | None, str]:
        config = self.config.buckets.bucket(slot.bucket)
        expiries = self._window_expiries(slot.bucket)
        if not expiries:
            return None, f"no listed expiry in the {config.buy_window_min_dte}-{config.buy_window_max_dte} DTE window"
        in_use: dict[dt.date, int] = dict.fromkeys(expiries, 0)
        for other in self.slots:
            if other.bucket != slot.bucket or other is slot:
                continue
            contract = other.incoming.contract if other.incoming else other.layer.contract if other.layer else None
            if contract is not None and contract.expiry in in_use:
                in_use[contract.expiry] += 1
        midpoint = config.window_midpoint_dte
        chosen = min(expiries, key=lambda e: (in_use[e], abs((e - self.today).days - midpoint), e))
        why = (
            f"expiry {chosen.isoformat()} ({(chosen - self.today).days} DTE): least used of "
            f"{len(expiries)} in the window, then nearest the {midpoint:g}-DTE midpoint"
        )
        return chosen, why

    def _candidates(self, expiry: dt.date) -> list[_Candidate]:
        self._deltas_for_expiry(expiry)
        found = []
        for quote in self.calls_by_expiry.get(expiry, []):
            estimate = self.delta_cache[quote.contract.key]
            if estimate.delta is not None:
                found.append(_Candidate(quote, estimate.delta, estimate.source))
        return found

    def _plan_buy(
        self,
        slot: _SlotWork,
        role: OrderRole,
        *,
        old_basis: float = 0.0,
        room_adjustment: float = 0.0,
        old_hedge_dollars: float = 0.0,
    ) -> Action | None:
        """Plan a buy for ``slot``. For an in-bucket roll ``old_basis`` leaves premium at risk when the old
        layer is sold; ``room_adjustment`` is what the old layer adds to (or takes from) the cap's room under
        §2's net-premium rule."""
        rule = "§1 roll" if role == "roll_buy" else "§3 open"
        expiry, expiry_reason = self._choose_expiry(slot)
        if expiry is None:
            self._refuse(slot, rule, expiry_reason)
            return None
        candidates = self._candidates(expiry)
        if not candidates:
            self._refuse(slot, rule, f"no call of {expiry.isoformat()} has a usable delta")
            return None
        ordered = sorted(candidates, key=lambda c: (abs(c.delta - slot.delta_target), -c.quote.contract.strike))
        chosen = ordered[0]
        sizing = self._size(slot, chosen, room_adjustment, old_hedge_dollars)
        fallback_note = ""
        if role == "roll_buy" and sizing.limited_by == "cap" and self.signals.contango_extreme:
            cheaper = self._cheaper_neighbour(chosen, candidates)
            if cheaper is not None:
                alternative = self._size(slot, cheaper, room_adjustment, old_hedge_dollars)
                if alternative.quantity > sizing.quantity:
                    fallback_note = (
                        f"; extreme contango and the premium cap binds: fell back from strike "
                        f"{chosen.quote.contract.strike:g} to the cheaper {cheaper.quote.contract.strike:g}"
                    )
                    chosen, sizing = cheaper, alternative
        if sizing.quantity == 0 or sizing.limits is None:
            if sizing.limited_by == "skip":
                slot.note("skipped", "§2 sizing", f"{chosen.quote.contract.key}: {sizing.text}")
            else:
                self._refuse(slot, rule, f"{chosen.quote.contract.key}: {sizing.text}")
            return None
        quantity = sizing.quantity
        limit_start, limit_bound = sizing.limits
        contract = chosen.quote.contract
        dte = (contract.expiry - self.today).days
        hedge_dollars = quantity * CONTRACT_MULTIPLIER * chosen.delta * beta_at(dte, self.config.coverage.beta_table)
        action = Action(
            intent_id=intent_id(self.as_of, slot.slot_id, role, contract.key, quantity, limit_bound),
            kind="buy",
            role=role,
            slot_id=slot.slot_id,
            contract=contract,
            side="BUY",
            quantity=quantity,
            limit_start=limit_start,
            limit_bound=limit_bound,
            tif="DAY",
            after=[slot.vacated_by] if slot.vacated_by else [],
            reason=f"{'roll into' if role == 'roll_buy' else 'open'} {contract.key} x {quantity}",
        )
        self.actions.append(action)
        self.premium_at_risk += quantity * limit_bound * CONTRACT_MULTIPLIER - old_basis
        self.hedge_dollars += hedge_dollars - old_hedge_dollars
        slot.incoming = _IncomingBuy(contract, quantity, limit_bound, hedge_dollars)
        budget = self.slot_budgets[slot.slot_id]
        slot.note(
            "rolled" if role == "roll_buy" else "opened",
            rule,
            f"{expiry_reason}; strike {contract.strike:g} delta {chosen.delta:.3f} ({chosen.delta_source}) "
            f"closest to {slot.delta_target}; {quantity} x at most {limit_bound:.2f} "
            f"(slot budget ${budget:,.2f}{'' if sizing.limited_by == 'budget' else '; ' + sizing.text})"
            + fallback_note,
            buy_contract=contract.key,
            buy_quantity=quantity,
            buy_limit_start=limit_start,
            buy_limit_bound=limit_bound,
            buy_delta=chosen.delta,
            buy_dte=dte,
            slot_budget=budget,
            future_price_source=self.future_notes.get(expiry, ""),
        )
        return action

    def _size(
        self,
        slot: _SlotWork,
        candidate: _Candidate,
        room_adjustment: float,
        old_hedge_dollars: float,
    ) -> _Sizing:
        """How many contracts of ``candidate`` the slot may buy, and what limited the number."""
        check = check_quote(candidate.quote, self.as_of, self.config.quotes)
        if not check.usable:
            return _Sizing(0, None, "quote", f"quote refused: {check.problem}")
        limits = buy_limits(candidate.quote)
        price = limits[1]
        budget = self.slot_budgets[slot.slot_id]
        by_budget = contracts_for(budget, price)
        if by_budget == 0:
            return _Sizing(0, limits, "skip", f"skip: slot budget ${budget:,.2f} buys no contract at {price:.2f} x 100")
        # §2: a roll counts at its net premium, and premium at risk after the roll must fit too.
        room = self.cap - self.premium_at_risk + room_adjustment
        by_cap = contracts_for(room, price)
        dte = (candidate.quote.contract.expiry - self.today).days
        per_contract = CONTRACT_MULTIPLIER * candidate.delta * beta_at(dte, self.config.coverage.beta_table)
        coverage_room = self.config.coverage.max_coverage * self.condor_dollars - (
            self.hedge_dollars - old_hedge_dollars
        )
        if self.condor_dollars <= 0.0:
            by_coverage = 0
        elif per_contract <= 0.0:
            by_coverage = by_budget
        else:
            by_coverage = max(0, math.floor(coverage_room / per_contract + 1e-9))
        quantity = min(by_budget, by_cap, by_coverage)
        if quantity == by_budget:
            return _Sizing(quantity, limits, "budget", "")
        if quantity == by_cap:
            return _Sizing(
                quantity,
                limits,
                "cap",
                f"premium cap: ${self.premium_at_risk:,.2f} at risk of a ${self.cap:,.2f} cap "
                f"({self.config.sizing.cap_pct:.0%} of credit) leaves room for {by_cap} of {by_budget} contracts",
            )
        if self.condor_dollars <= 0.0:
            return _Sizing(0, limits, "coverage", "condor vega unknown: no coverage room can be shown, nothing bought")
        return _Sizing(
            quantity,
            limits,
            "coverage",
            f"coverage cap {self.config.coverage.max_coverage:g}: room for {by_coverage} of {by_budget} contracts",
        )

    def _cheaper_neighbour(self, chosen: _Candidate, candidates: list[_Candidate]) -> _Candidate | None:
        higher = [c for c in candidates if c.quote.contract.strike > chosen.quote.contract.strike]
        return min(higher, key=lambda c: c.quote.contract.strike) if higher else None

    # ------------------------------------------------------------------ selling

    def _sell_layer(
        self,
        slot: _SlotWork,
        view: _LayerView,
        role: OrderRole,
        rule: str,
        reason: str,
        after_buy: Action | None = None,
    ) -> bool:
        layer = slot.layer
        assert layer is not None
        if view.quote is None:
            self._refuse(slot, rule, f"sale refused: {layer.contract.key} quote unusable ({view.quote_problem})")
            return False
        cancels = self._cancel_harvest_orders(slot, "before the layer is sold", after_buy)
        limit_start, limit_bound = sell_limits(view.quote)
        after = ([after_buy.intent_id] if after_buy else []) + [c.intent_id for c in cancels]
        action = Action(
            intent_id=intent_id(self.as_of, slot.slot_id, role, layer.contract.key, layer.quantity, limit_bound),
            kind="sell",
            role=role,
            slot_id=slot.slot_id,
            contract=layer.contract,
            side="SELL",
            quantity=layer.quantity,
            limit_start=limit_start,
            limit_bound=limit_bound,
            tif="DAY",
            after=after,
            reason=f"sell {layer.contract.key} x {layer.quantity}: {reason}",
        )
        self.actions.append(action)
        slot.vacated_by = action.intent_id
        self.premium_at_risk -= 0.0 if after_buy else layer.quantity * layer.entry_price * CONTRACT_MULTIPLIER
        if after_buy is None:
            self.hedge_dollars -= self._layer_hedge_dollars(layer) or 0.0
        slot.selling = True
        slot.layer = None
        outcome = {"close": "closed", "roll_sell": "old layer sold", "rebalance_harvest": "harvested"}.get(role, role)
        slot.note(
            outcome,
            rule,
            reason,
            sell_contract=layer.contract.key,
            sell_quantity=layer.quantity,
            sell_limit_start=limit_start,
            sell_limit_bound=limit_bound,
            mark=view.mark,
            dte=view.dte,
        )
        return True

    def _release_layer(self, slot: _SlotWork, layer: Layer, reason: str) -> None:
        """A leaving layer nobody bids for cannot be sold: it leaves the slot (journal-only) and expires among
        the bot's leftovers; the slot is refilled as a roll whose net premium counts the whole cost basis."""
        cancels = self._cancel_harvest_orders(slot, "before the worthless layer is released")
        action = Action(
            intent_id=intent_id(self.as_of, slot.slot_id, "release", layer.contract.key, layer.quantity),
            kind="release",
            role="release",
            slot_id=slot.slot_id,
            contract=layer.contract,
            quantity=layer.quantity,
            after=[c.intent_id for c in cancels],
            reason=f"release {layer.contract.key} x {layer.quantity}: {reason}",
        )
        self.actions.append(action)
        self.premium_at_risk -= layer.quantity * layer.entry_price * CONTRACT_MULTIPLIER
        self.hedge_dollars -= self._layer_hedge_dollars(layer) or 0.0
        slot.selling = True
        slot.layer = None
        slot.vacated_by = action.intent_id
        slot.vacated_at_step_one = True
        slot.vacated_basis = layer.quantity * layer.entry_price * CONTRACT_MULTIPLIER
        slot.vacated_proceeds = 0.0
        slot.note("released", "§1 step 1", reason, released=layer.contract.key, released_quantity=layer.quantity)

    def _cancel_harvest_orders(self, slot: _SlotWork, why: str, after_buy: Action | None = None) -> list[Action]:
        cancels = []
        for order in slot.harvest_orders:
            cancel = Action(
                intent_id=intent_id(self.as_of, slot.slot_id, "cancel_harvest", order.intent_id),
                kind="cancel",
                role="cancel_harvest",
                slot_id=slot.slot_id,
                contract=order.contract,
                quantity=order.quantity,
                cancels_intent_id=order.intent_id,
                after=[after_buy.intent_id] if after_buy else [],
                reason=f"cancel resting harvest order {order.intent_id} {why}",
            )
            self.actions.append(cancel)
            cancels.append(cancel)
        slot.harvest_orders = []
        return cancels

    # ------------------------------------------------------------------ harvest ladders

    def _maintain_harvest_ladders(self, window_open: bool) -> None:
        """Keep each layer's resting sells within what it holds; place missing ladders.

        Cancelling sells that could leave the account short (orphans, or more resting than held) is done at
        every evaluation, busy slot or not, in or out of the trading window: a cancel sends no trade. New
        ladders are placed only for idle slots inside the trading window.
        """
        config = self.config.harvest
        for slot in self.slots:
            if slot.selling and slot.layer is None:
                continue  # its ladder was cancelled ahead of the sale
            layer = slot.layer
            if layer is None:
                if slot.harvest_orders:
                    self.alerts.append(f"{slot.slot_id}: harvest orders rest but no layer is held: cancelled")
                    self._cancel_harvest_orders(slot, "because the slot holds no layer")
                continue
            resting = sum(order.quantity for order in slot.harvest_orders)
            selling = sum(order.quantity for order in slot.blocking_orders if order.side == "SELL")
            may_place = config.enabled and window_open and not slot.busy
            if resting and resting + selling > layer.quantity:
                # Resting sells beyond the position could leave the account short a call.
                self.alerts.append(
                    f"{slot.slot_id}: sells for {resting + selling} contracts rest against {layer.quantity} held: "
                    f"harvest orders cancelled" + (" and re-placed" if may_place else "")
                )
                cancels = self._cancel_harvest_orders(slot, "because they would sell more than is held")
                if may_place:
                    self._place_ladder(slot, layer, layer.quantity, [c.intent_id for c in cancels])
            elif may_place and resting < layer.quantity:
                self._place_ladder(slot, layer, layer.quantity - resting, [])

    def _place_ladder(self, slot: _SlotWork, layer: Layer, quantity: int, after: list[str]) -> None:
        rungs = harvest_ladder(quantity, layer.entry_price, self.config.harvest)
        self.actions.extend(
            harvest_actions(
                slot.slot_id,
                layer.contract,
                quantity,
                layer.entry_price,
                self.config.harvest,
                lambda rung: intent_id(
                    self.as_of, slot.slot_id, "harvest", layer.contract.key, rung.rung, rung.quantity
                ),
                after=after,
            )
        )
        text = ", ".join(f"{r.quantity} @ {r.limit_price:.2f} ({r.multiple:g}x)" for r in rungs)
        slot.note("harvest ladder placed", "§4 harvest", f"GTC sells for {quantity} uncovered contracts: {text}")

    # ------------------------------------------------------------------ reporting

    def _refuse(self, slot: _SlotWork, rule: str, reason: str) -> None:
        slot.note("refused", rule, reason)
        self.refusals.append(f"{slot.slot_id}: {reason}")

    def _working_text(self, slot: _SlotWork) -> str:
        orders = ", ".join(
            f"{o.intent_id} ({o.role} {o.side} {o.quantity} @ {o.limit_price:.2f})" for o in slot.blocking_orders
        )
        return f"order working: {orders}; slot left alone until it completes"

    def _expiry_alerts(self, permission: RebalancePermission) -> None:
        for slot in self.slots:
            if slot.layer is None or slot.selling:
                continue
            view = self._layer_view(slot.layer)
            if view.last_trade is not None and view.last_trade < self.today:
                self.alerts.append(
                    f"{slot.slot_id}: {slot.layer.contract.key} is past its last trading day {view.last_trade}"
                )
            elif self._expiring(view) and not permission.allowed:
                self.alerts.append(
                    f"{slot.slot_id}: {slot.layer.contract.key} last trades {view.last_trade}, before the next "
                    f"rebalance, and no rebalance is allowed now ({permission.rule})"
                )

    def _hedge_unrealized(self) -> float | None:
        total = 0.0
        for slot in self.book.slots:
            if slot.layer is None:
                continue
            view = self._layer_view(slot.layer)
            if view.mark is None:
                return None
            total += (view.mark - slot.layer.entry_price) * slot.layer.quantity * CONTRACT_MULTIPLIER
        return total

    def _condor_summaries(self) -> tuple[list[CondorSummary], float | None]:
        vegas, marks = self._spx_leg_vegas_and_marks()
        spx = self.snapshot.spx if is_finite_number(self.snapshot.spx) else None
        distance_limit = self.config.exits.breakeven_alert_distance_pct
        summaries = []
        combined: float | None = 0.0
        for condor in self.condor_book.condors:
            mark_pnl = condor_mark_pnl(condor, marks)
            combined = None if combined is None or mark_pnl is None else combined + mark_pnl
            distance: float | None = None
            alert: str | None = None
            lower, upper = condor.lower_breakeven, condor.upper_breakeven
            if spx is not None:
                distance = min(spx - lower, upper - spx) / spx
                if spx <= lower or spx >= upper:
                    alert = f"SPX {spx:.2f} has crossed break-even {lower if spx <= lower else upper:.2f}"
                elif distance <= distance_limit:
                    alert = f"SPX {spx:.2f} within {distance:.2%} of a break-even ({lower:.2f} / {upper:.2f})"
            if alert:
                self.alerts.append(f"condor {_condor_label(condor)}: {alert}")
            vega = condor_vega_dollars(condor, vegas)
            summaries.append(
                CondorSummary(
                    expiry=condor.expiry,
                    trading_class=condor.trading_class,
                    quantity=condor.quantity,
                    long_put=condor.long_put.contract.strike,
                    short_put=condor.short_put.contract.strike,
                    short_call=condor.short_call.contract.strike,
                    long_call=condor.long_call.contract.strike,
                    credit=condor.credit,
                    credit_per_share=condor.credit_per_share,
                    max_loss=condor.max_loss,
                    lower_breakeven=lower,
                    upper_breakeven=upper,
                    vega_dollars=vega,
                    mark_pnl=mark_pnl,
                    spx_distance_to_breakeven_pct=distance,
                    alert=alert,
                )
            )
        if self.condor_book.unmatched:
            self.alerts.append(f"{len(self.condor_book.unmatched)} SPX leg position(s) fit no iron condor")
        return summaries, combined

    def _evaluation(self, window: TradingWindow, permission: RebalancePermission) -> Evaluation:
        request = self.snapshot.request
        return Evaluation(
            trigger=request.trigger,
            operator=request.operator,
            reason=request.reason,
            in_trading_window=window.open,
            trading_window_reason=window.reason,
            rebalance_opportunity=permission.opportunity,
            rebalance_allowed=permission.allowed,
            rebalance_rule=permission.rule,
            rebalances_this_week=permission.rebalances_this_week,
            max_rebalances_per_week=self.config.schedule.max_rebalances_per_week,
            next_scheduled_rebalance=self.next_rebalance,
        )

    def _slot_decision(self, slot: _SlotWork) -> SlotDecision:
        if not slot.outcomes:
            slot.note("held" if slot.layer else "empty", "§1", "nothing to do")
        return SlotDecision(
            slot_id=slot.slot_id,
            bucket=slot.bucket,
            delta_target=slot.delta_target,
            state_before=slot.state_before,
            outcome=" then ".join(slot.outcomes),
            rule="; ".join(dict.fromkeys(slot.rules)),
            reason="; ".join(slot.reasons),
            details=slot.details,
        )

    def _summary(self, permission: RebalancePermission, is_rebalance: bool) -> str:
        counts: dict[str, int] = {}
        for action in self.actions:
            counts[action.kind] = counts.get(action.kind, 0) + 1
        if not self.actions:
            if permission.allowed:
                return f"no action: nothing to do at this rebalance ({permission.rule})"
            return f"no action: {permission.rule}"
        parts = [f"{count} {kind}" for kind, count in sorted(counts.items())]
        head = "rebalance" if is_rebalance else "maintenance (not a rebalance)"
        refused = f"; {len(self.refusals)} refused" if self.refusals else ""
        return f"{head}: {', '.join(parts)}{refused}"


def _condor_label(condor: IronCondor) -> str:
    return (
        f"{condor.trading_class} {condor.expiry:%Y-%m-%d} {condor.long_put.contract.strike:g}/"
        f"{condor.short_put.contract.strike:g}/{condor.short_call.contract.strike:g}/"
        f"{condor.long_call.contract.strike:g} x{condor.quantity}"
    )


def _fmt(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.3f}"


__all__ = ["CondorBook", "plan"]
