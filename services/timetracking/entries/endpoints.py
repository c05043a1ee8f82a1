"""Time entries, their history and approval, and the workspace's time policy."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from services.timetracking.dependencies import Caller, UoW
from services.timetracking.entries import service
from services.timetracking.entries.schemas import (
    Decision,
    Entry,
    EntryCreate,
    EntryFilter,
    EntryPage,
    EntryUpdate,
    Policy,
    PolicyUpdate,
    Revision,
    Status,
)
from services.timetracking.models import EntryRevision, TimeEntry

router = APIRouter(tags=["entries"])


def entry_out(row: TimeEntry) -> Entry:
    return Entry.model_validate(row, from_attributes=True)


def revision_out(row: EntryRevision) -> Revision:
    return Revision.model_validate(row, from_attributes=True)


def entry_filter(
    user_id: list[str] = Query(default=[]),
    item_id: list[str] = Query(default=[]),
    project_id: list[str] = Query(default=[]),
    status: list[Status] = Query(default=[]),
    flagged: bool | None = None,
    date_from: date | None = Query(default=None, alias="from"),
    date_to: date | None = Query(default=None, alias="to"),
) -> EntryFilter:
    return EntryFilter(
        user_id=user_id,
        item_id=item_id,
        project_id=project_id,
        status=status,
        flagged=flagged,
        date_from=date_from,
        date_to=date_to,
    )


Filter = Annotated[EntryFilter, Depends(entry_filter)]


@router.post("/entries", status_code=201, response_model=Entry)
async def create_entry(body: EntryCreate, principal: Caller, uow: UoW) -> Entry:
    """Log time on an item by hand; every problem with the body is answered at once (422)."""
    row = await service.create(uow, principal, body)
    await uow.commit()
    return entry_out(row)


@router.get("/entries", response_model=EntryPage)
async def list_entries(
    principal: Caller,
    uow: UoW,
    wanted: Filter,
    cursor: str | None = Query(default=None, max_length=500),
    limit: int = Query(default=50, ge=1, le=service.LIST_LIMIT_MAX),
) -> EntryPage:
    """Own entries, plus those of the projects the caller manages (admins: all), newest day
    first, a page at a time (`next_cursor`). `from` and `to` bound the day, inclusive."""
    rows, next_cursor = await service.list_entries(
        uow, principal, wanted, cursor=cursor, limit=limit
    )
    return EntryPage(items=[entry_out(r) for r in rows], next_cursor=next_cursor)


@router.get("/entries/{entry_id}", response_model=Entry)
async def read_entry(entry_id: str, principal: Caller, uow: UoW) -> Entry:
    return entry_out((await service.load(uow, principal, entry_id)).row)


@router.patch("/entries/{entry_id}", response_model=Entry)
async def update_entry(entry_id: str, body: EntryUpdate, principal: Caller, uow: UoW) -> Entry:
    row = await service.update(uow, principal, entry_id, body)
    await uow.commit()
    return entry_out(row)


@router.delete("/entries/{entry_id}", status_code=204)
async def delete_entry(entry_id: str, principal: Caller, uow: UoW) -> Response:
    await service.delete(uow, principal, entry_id)
    await uow.commit()
    return Response(status_code=204)


@router.get("/entries/{entry_id}/revisions", response_model=list[Revision])
async def entry_revisions(entry_id: str, principal: Caller, uow: UoW) -> list[Revision]:
    """The entry's earlier states, oldest first: each edit, deletion and decision."""
    return [revision_out(r) for r in await service.revisions(uow, principal, entry_id)]


@router.post("/entries/{entry_id}/submit", response_model=Entry)
async def submit_entry(entry_id: str, principal: Caller, uow: UoW) -> Entry:
    row = await service.submit(uow, principal, entry_id)
    await uow.commit()
    return entry_out(row)


@router.post("/entries/{entry_id}/approve", response_model=Entry)
async def approve_entry(
    entry_id: str, principal: Caller, uow: UoW, body: Decision | None = None
) -> Entry:
    """Approved entries are locked against edits and deletion."""
    row = await service.decide(uow, principal, entry_id, "approved", body.note if body else "")
    await uow.commit()
    return entry_out(row)


@router.post("/entries/{entry_id}/reject", response_model=Entry)
async def reject_entry(
    entry_id: str, principal: Caller, uow: UoW, body: Decision | None = None
) -> Entry:
    """The rejection's `note` (required) tells the owner what to correct."""
    row = await service.decide(uow, principal, entry_id, "rejected", body.note if body else "")
    await uow.commit()
    return entry_out(row)


@router.get("/policy", response_model=Policy)
async def read_policy(principal: Caller, uow: UoW) -> Policy:
    return await service.current_policy(uow.session, principal.workspace_id)


@router.put("/policy", response_model=Policy)
async def set_policy(body: PolicyUpdate, principal: Caller, uow: UoW) -> Policy:
    """Admins only: whether entries need approval, and after how long a running timer is
    flagged rather than billed."""
    policy = await service.set_policy(uow, principal, body)
    await uow.commit()
    return policy
