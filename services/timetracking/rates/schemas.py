"""Bodies of rates, availability, days off, retainers and the billing export.

Unknown fields are refused, so nobody sets `workspace_id` through a body. Money is a
Decimal with two places (JSON carries it as a string, so no float ever rounds it); a rate's
scope never changes after creation — a different scope is a different rate.
"""

from __future__ import annotations

import datetime as dt
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

Scope = Literal["workspace", "organisation", "project", "user"]
BillingGroup = Literal["entry", "item_person"]
Id = Annotated[str, Field(min_length=1, max_length=36)]
Money = Annotated[
    Decimal,
    Field(ge=0, max_digits=12, decimal_places=2),
    # Stored as NUMERIC(12, 2): answer with the value as stored, 95.5 → 95.50.
    AfterValidator(lambda value: value.quantize(Decimal("0.01"))),
]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, e.g. EUR.")]
WEEK_MINUTES = 7 * 24 * 60


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- rates -----------------------------------------------------------------------------


class RateCreate(Strict):
    scope: Scope
    scope_id: Id | None = Field(
        default=None,
        description="The organisation, project or user the rate applies to; none for `workspace`.",
    )
    hourly_rate: Money
    currency: Currency = "EUR"
    effective_from: date

    @model_validator(mode="after")
    def _scope_id_matches_scope(self) -> Self:
        if self.scope == "workspace" and self.scope_id is not None:
            raise ValueError("a workspace rate has no scope_id")
        if self.scope != "workspace" and self.scope_id is None:
            raise ValueError(f"a {self.scope} rate needs the scope_id of its {self.scope}")
        return self


class RateUpdate(Strict):
    """Partial. Correcting a past rate re-prices past entries in the next export; to change
    a price from a date on, create a rate with that `effective_from` instead."""

    hourly_rate: Money | None = None
    currency: Currency | None = None
    effective_from: date | None = None


class Rate(BaseModel):
    id: str
    scope: Scope
    scope_id: str | None
    hourly_rate: Decimal
    currency: str
    effective_from: date


# --- availability and days off ---------------------------------------------------------


class AvailabilityCreate(Strict):
    user_id: Id
    weekly_minutes: int = Field(ge=0, le=WEEK_MINUTES)
    working_days: list[int] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4],
        max_length=7,
        description="ISO weekdays counted from 0 = Monday; the weekly minutes are spread "
        "evenly over them.",
    )
    effective_from: date

    @field_validator("working_days")
    @classmethod
    def _weekdays(cls, days: list[int]) -> list[int]:
        return _weekdays(days)

    @model_validator(mode="after")
    def _days_for_minutes(self) -> Self:
        if self.weekly_minutes > 0 and not self.working_days:
            raise ValueError("weekly minutes need at least one working day")
        return self


class AvailabilityUpdate(Strict):
    weekly_minutes: int | None = Field(default=None, ge=0, le=WEEK_MINUTES)
    working_days: list[int] | None = Field(default=None, max_length=7)
    effective_from: date | None = None

    @field_validator("working_days")
    @classmethod
    def _weekdays(cls, days: list[int] | None) -> list[int] | None:
        return None if days is None else _weekdays(days)


def _weekdays(days: list[int]) -> list[int]:
    if any(day < 0 or day > 6 for day in days):
        raise ValueError("working days are 0 (Monday) to 6 (Sunday)")
    if len(set(days)) != len(days):
        raise ValueError("a working day is listed twice")
    return sorted(days)


class Availability(BaseModel):
    id: str
    user_id: str
    weekly_minutes: int
    working_days: list[int]
    effective_from: date


class DayOffCreate(Strict):
    user_id: Id
    day: date
    note: str = Field(default="", max_length=500)


class DayOff(BaseModel):
    id: str
    user_id: str
    day: date
    note: str


# --- retainers -------------------------------------------------------------------------


class RetainerCreate(Strict):
    organisation_id: Id
    minutes_per_month: int = Field(ge=0, le=31 * 24 * 60)
    effective_from: date = Field(description="The first day of the month it starts.")

    @field_validator("effective_from")
    @classmethod
    def _first_of_month(cls, day: date) -> date:
        return _first_of_month(day)


class RetainerUpdate(Strict):
    minutes_per_month: int | None = Field(default=None, ge=0, le=31 * 24 * 60)
    effective_from: date | None = None

    @field_validator("effective_from")
    @classmethod
    def _first_of_month(cls, day: date | None) -> date | None:
        return None if day is None else _first_of_month(day)


def _first_of_month(day: date) -> date:
    """Retainers are sold by the month; a mid-month start would make "this month's sold
    hours" ambiguous."""
    if day.day != 1:
        raise ValueError("a retainer starts on the first day of a month")
    return day


class Retainer(BaseModel):
    id: str
    organisation_id: str
    minutes_per_month: int
    effective_from: date


# --- billing export --------------------------------------------------------------------


class BillingEntryLine(BaseModel):
    """One time entry, priced."""

    date: dt.date
    entry_id: str
    item_id: str
    item_number: int | None
    item_title: str
    project_id: str
    project_name: str
    user_id: str
    person_name: str
    activity_type: str
    note: str
    minutes: int
    hours: Decimal
    hourly_rate: Decimal | None
    currency: str | None
    amount: Decimal | None


ENTRY_COLUMNS = (
    "date",
    "entry_id",
    "item_number",
    "item_title",
    "project_name",
    "person_name",
    "activity_type",
    "note",
    "minutes",
    "hours",
    "hourly_rate",
    "currency",
    "amount",
)


class BillingGroupLine(BaseModel):
    """The entries of one person on one item at one rate (a rate change in the period
    splits the line, so every line is quantity times unit price)."""

    item_id: str
    item_number: int | None
    item_title: str
    project_id: str
    project_name: str
    user_id: str
    person_name: str
    first_date: date
    last_date: date
    minutes: int
    hours: Decimal
    hourly_rate: Decimal | None
    currency: str | None
    amount: Decimal | None


GROUP_COLUMNS = (
    "item_number",
    "item_title",
    "project_name",
    "person_name",
    "first_date",
    "last_date",
    "minutes",
    "hours",
    "hourly_rate",
    "currency",
    "amount",
)


class BillingTotal(BaseModel):
    currency: str
    minutes: int
    hours: Decimal
    amount: Decimal


class Billing(BaseModel):
    organisation_id: str
    organisation_name: str
    from_: date = Field(serialization_alias="from")
    to: date
    group: BillingGroup
    approval_required: bool = Field(
        description="When true, only approved entries are billed (the workspace's policy)."
    )
    lines: list[BillingEntryLine] | list[BillingGroupLine]
    totals: list[BillingTotal] = Field(description="One per currency.")
    unrated_minutes: int = Field(
        description="Billable minutes no rate applies to: exported without an amount."
    )
    flagged_minutes: int = Field(
        description="Minutes of timers left running past the limit: held back until reviewed."
    )
