"""Item bodies. Unknown fields are refused, so nobody sets `number`, `workspace_id` or
`created_by` through a body."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Priority = Literal["low", "normal", "high", "urgent"]
Format = Literal["html", "markdown"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssigneeRef(Strict):
    type: Literal["user", "team"] = "user"
    id: str = Field(min_length=1, max_length=36)


class ItemCreate(Strict):
    project_id: str = Field(min_length=1, max_length=36)
    type_id: str | None = Field(default=None, description="Default: the workspace's ticket type.")
    status_id: str | None = Field(default=None, description="Default: the workflow's first.")
    title: str = Field(min_length=1, max_length=500)
    description: str = Field(default="", max_length=200_000)
    description_format: Format = "html"
    priority: Priority = "normal"
    requester_id: str | None = Field(default=None, description="Default: the creator.")
    assignees: list[AssigneeRef] = Field(default_factory=list, max_length=50)
    start_date: date | None = None
    due_date: date | None = None
    estimate_minutes: int | None = Field(default=None, ge=0, le=1_000_000)
    points: float | None = Field(default=None, ge=0, le=10_000)
    percent_complete: int = Field(default=0, ge=0, le=100)
    custom_values: dict[str, Any] = Field(default_factory=dict)


class ItemUpdate(Strict):
    """Partial: only the fields sent change."""

    title: str | None = Field(default=None, min_length=1, max_length=500)
    description: str | None = Field(default=None, max_length=200_000)
    description_format: Format | None = None
    priority: Priority | None = None
    requester_id: str | None = None
    start_date: date | None = None
    due_date: date | None = None
    estimate_minutes: int | None = Field(default=None, ge=0, le=1_000_000)
    points: float | None = Field(default=None, ge=0, le=10_000)
    percent_complete: int | None = Field(default=None, ge=0, le=100)
    custom_values: dict[str, Any] | None = None


class StatusChange(Strict):
    status_id: str = Field(min_length=1, max_length=36)


class AssigneesUpdate(Strict):
    assignees: list[AssigneeRef] = Field(max_length=50)


class Move(Strict):
    project_id: str = Field(min_length=1, max_length=36)


class Conversion(Strict):
    """Change an item's type (e.g. ticket → task); statuses are mapped explicitly."""

    type_id: str = Field(min_length=1, max_length=36)
    status_mapping: dict[str, str] = Field(
        default_factory=dict,
        description="Old status id → new status id; default: the new workflow's status of the "
        "same category, else its first.",
    )


class Item(BaseModel):
    id: str
    number: int
    project_id: str
    type_id: str
    kind: str
    status_id: str
    status_name: str
    status_category: str
    title: str
    description: str
    description_format: str
    priority: str
    requester_id: str | None
    assignees: list[AssigneeRef]
    follower_ids: list[str]
    start_date: date | None
    due_date: date | None
    estimate_minutes: int | None
    points: float | None
    percent_complete: int
    custom_values: dict[str, Any]
    created_by: str | None
    created_at: datetime
    updated_at: datetime


SortKey = Literal["number", "created_at", "updated_at", "due_date", "priority"]


class ItemFilter(BaseModel):
    """List filters; every one narrows (AND). Several values of one filter widen (OR)."""

    project_id: list[str] = Field(default_factory=list)
    folder_id: list[str] = Field(default_factory=list, description="Includes sub-folders.")
    type_id: list[str] = Field(default_factory=list)
    status_id: list[str] = Field(default_factory=list)
    status_category: list[str] = Field(default_factory=list)
    assignee_id: list[str] = Field(default_factory=list, description="A user or a team.")
    requester_id: list[str] = Field(default_factory=list)
    organisation_id: list[str] = Field(default_factory=list)
    priority: list[Priority] = Field(default_factory=list)
    due_from: date | None = None
    due_to: date | None = None
    q: str | None = Field(default=None, max_length=200, description="Title words or #number.")
    custom: dict[str, str] = Field(
        default_factory=dict, description="`cf.<key>=<value>` query parameters: equality."
    )


class ItemPage(BaseModel):
    items: list[Item]
    next_cursor: str | None


class StatusCount(BaseModel):
    status_id: str
    status_category: str
    count: int
