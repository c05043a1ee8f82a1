"""What the feed answers: notices, pages of them, the unread count."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class Notification(BaseModel):
    id: str
    kind: str
    title: str
    body: str = Field(description="Plain text: an excerpt of the comment, the SLA's target, …")
    item_id: str | None
    item_number: int | None
    project_id: str | None
    actor_id: str | None
    created_at: datetime
    read_at: datetime | None
    read: bool


class NotificationPage(BaseModel):
    items: list[Notification]
    next_cursor: str | None
    unread: int


class UnreadCount(BaseModel):
    unread: int


class MarkAllRead(BaseModel):
    """`up_to`: the newest notice the person has seen; newer ones (arrived meanwhile) stay
    unread. Without it, everything is marked read."""

    model_config = ConfigDict(extra="forbid")

    up_to: str | None = Field(default=None, min_length=1, max_length=36)


class Marked(BaseModel):
    marked: int
    unread: int
