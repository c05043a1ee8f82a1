"""Business-hours calendars, SLA policies and item SLA state, as the API shows them."""

from __future__ import annotations

import itertools
import re
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holiday_data
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kit.db.times import in_utc

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")
Category = Literal["new", "open", "in_progress", "waiting", "done", "closed"]
WAITING: tuple[Category, ...] = ("waiting",)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Opening(_Strict):
    start: str = Field(pattern=HHMM.pattern, examples=["09:00"])
    end: str = Field(pattern=HHMM.pattern, examples=["12:30"])

    @property
    def minutes(self) -> tuple[int, int]:
        return _minutes(self.start), _minutes(self.end)

    @model_validator(mode="after")
    def _ordered(self) -> Opening:
        start, end = self.minutes
        if end <= start:
            raise ValueError("an opening ends after it starts")
        return self


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


Week = dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], list[Opening]]


def _check_week(week: Week) -> Week:
    for day, openings in week.items():
        spans = sorted(o.minutes for o in openings)
        for (_, end), (start, _) in itertools.pairwise(spans):
            if start < end:
                raise ValueError(f"openings of {day} overlap")
    if not any(week.values()):
        raise ValueError("the calendar must be open at some time of the week")
    return week


def _check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {value!r}") from error
    return value


def _check_country(country: str | None, subdivision: str | None) -> None:
    if country is None:
        if subdivision is not None:
            raise ValueError("a holiday subdivision needs its country")
        return
    supported = holiday_data.list_supported_countries()
    if country not in supported:
        raise ValueError(f"no national holidays known for {country!r}")
    if subdivision is not None and subdivision not in supported[country]:
        raise ValueError(f"{country} has no subdivision {subdivision!r}")


class CalendarCreate(_Strict):
    name: str = Field(min_length=1, max_length=200)
    time_zone: str = Field(max_length=64, examples=["Europe/Paris"])
    week: Week
    holidays: list[date] = Field(default_factory=list, max_length=1000)
    holiday_country: str | None = Field(default=None, max_length=8, examples=["FR"])
    holiday_subdivision: str | None = Field(default=None, max_length=16)

    _zone = field_validator("time_zone")(_check_zone)
    _week = field_validator("week")(_check_week)

    @model_validator(mode="after")
    def _country(self) -> CalendarCreate:
        _check_country(self.holiday_country, self.holiday_subdivision)
        return self


class CalendarUpdate(_Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    time_zone: str | None = Field(default=None, max_length=64)
    week: Week | None = None
    holidays: list[date] | None = Field(default=None, max_length=1000)
    holiday_country: str | None = Field(default=None, max_length=8)
    holiday_subdivision: str | None = Field(default=None, max_length=16)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else _check_zone(value)

    @field_validator("week")
    @classmethod
    def _week(cls, value: Week | None) -> Week | None:
        return None if value is None else _check_week(value)


class Calendar(BaseModel):
    id: str
    name: str
    time_zone: str
    week: Week
    holidays: list[date]
    holiday_country: str | None
    holiday_subdivision: str | None
    version: int


class AppliesTo(_Strict):
    """Which items the policy covers; an empty list means any."""

    type_ids: list[str] = Field(default_factory=list, max_length=200)
    priorities: list[str] = Field(default_factory=list, max_length=20)
    organisation_ids: list[str] = Field(default_factory=list, max_length=500)
    project_ids: list[str] = Field(default_factory=list, max_length=500)


class Targets(_Strict):
    """Business minutes; leave one out not to measure it."""

    first_response: int | None = Field(default=None, ge=1, le=525_600)
    next_response: int | None = Field(default=None, ge=1, le=525_600)
    resolution: int | None = Field(default=None, ge=1, le=525_600)

    @model_validator(mode="after")
    def _some(self) -> Targets:
        if not (self.first_response or self.next_response or self.resolution):
            raise ValueError("a policy has at least one target")
        return self


class PolicyCreate(_Strict):
    name: str = Field(min_length=1, max_length=200)
    calendar_id: str = Field(min_length=1, max_length=36)
    applies_to: AppliesTo = Field(default_factory=AppliesTo)
    targets: Targets
    pause_status_ids: list[str] = Field(default_factory=list, max_length=50)
    pause_categories: list[Category] = Field(default_factory=lambda: list(WAITING))
    warning_minutes: int = Field(default=15, ge=0, le=10_000)
    position: int | None = Field(default=None, ge=0)
    enabled: bool = True


class PolicyUpdate(_Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    calendar_id: str | None = Field(default=None, min_length=1, max_length=36)
    applies_to: AppliesTo | None = None
    targets: Targets | None = None
    pause_status_ids: list[str] | None = Field(default=None, max_length=50)
    pause_categories: list[Category] | None = None
    warning_minutes: int | None = Field(default=None, ge=0, le=10_000)
    position: int | None = Field(default=None, ge=0)
    enabled: bool | None = None


class Policy(BaseModel):
    id: str
    name: str
    calendar_id: str
    applies_to: AppliesTo
    targets: Targets
    pause_status_ids: list[str]
    pause_categories: list[str]
    warning_minutes: int
    position: int
    enabled: bool
    version: int


class Clock(BaseModel):
    target: str
    policy_id: str
    state: str
    started_at: datetime
    due_at: datetime | None
    met_at: datetime | None

    @field_validator("started_at", "due_at", "met_at")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else in_utc(value)

    used_minutes: int
    paused_minutes: int
    breached: bool
    breached_by_minutes: int


class ItemSla(BaseModel):
    item_id: str
    clocks: list[Clock]
