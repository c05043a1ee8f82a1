"""Bodies of the webhook endpoints API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Filters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project_id: str | None = Field(default=None, max_length=36)
    type_id: str | None = Field(default=None, max_length=36)

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2000)
    events: list[str] = Field(min_length=1, max_length=50)
    filters: Filters = Field(default_factory=Filters)
    client_safe: bool = Field(
        default=True,
        description="Client-safe payloads (no private notes, no client-hidden fields).",
    )
    description: str = Field(default="", max_length=500)
    max_concurrency: int | None = Field(default=None, ge=1, le=64)


class EndpointUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=1, max_length=2000)
    events: list[str] | None = Field(default=None, min_length=1, max_length=50)
    filters: Filters | None = None
    client_safe: bool | None = None
    description: str | None = Field(default=None, max_length=500)
    max_concurrency: int | None = Field(default=None, ge=1, le=64)
    enabled: bool | None = Field(default=None, description="Switch back on after it was disabled.")


class Endpoint(BaseModel):
    id: str
    url: str
    description: str
    events: list[str]
    filters: dict[str, str]
    client_safe: bool
    source: str
    secret: str = Field(description="Verify `webhook-signature` with it (Standard Webhooks).")
    previous_secret_expires_at: datetime | None
    max_concurrency: int
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime


class Attempt(BaseModel):
    attempt: int
    url: str
    request_headers: dict[str, str]
    status_code: int | None
    response_excerpt: str
    error: str | None
    latency_ms: int
    attempted_at: datetime


class Delivery(BaseModel):
    id: str = Field(description="The `webhook-id` header, the same on every attempt.")
    event_name: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None
    body: dict[str, Any]
    log: list[Attempt] = Field(default_factory=list)


class DeliveryPage(BaseModel):
    items: list[Delivery]
    next_cursor: str | None
