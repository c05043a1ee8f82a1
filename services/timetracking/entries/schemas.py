"""Entry and policy bodies. Unknown fields are refused, so nobody sets `user_id`, `status` or
`flagged` through a body. Only shapes are checked here; the rules (positive duration, end
after start, no far-future day, a known item) live in the service, where the CSV importer
gets the same answers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Status = Literal["draft", "submitted", "approved", "rejected"]
Source = Literal["timer", "manual", "import"]

NOTE_MAX = 10_000
ACTIVITY_MAX = 50
FLAG_AFTER_MAX = 7 * 24 * 60


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EntryCreate(Strict):
    """A duration (`minutes`) or an interval (`started_at` and `ended_at`), not both."""

    item_id: str = Field(min_length=1, max_length=36)
    worked_on: date | None = Field(default=None, description="Default: the day of `started_at`.")
    minutes: int | None = None
    started_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    note: str = Field(default="", max_length=NOTE_MAX)
    billable: bool = True
    activity_type: str = Field(default="", max_length=ACTIVITY_MAX)
    percent_complete: int | None = Field(
        default=None, ge=0, le=100, description="Progress on the item, passed on to tickets."
    )


class EntryUpdate(Strict):
    """Partial: only the fields sent change. Sending `minutes` alone keeps the start and moves
    the end; sending times recomputes the minutes."""

    item_id: str | None = Field(default=None, min_length=1, max_length=36)
    worked_on: date | None = None
    minutes: int | None = None
    started_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    note: str | None = Field(default=None, max_length=NOTE_MAX)
    billable: bool | None = None
    activity_type: str | None = Field(default=None, max_length=ACTIVITY_MAX)


class Decision(Strict):
    note: str = Field(default="", max_length=2_000)


class Entry(BaseModel):
    id: str
    user_id: str
    item_id: str
    project_id: str
    organisation_id: str | None
    worked_on: date
    minutes: int
    started_at: datetime | None
    ended_at: datetime | None
    note: str
    billable: bool
    activity_type: str
    status: str
    source: str
    flagged: bool = Field(
        description="A timer left running past the workspace's limit: not billable until "
        "someone confirms its duration."
    )
    decided_by: str | None
    decision_note: str
    created_at: datetime
    updated_at: datetime


class EntryPage(BaseModel):
    items: list[Entry]
    next_cursor: str | None


class Revision(BaseModel):
    id: str
    entry_id: str
    change: str
    changed_by: str | None
    changed_at: datetime
    snapshot: dict[str, Any] = Field(description="The entry as it was before this change.")


class Policy(BaseModel):
    approval_required: bool
    timer_flag_after_minutes: int


class PolicyUpdate(Strict):
    approval_required: bool
    timer_flag_after_minutes: int = Field(ge=1, le=FLAG_AFTER_MAX)


class EntryFilter(BaseModel):
    """List filters; every one narrows (AND), several values of one widen (OR)."""

    user_id: list[str] = Field(default_factory=list)
    item_id: list[str] = Field(default_factory=list)
    project_id: list[str] = Field(default_factory=list)
    status: list[Status] = Field(default_factory=list)
    flagged: bool | None = None
    date_from: date | None = None
    date_to: date | None = None
