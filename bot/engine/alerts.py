"""Alerts: always logged and journaled by the caller; optionally POSTed as JSON to a webhook.

The webhook runs in a worker thread with a timeout and bounded retries (tenacity), so a slow or dead
endpoint never stalls the bot; a delivery failure is logged, never raised into the trading loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import structlog
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from bot.config import AlertsConfig

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Alert:
    kind: str  # halt, reconcile_mismatch, disconnected, breakeven, coverage, missed_rebalance, ...
    message: str
    at: dt.datetime
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": "alvh",
            "kind": self.kind,
            "message": self.message,
            "at": self.at.isoformat(),
            "details": self.details,
        }


class WebhookError(Exception):
    pass


class Alerter:
    def __init__(self, config: AlertsConfig) -> None:
        self._config = config
        self.sent: list[Alert] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def raise_alert(self, alert: Alert) -> None:
        """Log now; deliver to the webhook in the background."""
        log.warning("alert", alert_kind=alert.kind, message=alert.message, **alert.details)
        self.sent.append(alert)
        del self.sent[:-200]
        if self._config.webhook_url:
            task = asyncio.get_running_loop().create_task(self._deliver(alert))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait for pending webhook deliveries (at shutdown)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    async def _deliver(self, alert: Alert) -> None:
        try:
            await asyncio.to_thread(self._post, alert.to_json())
        except Exception as error:
            log.error("alert_webhook_failed", alert_kind=alert.kind, error=str(error))

    @retry(
        retry=retry_if_exception_type(WebhookError),
        stop=stop_after_attempt(3),
        wait=wait_exponential(multiplier=0.5, max=4),
        reraise=True,
    )
    def _post(self, document: dict[str, Any]) -> None:
        body = json.dumps(document).encode()
        request = urllib.request.Request(
            self._config.webhook_url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self._config.webhook_timeout_seconds) as response:
                if response.status >= 300:
                    raise WebhookError(f"webhook answered HTTP {response.status}")
        except urllib.error.HTTPError as error:
            raise WebhookError(f"webhook answered HTTP {error.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            raise WebhookError(f"webhook unreachable: {error}") from None
