"""Tables owned by the notifications service (its outbox and inbox come from the kit)."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from kit.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


# --- in-app feed and preferences ---------------------------------------------------------------
# (The feed, its live push and forwarding; the per-user preferences both halves consult.)

from datetime import datetime  # noqa: E402

from sqlalchemy import JSON, DateTime, Index, Integer, String, Text, UniqueConstraint  # noqa: E402
from sqlalchemy.orm import Mapped, mapped_column  # noqa: E402

FeedId = String(36)


class FeedNotification(Base):
    """One notice for one person. `(source_event_id, recipient_id)` is unique: a redelivered or
    duplicated event never notifies anyone twice.

    `in_feed` is false for a notice its recipient wants by mail only: the row still exists, so
    the mail is sent once, by the same forwarder as an unread notice. `forward_at` is when an
    unread notice is mailed (null: never); `forwarded_at` when it was. `pushed_at` is set once
    the notice went out to live sessions (Redis); unpushed rows are what the pusher claims.
    """

    __tablename__ = "feed_notifications"
    __table_args__ = (
        UniqueConstraint("source_event_id", "recipient_id", name="uq_feed_notifications_source"),
        Index("ix_feed_notifications_recipient", "workspace_id", "recipient_id", "id"),
        Index(
            "ix_feed_notifications_unpushed",
            "id",
            postgresql_where="pushed_at IS NULL",
            sqlite_where="pushed_at IS NULL",
        ),
        Index(
            "ix_feed_notifications_forward",
            "forward_at",
            postgresql_where="forwarded_at IS NULL AND forward_at IS NOT NULL",
            sqlite_where="forwarded_at IS NULL AND forward_at IS NOT NULL",
        ),
    )

    id: Mapped[str] = mapped_column(FeedId, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(FeedId)
    recipient_id: Mapped[str] = mapped_column(FeedId)
    kind: Mapped[str] = mapped_column(String(40))
    source_event_id: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[str | None] = mapped_column(FeedId, nullable=True)
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text, default="")
    item_id: Mapped[str | None] = mapped_column(FeedId, nullable=True)
    item_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    project_id: Mapped[str | None] = mapped_column(FeedId, nullable=True)
    in_feed: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    pushed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    forward_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    forwarded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class NotificationPreference(Base):
    """A person's choices: a channel per notice kind (only those differing from the default
    are stored) and how long an unread notice waits before it is mailed."""

    __tablename__ = "notification_preferences"

    workspace_id: Mapped[str] = mapped_column(FeedId, primary_key=True)
    user_id: Mapped[str] = mapped_column(FeedId, primary_key=True)
    channels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    forward_after_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
