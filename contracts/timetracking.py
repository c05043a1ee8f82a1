"""Events produced by the time-tracking service that other services act on."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from pydantic import Field

from contracts.envelope import EventData
from contracts.registry import registry

SOURCE = "timetracking"


@registry.event(
    "timetracking.time.logged.v1",
    source=SOURCE,
    summary="Time was logged on an item (timer stopped or entry written).",
)
class TimeLogged(EventData):
    """The tickets service moves a New item to its first in-progress status and updates
    percent complete from it (T3)."""

    entry_id: UUID
    workspace_id: UUID
    item_id: UUID
    user_id: UUID
    minutes: int = Field(ge=0)
    worked_on: date
    billable: bool = True
    percent_complete: int | None = Field(
        default=None, ge=0, le=100, description="Progress the person reported with the entry."
    )
