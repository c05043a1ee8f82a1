"""Timer bodies."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.timetracking.entries.schemas import NOTE_MAX, Entry


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TimerStart(Strict):
    item_id: str = Field(min_length=1, max_length=36)
    note: str = Field(default="", max_length=NOTE_MAX)


class TimerStop(Strict):
    note: str | None = Field(
        default=None, max_length=NOTE_MAX, description="Replaces the note given at start."
    )
    percent_complete: int | None = Field(
        default=None, ge=0, le=100, description="Progress on the item, passed on to tickets."
    )


class Timer(BaseModel):
    id: str
    item_id: str
    started_at: datetime
    note: str


class StartedTimer(Timer):
    stopped_entry: Entry | None = Field(
        description="The entry the previously running timer became, if one was running."
    )
