"""Comment bodies: a public reply (the client sees it) or a private note (no client, ever)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Visibility = Literal["public", "private"]


class CommentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=100_000, description="HTML, sanitised.")
    visibility: Visibility = "public"


class CommentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=100_000)


class Comment(BaseModel):
    id: str
    item_id: str
    author_id: str | None
    body: str
    visibility: str
    channel: str
    created_at: datetime
    edited_at: datetime | None


class ActivityEntry(BaseModel):
    id: str
    actor: str | None
    kind: str
    changes: dict[str, Any]
    created_at: datetime
