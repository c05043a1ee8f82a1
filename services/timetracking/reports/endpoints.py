"""Time and capacity reports, each as JSON (default) or CSV (`format=csv` or
`Accept: text/csv`)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from kit.http.problems import Problem
from services.timetracking.dependencies import Caller, UoW
from services.timetracking.reports import service
from services.timetracking.reports.calendar import Period
from services.timetracking.reports.repository import HoursFilter
from services.timetracking.reports.schemas import (
    CAPACITY_COLUMNS,
    CLIENT_COLUMNS,
    HOURS_COLUMNS,
    UTILISATION_COLUMNS,
    CapacityReport,
    ClientReport,
    GroupBy,
    HoursReport,
    UtilisationReport,
)
from services.timetracking.reports.tabular import CSV_RESPONSE, Format, csv_response, negotiate

router = APIRouter(prefix="/reports", tags=["reports"])
MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def _wanted(request: Request, explicit: Format | None) -> Format:
    """Decided before the report runs, so a 406 costs no query."""
    return negotiate(request, explicit, default="json")


def _render(
    chosen: Format, report: BaseModel, rows: list[Any], columns: tuple[str, ...], filename: str
) -> Any:
    return csv_response(rows, columns, filename) if chosen == "csv" else report


@router.get("/hours", response_model=HoursReport, responses=CSV_RESPONSE)
async def hours(
    request: Request,
    principal: Caller,
    uow: UoW,
    start: date = Query(alias="from"),
    end: date = Query(alias="to"),
    group_by: GroupBy = "client",
    period: Period = "week",
    user_id: str | None = Query(default=None, max_length=36),
    project_id: str | None = Query(default=None, max_length=36),
    organisation_id: str | None = Query(default=None, max_length=36),
    format: Format | None = None,
) -> Any:
    """Hours per client, project, person or item type, per week or month."""
    chosen = _wanted(request, format)
    report = await service.hours(
        uow,
        principal,
        group_by=group_by,
        period=period,
        start=start,
        end=end,
        wanted=HoursFilter(user_id=user_id, project_id=project_id, organisation_id=organisation_id),
    )
    filename = f"hours-by-{group_by}-per-{period}-{start}-{end}.csv"
    return _render(chosen, report, report.rows, HOURS_COLUMNS, filename)


@router.get("/utilisation", response_model=UtilisationReport, responses=CSV_RESPONSE)
async def utilisation(
    request: Request,
    principal: Caller,
    uow: UoW,
    start: date = Query(alias="from"),
    end: date = Query(alias="to"),
    period: Period = "week",
    user_id: str | None = Query(default=None, max_length=36),
    format: Format | None = None,
) -> Any:
    """Logged against available time per person and period (admins: everyone; others:
    themselves)."""
    chosen = _wanted(request, format)
    report = await service.utilisation(
        uow, principal, period=period, start=start, end=end, user_id=user_id
    )
    filename = f"utilisation-per-{period}-{start}-{end}.csv"
    return _render(chosen, report, report.rows, UTILISATION_COLUMNS, filename)


@router.get("/clients", response_model=ClientReport, responses=CSV_RESPONSE)
async def clients(
    request: Request,
    principal: Caller,
    uow: UoW,
    month: str | None = Query(default=None, description="YYYY-MM; default: this month."),
    as_of: date | None = Query(default=None, description="Default: today."),
    format: Format | None = None,
) -> Any:
    """Per client: hours used against hours sold (retainer) in a month, with a projection
    to the month's end."""
    chosen = _wanted(request, format)
    report = await service.clients(uow, principal, month=_month(month), as_of=as_of)
    filename = f"clients-{report.month:%Y-%m}.csv"
    return _render(chosen, report, report.rows, CLIENT_COLUMNS, filename)


@router.get("/capacity", response_model=CapacityReport, responses=CSV_RESPONSE)
async def capacity(
    request: Request,
    principal: Caller,
    uow: UoW,
    start: date | None = Query(
        default=None, alias="from", description="Weeks start the Monday on or after; default today."
    ),
    weeks: int = Query(default=4, ge=1, le=service.MAX_WEEKS),
    needed_hours_per_week: Decimal | None = Query(default=None, ge=0, le=10_000),
    format: Format | None = None,
) -> Any:
    """The team's free capacity in the coming weeks: can we take another client? (The
    method is described on `service.capacity`.)"""
    chosen = _wanted(request, format)
    report = await service.capacity(
        uow, principal, start=start, weeks=weeks, needed_hours_per_week=needed_hours_per_week
    )
    filename = f"capacity-{report.first_week}-{weeks}w.csv"
    return _render(chosen, report, report.rows, CAPACITY_COLUMNS, filename)


def _month(text: str | None) -> date | None:
    if text is None:
        return None
    match = MONTH.match(text)
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise Problem(400, "bad-request", "`month` is written YYYY-MM, e.g. 2026-03.")
    return date(int(match.group(1)), int(match.group(2)), 1)
