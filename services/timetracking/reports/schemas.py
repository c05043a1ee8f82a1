"""Report rows and reports. Every report is a header plus flat `rows`, so the same rows
render as JSON or as CSV (`*_COLUMNS` name the CSV columns, in order).

Durations are exact whole minutes beside hours to two places: minutes for anyone who
re-adds the figures, hours for people reading them.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from services.timetracking.reports.calendar import Period

GroupBy = Literal["client", "project", "person", "item_type"]
Audience = Literal["workspace", "visible_projects", "self"]
AUDIENCE_DESCRIPTION = (
    "Whose time the figures include: everyone's (`workspace`, admins), the caller's own plus "
    "that on projects they may view (`visible_projects`), or only the caller's (`self`)."
)


# --- hours -----------------------------------------------------------------------------


class HoursRow(BaseModel):
    period_start: date = Field(description="Monday of the week, or first of the month.")
    key: str | None = Field(description="The client, project, person or item type id.")
    label: str = Field(
        description="Its name (for item types: ticket or task), empty when not known."
    )
    minutes: int
    billable_minutes: int
    hours: Decimal
    billable_hours: Decimal


HOURS_COLUMNS = (
    "period_start",
    "key",
    "label",
    "minutes",
    "billable_minutes",
    "hours",
    "billable_hours",
)


class HoursReport(BaseModel):
    group_by: GroupBy
    period: Period
    from_: date = Field(serialization_alias="from")
    to: date
    audience: Audience = Field(description=AUDIENCE_DESCRIPTION)
    rows: list[HoursRow]
    total_minutes: int
    total_hours: Decimal


# --- utilisation -----------------------------------------------------------------------


class UtilisationRow(BaseModel):
    user_id: str
    name: str
    period_start: date
    available_minutes: int = Field(
        description="Weekly availability on the period's working days in range, minus days off."
    )
    logged_minutes: int
    billable_minutes: int
    available_hours: Decimal
    logged_hours: Decimal
    utilisation_percent: Decimal | None = Field(description="Logged / available; none if 0.")
    billable_percent: Decimal | None


UTILISATION_COLUMNS = (
    "user_id",
    "name",
    "period_start",
    "available_minutes",
    "logged_minutes",
    "billable_minutes",
    "available_hours",
    "logged_hours",
    "utilisation_percent",
    "billable_percent",
)


class UtilisationReport(BaseModel):
    period: Period
    from_: date = Field(serialization_alias="from")
    to: date
    audience: Audience = Field(description=AUDIENCE_DESCRIPTION)
    rows: list[UtilisationRow]


# --- clients: used vs sold -------------------------------------------------------------


class ClientRow(BaseModel):
    organisation_id: str
    organisation_name: str
    sold_minutes: int | None = Field(description="The retainer for the month; none if none.")
    used_minutes: int = Field(description="Billable minutes logged for the client this month.")
    nonbillable_minutes: int
    remaining_minutes: int | None
    projected_minutes: int = Field(description="Used, extrapolated to the month's end.")
    sold_hours: Decimal | None
    used_hours: Decimal
    projected_hours: Decimal
    projected_percent: Decimal | None = Field(description="Projected / sold.")


CLIENT_COLUMNS = (
    "organisation_id",
    "organisation_name",
    "sold_minutes",
    "used_minutes",
    "nonbillable_minutes",
    "remaining_minutes",
    "projected_minutes",
    "sold_hours",
    "used_hours",
    "projected_hours",
    "projected_percent",
)


class ClientReport(BaseModel):
    month: date
    as_of: date
    working_days: int = Field(description="Monday to Friday in the month.")
    elapsed_working_days: int = Field(description="Of those, up to and including `as_of`.")
    audience: Audience = Field(description=AUDIENCE_DESCRIPTION)
    rows: list[ClientRow]


# --- free capacity ---------------------------------------------------------------------


class CapacityWeek(BaseModel):
    week_start: date
    available_minutes: int
    demand_minutes: int
    free_minutes: int = Field(description="Available minus demand; negative when overbooked.")
    available_hours: Decimal
    demand_hours: Decimal
    free_hours: Decimal


CAPACITY_COLUMNS = (
    "week_start",
    "available_minutes",
    "demand_minutes",
    "free_minutes",
    "available_hours",
    "demand_hours",
    "free_hours",
)


class CapacityReport(BaseModel):
    weeks: int
    first_week: date
    audience: Audience = Field(description=AUDIENCE_DESCRIPTION)
    people: int = Field(description="People with availability in the horizon.")
    open_items: int
    unestimated_items: int = Field(
        description="Open items without an estimate: demand the figures cannot see."
    )
    remaining_estimate_minutes: int
    rows: list[CapacityWeek]
    available_minutes: int
    demand_minutes: int
    free_minutes: int
    free_hours_per_week: Decimal = Field(description="The horizon's free time, per week.")
    needed_hours_per_week: Decimal | None = None
    fits: bool | None = Field(
        default=None,
        description="With `needed_hours_per_week`: whether every week has that much free.",
    )
