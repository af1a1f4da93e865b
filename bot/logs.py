"""Logging: structlog, JSON lines to a file and readable lines on the console.

Modules log with ``structlog.get_logger(__name__)``; the CLI calls ``configure_logging`` once. Keys
named like secrets are masked by a processor so that no code path can write a credential to a log.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import structlog

SECRET_KEY_PARTS = ("password", "secret", "token", "api_key", "apikey", "webhook_url", "authorization")


def _mask_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if any(part in key.lower() for part in SECRET_KEY_PARTS):
            event[key] = "***"
    return event


def configure_logging(level: str = "INFO", file: Path | None = None, console: bool = True) -> None:
    """Route structlog and stdlib logging to a JSON-lines file and/or a readable console stream."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _mask_secrets,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(level)
    if console:
        console_handler = logging.StreamHandler(sys.stderr)
        console_handler.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                processors=[
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.dev.ConsoleRenderer(
                        colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
                    ),
                ],
                foreign_pre_chain=shared,
            )
        )
        root.addHandler(console_handler)
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(file, encoding="utf-8")
        file_handler.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                processors=[
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    structlog.processors.JSONRenderer(sort_keys=True),
                ],
                foreign_pre_chain=shared,
            )
        )
        root.addHandler(file_handler)
    # ib_async logs every message at INFO; keep its chatter out unless debugging.
    logging.getLogger("ib_async").setLevel(logging.WARNING if level != "DEBUG" else logging.DEBUG)
    if level != "DEBUG":
        logging.getLogger("ib_async.wrapper").addFilter(_BenignIbErrors())


class _BenignIbErrors(logging.Filter):
    """ib_async logs every IB message code as an error; farm-OK notices and lost races are not errors.

    The bot classifies every code itself (bot.broker.errors) and journals what matters.
    """

    CODES = (104, 2104, 2106, 2107, 2108, 2158, 10148, 10167, 399)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(message.startswith(f"Error {code},") for code in self.CODES)
