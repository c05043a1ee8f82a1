"""Rates, availability, days off and retainers (admins write), and the billing export.

Configuration lists are returned whole: a workspace has tens of rates, not thousands, and
an admin screen edits them side by side.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Query, Request, Response

from services.timetracking.dependencies import Caller, UoW
from services.timetracking.models import Availability as AvailabilityRow
from services.timetracking.models import DayOff as DayOffRow
from services.timetracking.models import Rate as RateRow
from services.timetracking.models import Retainer as RetainerRow
from services.timetracking.rates import service
from services.timetracking.rates.schemas import (
    ENTRY_COLUMNS,
    GROUP_COLUMNS,
    Availability,
    AvailabilityCreate,
    AvailabilityUpdate,
    Billing,
    BillingGroup,
    DayOff,
    DayOffCreate,
    Rate,
    RateCreate,
    RateUpdate,
    Retainer,
    RetainerCreate,
    RetainerUpdate,
    Scope,
)
from services.timetracking.reports.tabular import CSV_RESPONSE, Format, csv_response, negotiate

router = APIRouter(tags=["rates"])


def rate_out(row: RateRow) -> Rate:
    return Rate.model_validate(row, from_attributes=True)


def availability_out(row: AvailabilityRow) -> Availability:
    return Availability.model_validate(row, from_attributes=True)


def day_off_out(row: DayOffRow) -> DayOff:
    return DayOff.model_validate(row, from_attributes=True)


def retainer_out(row: RetainerRow) -> Retainer:
    return Retainer.model_validate(row, from_attributes=True)


# --- rates -----------------------------------------------------------------------------


@router.get("/rates", response_model=list[Rate])
async def list_rates(
    principal: Caller,
    uow: UoW,
    scope: Scope | None = None,
    scope_id: str | None = Query(default=None, max_length=36),
) -> list[Rate]:
    return [rate_out(r) for r in await service.list_rates(uow, principal, scope, scope_id)]


@router.post("/rates", status_code=201, response_model=Rate)
async def create_rate(body: RateCreate, principal: Caller, uow: UoW) -> Rate:
    row = await service.create_rate(uow, principal, body)
    await uow.commit()
    return rate_out(row)


@router.get("/rates/{rate_id}", response_model=Rate)
async def read_rate(rate_id: str, principal: Caller, uow: UoW) -> Rate:
    return rate_out(await service.get_rate(uow, principal, rate_id))


@router.patch("/rates/{rate_id}", response_model=Rate)
async def update_rate(rate_id: str, body: RateUpdate, principal: Caller, uow: UoW) -> Rate:
    row = await service.update_rate(uow, principal, rate_id, body)
    await uow.commit()
    return rate_out(row)


@router.delete("/rates/{rate_id}", status_code=204)
async def delete_rate(rate_id: str, principal: Caller, uow: UoW) -> Response:
    await service.delete_rate(uow, principal, rate_id)
    await uow.commit()
    return Response(status_code=204)


# --- availability ----------------------------------------------------------------------


@router.get("/availability", response_model=list[Availability])
async def list_availability(
    principal: Caller, uow: UoW, user_id: str | None = Query(default=None, max_length=36)
) -> list[Availability]:
    """Everyone's for admins; otherwise the caller's own."""
    rows = await service.list_availability(uow, principal, user_id)
    return [availability_out(r) for r in rows]


@router.post("/availability", status_code=201, response_model=Availability)
async def create_availability(
    body: AvailabilityCreate, principal: Caller, uow: UoW
) -> Availability:
    row = await service.create_availability(uow, principal, body)
    await uow.commit()
    return availability_out(row)


@router.patch("/availability/{availability_id}", response_model=Availability)
async def update_availability(
    availability_id: str, body: AvailabilityUpdate, principal: Caller, uow: UoW
) -> Availability:
    row = await service.update_availability(uow, principal, availability_id, body)
    await uow.commit()
    return availability_out(row)


@router.delete("/availability/{availability_id}", status_code=204)
async def delete_availability(availability_id: str, principal: Caller, uow: UoW) -> Response:
    await service.delete_availability(uow, principal, availability_id)
    await uow.commit()
    return Response(status_code=204)


# --- days off --------------------------------------------------------------------------


@router.get("/days-off", response_model=list[DayOff])
async def list_days_off(
    principal: Caller,
    uow: UoW,
    user_id: str | None = Query(default=None, max_length=36),
    start: date | None = Query(default=None, alias="from"),
    end: date | None = Query(default=None, alias="to"),
) -> list[DayOff]:
    rows = await service.list_days_off(uow, principal, user_id, start, end)
    return [day_off_out(r) for r in rows]


@router.post("/days-off", status_code=201, response_model=DayOff)
async def create_day_off(body: DayOffCreate, principal: Caller, uow: UoW) -> DayOff:
    row = await service.create_day_off(uow, principal, body)
    await uow.commit()
    return day_off_out(row)


@router.delete("/days-off/{day_off_id}", status_code=204)
async def delete_day_off(day_off_id: str, principal: Caller, uow: UoW) -> Response:
    await service.delete_day_off(uow, principal, day_off_id)
    await uow.commit()
    return Response(status_code=204)


# --- retainers -------------------------------------------------------------------------


@router.get("/retainers", response_model=list[Retainer])
async def list_retainers(
    principal: Caller, uow: UoW, organisation_id: str | None = Query(default=None, max_length=36)
) -> list[Retainer]:
    rows = await service.list_retainers(uow, principal, organisation_id)
    return [retainer_out(r) for r in rows]


@router.post("/retainers", status_code=201, response_model=Retainer)
async def create_retainer(body: RetainerCreate, principal: Caller, uow: UoW) -> Retainer:
    row = await service.create_retainer(uow, principal, body)
    await uow.commit()
    return retainer_out(row)


@router.patch("/retainers/{retainer_id}", response_model=Retainer)
async def update_retainer(
    retainer_id: str, body: RetainerUpdate, principal: Caller, uow: UoW
) -> Retainer:
    row = await service.update_retainer(uow, principal, retainer_id, body)
    await uow.commit()
    return retainer_out(row)


@router.delete("/retainers/{retainer_id}", status_code=204)
async def delete_retainer(retainer_id: str, principal: Caller, uow: UoW) -> Response:
    await service.delete_retainer(uow, principal, retainer_id)
    await uow.commit()
    return Response(status_code=204)


# --- billing ---------------------------------------------------------------------------


@router.get("/billing", response_model=Billing, responses=CSV_RESPONSE)
async def billing(
    request: Request,
    principal: Caller,
    uow: UoW,
    organisation_id: str = Query(max_length=36),
    start: date = Query(alias="from"),
    end: date = Query(alias="to"),
    group: BillingGroup = "entry",
    format: Format | None = None,
) -> Any:
    """A client's billable time for a period, priced: CSV by default (for an invoicing
    tool: a header row, then one line per entry or per item and person), JSON with totals
    for `Accept: application/json` or `format=json`."""
    chosen = negotiate(request, format, default="csv")
    report = await service.billing(uow, principal, organisation_id, start, end, group)
    if chosen == "json":
        return report
    columns = ENTRY_COLUMNS if group == "entry" else GROUP_COLUMNS
    filename = f"billing-{report.organisation_name or organisation_id}-{start}-{end}.csv"
    return csv_response(report.lines, columns, _safe_filename(filename))


def _safe_filename(name: str) -> str:
    """Only characters that need no quoting in a Content-Disposition header."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name)
