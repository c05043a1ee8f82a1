"""Business-hours calendars and SLA policies (admins), and an item's SLA state."""

from __future__ import annotations

from fastapi import APIRouter, Response

from services.automation.dependencies import Caller, UoW
from services.automation.models import Calendar as CalendarRow
from services.automation.models import Policy as PolicyRow
from services.automation.sla import service
from services.automation.sla.schemas import (
    Calendar,
    CalendarCreate,
    CalendarUpdate,
    Clock,
    ItemSla,
    Policy,
    PolicyCreate,
    PolicyUpdate,
)

router = APIRouter(tags=["sla"])


def calendar_out(row: CalendarRow) -> Calendar:
    return Calendar.model_validate(row, from_attributes=True)


def policy_out(row: PolicyRow) -> Policy:
    return Policy.model_validate(row, from_attributes=True)


@router.get("/calendars", response_model=list[Calendar])
async def list_calendars(principal: Caller, uow: UoW) -> list[Calendar]:
    return [calendar_out(r) for r in await service.list_calendars(uow, principal)]


@router.post("/calendars", status_code=201, response_model=Calendar)
async def create_calendar(body: CalendarCreate, principal: Caller, uow: UoW) -> Calendar:
    row = await service.create_calendar(uow, principal, body)
    await uow.commit()
    return calendar_out(row)


@router.get("/calendars/{calendar_id}", response_model=Calendar)
async def read_calendar(calendar_id: str, principal: Caller, uow: UoW) -> Calendar:
    return calendar_out(await service.get_calendar(uow, principal, calendar_id))


@router.patch("/calendars/{calendar_id}", response_model=Calendar)
async def update_calendar(
    calendar_id: str, body: CalendarUpdate, principal: Caller, uow: UoW
) -> Calendar:
    """Open items' due times are recomputed from their history."""
    row = await service.update_calendar(uow, principal, calendar_id, body)
    await uow.commit()
    return calendar_out(row)


@router.delete("/calendars/{calendar_id}", status_code=204)
async def delete_calendar(calendar_id: str, principal: Caller, uow: UoW) -> Response:
    await service.delete_calendar(uow, principal, calendar_id)
    await uow.commit()
    return Response(status_code=204)


@router.get("/sla-policies", response_model=list[Policy])
async def list_policies(principal: Caller, uow: UoW) -> list[Policy]:
    """In the order they are tried: an item gets the first enabled policy that covers it."""
    return [policy_out(r) for r in await service.list_policies(uow, principal)]


@router.post("/sla-policies", status_code=201, response_model=Policy)
async def create_policy(body: PolicyCreate, principal: Caller, uow: UoW) -> Policy:
    row = await service.create_policy(uow, principal, body)
    await uow.commit()
    return policy_out(row)


@router.get("/sla-policies/{policy_id}", response_model=Policy)
async def read_policy(policy_id: str, principal: Caller, uow: UoW) -> Policy:
    return policy_out(await service.get_policy(uow, principal, policy_id))


@router.patch("/sla-policies/{policy_id}", response_model=Policy)
async def update_policy(policy_id: str, body: PolicyUpdate, principal: Caller, uow: UoW) -> Policy:
    """Open items' due times are recomputed from their history."""
    row = await service.update_policy(uow, principal, policy_id, body)
    await uow.commit()
    return policy_out(row)


@router.delete("/sla-policies/{policy_id}", status_code=204)
async def delete_policy(policy_id: str, principal: Caller, uow: UoW) -> Response:
    await service.delete_policy(uow, principal, policy_id)
    await uow.commit()
    return Response(status_code=204)


@router.get("/items/{item_id}/sla", response_model=ItemSla)
async def item_sla(item_id: str, principal: Caller, uow: UoW) -> ItemSla:
    """The item's targets, due times, paused time, met or breached and by how much."""
    rows = await service.item_sla(uow, principal, item_id)
    return ItemSla(
        item_id=item_id, clocks=[Clock.model_validate(r, from_attributes=True) for r in rows]
    )
