"""Bodies of the gateway's actions, flat as form-building tools (Zapier, Make, n8n) like them."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Priority = Literal["low", "normal", "high", "urgent"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ItemCreateAction(Strict):
    project_id: str = Field(min_length=1, max_length=36)
    title: str = Field(min_length=1, max_length=500)
    description: str = Field(default="", max_length=200_000)
    type_id: str | None = Field(
        default=None, description="Default: the workspace's first ticket (or task) type."
    )
    status_id: str | None = None
    priority: Priority = "normal"
    requester_id: str | None = None
    requester_email: str | None = Field(
        default=None, max_length=320, description="Looked up among the workspace's people."
    )
    assignee_ids: list[str] = Field(default_factory=list, max_length=50)
    due_date: date | None = None
    estimate_minutes: int | None = Field(default=None, ge=0)
    custom_values: dict[str, Any] = Field(default_factory=dict)


class CommentAction(Strict):
    item_id: str = Field(min_length=1, max_length=36)
    body: str = Field(min_length=1, max_length=100_000)
    visibility: Literal["public", "private"] = "public"


class ItemUpdateAction(Strict):
    item_id: str = Field(min_length=1, max_length=36)
    status_id: str | None = Field(default=None, max_length=36)
    title: str | None = Field(default=None, min_length=1, max_length=500)
    priority: Priority | None = None
    due_date: date | None = None
    estimate_minutes: int | None = Field(default=None, ge=0)
    custom_values: dict[str, Any] | None = None


class AssignAction(Strict):
    item_id: str = Field(min_length=1, max_length=36)
    user_ids: list[str] = Field(default_factory=list, max_length=50)
    team_ids: list[str] = Field(default_factory=list, max_length=50)
    replace: bool = Field(default=False, description="Replace the assignees instead of adding.")


class TimeAction(Strict):
    item_id: str = Field(min_length=1, max_length=36)
    minutes: int = Field(ge=1, le=24 * 60)
    worked_on: date | None = Field(default=None, description="Default: today (UTC).")
    note: str = Field(default="", max_length=2000)
    billable: bool = True


class ClientAction(Strict):
    email: str = Field(min_length=3, max_length=320)
    display_name: str = Field(min_length=1, max_length=200)
    client_organisation_id: str | None = Field(default=None, max_length=36)
    organisation_name: str | None = Field(
        default=None, max_length=200, description="Creates the organisation when no id is given."
    )


class Choice(BaseModel):
    """One entry of a dropdown."""

    id: str
    name: str
