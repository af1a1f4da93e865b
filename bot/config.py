"""The bot's configuration file: strategy settings plus connection, account and state.

A config file is TOML. Loading it either returns a validated ``BotConfig`` or raises ``ConfigError``
whose ``problems`` name every bad key with its value and what is allowed: the CLI prints those and
exits 2, never a traceback.
"""

from __future__ import annotations

import hashlib
import ipaddress
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo

from strategies.alvh.config import StrategyConfig, StrictModel
from strategies.canonical import canonical_json

PAPER_PORTS = frozenset({4002, 7497})
LIVE_PORTS = frozenset({4001, 7496})


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ConnectionConfig(StrictModel):
    host: str = Field(default="127.0.0.1", min_length=1, description="IB Gateway / TWS host")
    port: int = Field(default=4002, ge=1, le=65535, description="4002 Gateway paper, 7497 TWS paper")
    client_id: int = Field(default=17, ge=0, le=2**31 - 1)
    allow_remote_host: bool = Field(
        default=False, description="allow a host that is not loopback (a gateway on another machine)"
    )
    connect_timeout_seconds: float = Field(default=10.0, gt=0.0, le=120.0)
    request_timeout_seconds: float = Field(default=10.0, gt=0.0, le=300.0)
    market_data_type: int = Field(
        default=1, ge=1, le=4, description="requested first; the bot falls back to delayed (3) when refused"
    )
    max_market_data_lines: int = Field(default=60, ge=10, le=100, description="of IB's default 100")

    @model_validator(mode="after")
    def _check_host(self) -> ConnectionConfig:
        if not self.allow_remote_host and not is_loopback(self.host):
            raise ValueError(f"host {self.host!r} is not a loopback address; set allow_remote_host = true to use it")
        return self


class AccountConfig(StrictModel):
    id: str = Field(default="", max_length=32, description="expected account id; empty: the gateway's only one")
    allow_live: bool = Field(
        default=False, description="trade a live account; also needs ALVH_ALLOW_LIVE=1 in the environment"
    )


class StateConfig(StrictModel):
    dir: Path = Field(default=Path("state"), description="journal, database, control socket, logs")


class LoggingConfig(StrictModel):
    level: str = Field(default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")
    file: str = Field(default="alvh.log", min_length=1, description="JSON lines, inside the state dir")

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class ExecutionConfig(StrictModel):
    walk_steps: int = Field(default=4, ge=1, le=20, description="limit price steps from mid to the bound")
    walk_seconds: float = Field(default=60.0, gt=0.0, le=1800.0, description="time to walk from mid to the bound")
    collar_pct: float = Field(
        default=0.25, gt=0.0, le=1.0, description="a limit may not be further than this fraction from a fresh mid"
    )
    collar_min_dollars: float = Field(
        default=0.10, ge=0.0, le=5.0, description="collar floor in dollars for cheap options"
    )
    fresh_quote_seconds: float = Field(
        default=30.0, gt=0.0, le=600.0, description="a quote older than this cannot price an order"
    )
    max_contracts_per_order: int = Field(default=200, ge=1, le=10000)
    ack_timeout_seconds: float = Field(
        default=10.0, gt=0.0, le=120.0, description="wait for an order to be acknowledged"
    )
    reconcile_retries: int = Field(default=3, ge=1, le=20, description="lookups before an intent is called unknown")


class AlertsConfig(StrictModel):
    webhook_url: str = Field(default="", max_length=2000, description="JSON POST on each alert; empty: log only")
    webhook_timeout_seconds: float = Field(default=5.0, gt=0.0, le=60.0)
    disconnected_alert_seconds: float = Field(
        default=300.0,
        gt=0.0,
        le=86400.0,
        description="alert when disconnected from the gateway this long (wall seconds)",
    )

    @field_validator("webhook_url")
    @classmethod
    def _check_url(cls, url: str) -> str:
        if url and not url.startswith(("http://", "https://")):
            raise ValueError("webhook_url must start with http:// or https://")
        return url


class BotConfig(StrictModel):
    connection: ConnectionConfig = Field(default_factory=ConnectionConfig)
    account: AccountConfig = Field(default_factory=AccountConfig)
    state: StateConfig = Field(default_factory=StateConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    strategy: StrategyConfig = Field(default_factory=StrategyConfig)

    def strategy_hash(self) -> str:
        """SHA-256 of the canonical strategy config: what a decision record depends on."""
        text = canonical_json(self.strategy.model_dump(mode="json"))
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class ConfigProblem:
    key: str
    value: str
    message: str

    def __str__(self) -> str:
        if self.value:
            return f"{self.key} = {self.value}: {self.message}"
        return f"{self.key}: {self.message}"


class ConfigError(Exception):
    def __init__(self, source: str, problems: list[ConfigProblem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: {len(problems)} problem(s)")

    def render(self) -> str:
        lines = [f"{self.source}: {len(self.problems)} problem(s)"]
        lines.extend(f"  - {problem}" for problem in self.problems)
        return "\n".join(lines)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _model_at(model: type[BaseModel], path: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model class that owns the last key of ``path`` (None when the path leaves the models)."""
    current: type[BaseModel] = model
    for part in path:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part)
        if field is None:
            return None
        nested = _nested_model(field)
        if nested is None:
            return None
        current = nested
    return current


def _nested_model(field: FieldInfo) -> type[BaseModel] | None:
    annotation: Any = field.annotation
    candidates = [annotation, *getattr(annotation, "__args__", ())]
    for candidate in candidates:
        for inner in [candidate, *getattr(candidate, "__args__", ())]:
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                return inner
    return None


def _allowed_range(field: FieldInfo) -> str:
    bounds = []
    for constraint in field.metadata:
        for attribute, symbol in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            limit = getattr(constraint, attribute, None)
            if limit is not None:
                bounds.append(f"{symbol} {limit}")
        for attribute, word in (("min_length", "at least"), ("max_length", "at most")):
            limit = getattr(constraint, attribute, None)
            if limit is not None:
                bounds.append(f"{word} {limit} long")
    text = ", ".join(bounds)
    if field.description:
        text = f"{text} ({field.description})" if text else field.description
    return text


def _problem_from(error: Any, model: type[BaseModel]) -> ConfigProblem:
    location: tuple[int | str, ...] = tuple(error["loc"])
    key = ".".join(str(part) for part in location) or "(file)"
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        owner = _model_at(model, location[:-1])
        allowed = ", ".join(sorted(owner.model_fields)) if owner else "none"
        return ConfigProblem(key, _short(value), f"unknown key; allowed keys here: {allowed}")
    message = str(error["msg"]).removeprefix("Value error, ")
    owner = _model_at(model, location[:-1])
    last = location[-1] if location else None
    if owner is not None and isinstance(last, str) and last in owner.model_fields:
        allowed = _allowed_range(owner.model_fields[last])
        if allowed and kind not in ("value_error", "assertion_error"):
            message = f"{message}; allowed: {allowed}"
    shown = "" if isinstance(value, dict) else _short(value)
    return ConfigProblem(key, shown, message)


def validation_problems(error: ValidationError, model: type[BaseModel]) -> list[ConfigProblem]:
    return [_problem_from(item, model) for item in error.errors(include_url=False)]


def parse_config(data: dict[str, Any], source: str = "config") -> BotConfig:
    try:
        return BotConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(source, validation_problems(error, BotConfig)) from None


def load_config(path: Path | None) -> BotConfig:
    """The config at ``path``; ``None`` gives the defaults (a paper account on loopback)."""
    if path is None:
        return BotConfig()
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(source, [ConfigProblem("(file)", "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(source, [ConfigProblem("(file)", "", f"cannot read: {error}")]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(source, [ConfigProblem("(file)", "", f"not valid TOML: {error}")]) from None
    return parse_config(data, source)
