"""The connection to IB Gateway / TWS (or the embedded paper gateway): connect, guard, supervise.

- Every await is bounded; connecting retries with exponential backoff and jitter (tenacity).
- One supervisor task owns reconnection, so two reconnects can never race.
- The account guard refuses a live account unless ``allow_live`` is set in the config *and*
  ``ALVH_ALLOW_LIVE=1`` is in the environment, and refuses a port/account mismatch (a paper port
  reporting a live account, or the reverse).
- Error 326 (client id in use) leaves the bot connected read-only under another client id: it can
  watch and report, never trade. 10197 (competing session) and missing entitlements also stop trading.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from ib_async import IB
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from bot.broker.errors import AccountGuardError, BrokerError, ErrorClass, IbError
from bot.clock import Clock
from bot.config import LIVE_PORTS, PAPER_PORTS, BotConfig

log = structlog.get_logger(__name__)

READONLY_CLIENT_ID_OFFSET = 1000
THROTTLE_BURST = 8
THROTTLE_INTERVAL_SECONDS = 0.2
LIVE_OPT_IN_VARIABLE = "ALVH_ALLOW_LIVE"


class LinkState(enum.StrEnum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    IB_LOST = "ib_lost"  # socket up, but the gateway lost IB's servers (1100)


@dataclass(frozen=True)
class LinkEvent:
    kind: str  # connected, reconnected, disconnected, ib_lost, ib_restored_data_lost, ib_restored, error
    detail: str = ""
    error: IbError | None = None


def is_paper_account(account: str) -> bool:
    return account.upper().startswith("DU")


def check_account(account: str, port: int, config: BotConfig) -> str:
    """The mode ("paper" or "live") this account may be traded in, or AccountGuardError."""
    wanted = config.account.id.strip()
    if wanted and wanted != account:
        raise AccountGuardError(f"the gateway reports account {redact(account)}, the config expects {redact(wanted)}")
    paper = is_paper_account(account)
    if port in PAPER_PORTS and not paper:
        raise AccountGuardError(f"port {port} is a paper port but the account {redact(account)} is not a paper account")
    if port in LIVE_PORTS and paper:
        raise AccountGuardError(f"port {port} is a live port but the account {redact(account)} is a paper account")
    if paper:
        return "paper"
    if not config.account.allow_live:
        raise AccountGuardError(
            f"account {redact(account)} is live; set account.allow_live = true and {LIVE_OPT_IN_VARIABLE}=1 to trade it"
        )
    if os.environ.get(LIVE_OPT_IN_VARIABLE) != "1":
        raise AccountGuardError(
            f"account {redact(account)} is live and allow_live is set, but {LIVE_OPT_IN_VARIABLE}=1 is not in the "
            "environment: both are required"
        )
    return "live"


def redact(account: str) -> str:
    """An account id for messages and status: enough to recognise it, not to use it."""
    return account[:2] + "*" * max(0, len(account) - 5) + account[-3:] if len(account) > 5 else "***"


class IbConnection:
    """Owns the ``IB`` client: connects, watches the link, reconnects, and reports what happened."""

    def __init__(
        self,
        config: BotConfig,
        clock: Clock,
        on_event: Callable[[LinkEvent], None],
        ib: IB | None = None,
        max_attempts: int = 5,
    ) -> None:
        self.config = config
        self.clock = clock
        self.ib = ib or IB()
        # IB drops clients above 50 messages/s. ib_async sends in bursts up to its limit per interval; small
        # bursts (8 per 0.2 s = 40/s) cannot pile up at the gateway into more than 50 in any one second.
        self.ib.client.MaxRequests = THROTTLE_BURST
        self.ib.client.RequestsInterval = THROTTLE_INTERVAL_SECONDS
        self._on_event = on_event
        self._max_attempts = max_attempts
        self.state = LinkState.DISCONNECTED
        self.account: str | None = None
        self.mode: str | None = None
        self.readonly = False
        self.readonly_reason = ""
        self.trading_blocked_reason = ""
        self.market_data_type = config.connection.market_data_type
        self.market_data_fallback = ""
        self.client_id = config.connection.client_id
        self.recent_errors: deque[IbError] = deque(maxlen=200)
        self.reconnects = 0
        self._client_id_in_use = False
        self._lost = asyncio.Event()
        self._stopping = False
        self._supervisor: asyncio.Task[None] | None = None
        self.ib.errorEvent += self._on_ib_error
        self.ib.disconnectedEvent += self._on_disconnected

    # ------------------------------------------------------------------ connecting

    @property
    def connected(self) -> bool:
        return self.ib.isConnected() and self.state == LinkState.CONNECTED

    @property
    def may_trade(self) -> bool:
        return self.connected and not self.readonly and not self.trading_blocked_reason

    @property
    def no_trading_reason(self) -> str:
        """Why the link may not trade ("" when the only cause is being disconnected, or there is none)."""
        return self.trading_blocked_reason or self.readonly_reason

    async def connect(self) -> None:
        """Connect (with retries) and pass the account guard; raise BrokerError / AccountGuardError."""
        connection = self.config.connection
        self.state = LinkState.CONNECTING
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self._max_attempts),
                wait=wait_random_exponential(multiplier=0.2, max=30),
                retry=retry_if_exception_type((ConnectionError, OSError, TimeoutError, BrokerError)),
                reraise=True,
            ):
                with attempt:
                    await self._connect_once(connection.host, connection.port)
        except AccountGuardError:
            self.state = LinkState.DISCONNECTED
            raise
        except (ConnectionError, OSError, TimeoutError) as error:
            self.state = LinkState.DISCONNECTED
            raise BrokerError(f"cannot connect to {connection.host}:{connection.port}: {error}") from error

    async def _connect_once(self, host: str, port: int) -> None:
        timeout = self.config.connection.connect_timeout_seconds
        if self.ib.isConnected():
            self.ib.disconnect()
        self._client_id_in_use = False
        self.trading_blocked_reason = ""  # re-raised by the gateway (10197) if the cause persists
        try:
            await asyncio.wait_for(
                self.ib.connectAsync(host, port, clientId=self.client_id, timeout=timeout, readonly=self.readonly),
                timeout=timeout * 3,
            )
        except (ConnectionError, OSError, TimeoutError) as error:
            if self._client_id_in_use and not self.readonly:
                self._enter_readonly(f"client id {self.client_id} is in use by another API client (error 326)")
            raise ConnectionError(str(error) or type(error).__name__) from error
        accounts = self.ib.managedAccounts()
        if not accounts:
            self.ib.disconnect()
            raise BrokerError("the gateway reported no managed account")
        account = self.config.account.id.strip() or accounts[0]
        if len(accounts) > 1 and not self.config.account.id.strip():
            self.ib.disconnect()
            raise AccountGuardError(f"the gateway manages {len(accounts)} accounts; set account.id to choose one")
        try:
            self.mode = check_account(account, port, self.config)
        except AccountGuardError:
            self.ib.disconnect()
            raise
        self.account = account
        self.ib.reqMarketDataType(self.market_data_type)
        self.state = LinkState.CONNECTED
        log.info("connected", host=host, port=port, client_id=self.client_id, mode=self.mode, readonly=self.readonly)

    def _enter_readonly(self, reason: str) -> None:
        self.readonly = True
        self.readonly_reason = reason
        self.client_id = self.config.connection.client_id + READONLY_CLIENT_ID_OFFSET
        log.error("read_only", reason=reason, fallback_client_id=self.client_id)
        self._on_event(LinkEvent("read_only", reason))

    def fall_back_to_delayed(self, reason: str) -> bool:
        """Switch market data to delayed (3) once; True when a switch happened."""
        if self.market_data_type == 3:
            return False
        self.market_data_type = 3
        self.market_data_fallback = (
            f"fell back from type {self.config.connection.market_data_type} to delayed: {reason}"
        )
        if self.ib.isConnected():
            self.ib.reqMarketDataType(3)
        log.warning("market_data_delayed", reason=reason)
        self._on_event(LinkEvent("market_data_delayed", reason))
        return True

    # ------------------------------------------------------------------ supervision

    def start_supervisor(self) -> None:
        if self._supervisor is None or self._supervisor.done():
            self._supervisor = asyncio.get_running_loop().create_task(self._supervise(), name="ib-reconnect")

    async def close(self) -> None:
        self._stopping = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        if self.ib.isConnected():
            self.ib.disconnect()
        self.state = LinkState.DISCONNECTED

    async def _supervise(self) -> None:
        while not self._stopping:
            await self._lost.wait()
            self._lost.clear()
            if self._stopping:
                return
            self.state = LinkState.DISCONNECTED
            self._on_event(LinkEvent("disconnected", "connection to the gateway lost"))
            while not self._stopping:
                try:
                    await self.connect()
                except AccountGuardError as error:
                    self._on_event(LinkEvent("account_refused", str(error)))
                    return
                except BrokerError as error:
                    log.warning("reconnect_failed", error=str(error))
                    await asyncio.sleep(5.0)
                    continue
                self.reconnects += 1
                self._lost.clear()
                self._on_event(LinkEvent("reconnected", f"reconnect #{self.reconnects}"))
                break

    def _on_disconnected(self) -> None:
        if self.state in (LinkState.CONNECTED, LinkState.IB_LOST):
            log.warning("disconnected")
            self.state = LinkState.DISCONNECTED
            self._lost.set()

    def _on_ib_error(self, request_id: int, code: int, message: str, contract: object = None) -> None:
        error = IbError(request_id, code, message)
        self.recent_errors.append(error)
        kind = error.kind
        if code == 326:
            self._client_id_in_use = True
            return
        if code == 1100:
            self.state = LinkState.IB_LOST
            self._on_event(LinkEvent("ib_lost", message, error))
        elif code == 1101:
            self.state = LinkState.CONNECTED
            self._on_event(LinkEvent("ib_restored_data_lost", message, error))
        elif code == 1102:
            self.state = LinkState.CONNECTED
            self._on_event(LinkEvent("ib_restored", message, error))
        elif code == 10197:
            self.trading_blocked_reason = "competing live session (10197): no market data, no trading"
            self._on_event(LinkEvent("trading_blocked", self.trading_blocked_reason, error))
        elif code in (10089, 10090, 10168, 354) and self.market_data_type != 3:
            self.fall_back_to_delayed(f"error {code}: {message}")
        elif kind == ErrorClass.FATAL:
            self._on_event(LinkEvent("fatal", message, error))
        elif kind != ErrorClass.INFO:
            self._on_event(LinkEvent("error", message, error))
