"""The CloudEvents 1.0 envelope (structured JSON mode) with Deskline's extension attributes.

Every event and command on the bus is one `Envelope`; its `type` is also the
AMQP routing key and carries the version (`ticket.item.created.v1`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from uuid6 import uuid7

SPEC_VERSION: Final = "1.0"
EVENT_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+\.v[1-9][0-9]*$")


def new_event_id() -> str:
    """UUIDv7: time-ordered, so ids double as a rough creation order in logs and tables."""
    return str(uuid7())


class EventData(BaseModel):
    """Base of every event payload.

    Unknown fields are ignored so that a producer may add optional fields
    without breaking consumers built against an older snapshot.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)


class Envelope(BaseModel):
    """One message on the bus. Consumers ignore attributes they do not know."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(default_factory=new_event_id, min_length=1)
    source: str = Field(min_length=1, description="Producing service, e.g. `tickets`.")
    type: str = Field(description="Event type with version; also the routing key.")
    specversion: Literal["1.0"] = SPEC_VERSION
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    subject: str | None = Field(default=None, description="The entity the event is about.")
    datacontenttype: Literal["application/json"] = "application/json"
    workspace: str | None = Field(default=None, description="Tenant the event belongs to.")
    correlationid: str | None = Field(default=None, description="Id of the originating request.")
    causationid: str | None = Field(default=None, description="Id of the event that caused this.")
    actor: str | None = Field(default=None, description="User, API key or rule that acted.")
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("type")
    @classmethod
    def _versioned_type(cls, value: str) -> str:
        if not EVENT_TYPE_PATTERN.match(value):
            raise ValueError(f"event type {value!r} must be dotted lowercase ending in .vN")
        return value

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> Envelope:
        return cls.model_validate_json(raw)
