"""Tables owned by the integrations service (its outbox, inbox and access projection come from
the kit).

- `trigger_events`: what the gateway consumed from the bus, one row per (trigger, event), in
  both shapes a tool may receive (staff, client-safe). Polling lists read it; outgoing
  webhooks carry the very same objects.
- `webhook_endpoints`: admins' endpoints and tools' REST-hook subscriptions alike.
- `webhook_deliveries`: one message to one endpoint, with its retry schedule; the schedule
  lives here so a restart resumes it.
- `webhook_attempts`: the delivery log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kit.db import new_metadata

Id = String(36)


class Base(DeclarativeBase):
    metadata = new_metadata()


class TriggerEvent(Base):
    __tablename__ = "trigger_events"
    __table_args__ = (
        Index("ix_trigger_events_list", "workspace_id", "trigger", "occurred_at"),
        Index("ix_trigger_events_event", "event_id", "trigger", unique=True),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    trigger: Mapped[str] = mapped_column(String(40))
    item_id: Mapped[str | None] = mapped_column(Id, nullable=True)
    event_id: Mapped[str] = mapped_column(String(64))
    poll_id: Mapped[str] = mapped_column(String(120))
    """The object's stable id as polling tools deduplicate on it (with the update time for
    "updated" triggers, so every update counts as new)."""
    project_id: Mapped[str | None] = mapped_column(Id, nullable=True)
    type_id: Mapped[str | None] = mapped_column(Id, nullable=True)
    staff_payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    client_payload: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    """None when nothing of the event may reach a client (a private note)."""
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_workspace", "workspace_id", "enabled"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(500), default="")
    events: Mapped[list[str]] = mapped_column(JSON)
    filters: Mapped[dict[str, str]] = mapped_column(JSON)
    client_safe: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(8))
    """`admin` (registered in the settings) or `hook` (a tool's REST-hook subscription)."""
    owner_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    owner: Mapped[dict[str, Any]] = mapped_column(JSON)
    """Who registered it (subject, kind, role, teams): it hears only of what they may see."""
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100), nullable=True)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    max_concurrency: Mapped[int] = mapped_column(Integer, default=4)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "created_at"),
        Index("ix_webhook_deliveries_once", "endpoint_id", "source_key", unique=True),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """The `webhook-id` header: the same on every attempt, so receivers deduplicate on it."""
    workspace_id: Mapped[str] = mapped_column(Id)
    endpoint_id: Mapped[str] = mapped_column(Id)
    source_key: Mapped[str] = mapped_column(String(120))
    """What caused it (event and trigger, or a command's id): one delivery per endpoint each."""
    event_name: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12))
    """`pending` (due at `next_attempt_at`), `succeeded`, `failed` (schedule exhausted or the
    endpoint was switched off)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_endpoint", "endpoint_id", "seq"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    endpoint_id: Mapped[str] = mapped_column(Id)
    delivery_id: Mapped[str] = mapped_column(String(64), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(String(2000))
    request_headers: Mapped[dict[str, str]] = mapped_column(JSON)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_excerpt: Mapped[str] = mapped_column(String(1000), default="")
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    latency_ms: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
