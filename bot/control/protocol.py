"""The control channel's messages: one JSON line in, one JSON line out, over a Unix socket."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

MAX_REQUEST_BYTES = 64 * 1024
SOCKET_NAME = "control.sock"

Command = Literal["ping", "status", "rebalance", "halt", "resume"]


class ControlRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    command: Command
    force: bool = False
    reason: str | None = Field(default=None, max_length=500)
    cancel_harvest: bool = False

    @model_validator(mode="after")
    def _check(self) -> ControlRequest:
        if self.force and self.command != "rebalance":
            raise ValueError("force applies to rebalance only")
        if self.force and not (self.reason and self.reason.strip()):
            raise ValueError("a forced rebalance needs a reason")
        if self.command == "halt" and not (self.reason and self.reason.strip()):
            raise ValueError("halt needs a reason")
        return self


class ControlResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ok: bool
    exit_code: int = Field(ge=0, le=2)
    message: str
    data: dict[str, JsonValue] = Field(default_factory=dict)
