"""Timer bodies."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

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


class TimerChange(Strict):
    """Correct the running timer: it was started late ("I began an hour ago") or the note
    was wrong. The start may not be in the future."""

    started_at: datetime | None = Field(
        default=None, description="When the work really began (with a time zone)."
    )
    note: str | None = Field(default=None, max_length=NOTE_MAX)

    @field_validator("started_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError("give the time with its offset, e.g. 2026-03-02T09:00:00+01:00")
        return value


class Timer(BaseModel):
    id: str
    item_id: str
    started_at: datetime
    note: str


class StartedTimer(Timer):
    stopped_entry: Entry | None = Field(
        description="The entry the previously running timer became, if one was running."
    )
