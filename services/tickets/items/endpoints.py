"""Tickets and tasks."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import PlainTextResponse

from kit.auth import Principal
from services.tickets.conversation import repository as conversation_repository
from services.tickets.dependencies import Caller, UoW
from services.tickets.items import service
from services.tickets.items.schemas import (
    AssigneeRef,
    AssigneesUpdate,
    Conversion,
    Item,
    ItemCreate,
    ItemFilter,
    ItemPage,
    ItemUpdate,
    Move,
    Priority,
    SortKey,
    StatusChange,
    StatusCount,
)
from services.tickets.items.service import LoadedItem
from services.tickets.types import service as types

router = APIRouter(tags=["items"])


def item_out(loaded: LoadedItem, principal: Principal) -> Item:
    """Clients never see internal fields (custom fields not marked client-visible)."""
    row, definition = loaded.row, loaded.definition
    if principal.is_client:
        values = types.client_values(definition, row.custom_values)
    else:  # values of removed fields stay stored but are no longer shown
        values = {k: v for k, v in row.custom_values.items() if definition.field(k) is not None}
    status = loaded.status
    return Item(
        id=row.id,
        number=row.number,
        project_id=row.project_id,
        type_id=row.type_id,
        kind=definition.kind,
        status_id=row.status_id,
        status_name=status.name,
        status_category=status.category,
        title=row.title,
        description=row.description,
        description_format=row.description_format,
        priority=row.priority,
        requester_id=row.requester_id,
        assignees=[AssigneeRef(type=a.assignee_type, id=a.assignee_id) for a in loaded.assignees],
        follower_ids=loaded.followers,
        start_date=row.start_date,
        due_date=row.due_date,
        estimate_minutes=row.estimate_minutes,
        points=row.points,
        percent_complete=row.percent_complete,
        custom_values=values,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@router.post("/items", status_code=201, response_model=Item)
async def create_item(body: ItemCreate, principal: Caller, uow: UoW) -> Item:
    loaded = await service.create(
        uow, principal, body, channel="portal" if principal.is_client else "app"
    )
    await uow.commit()
    return item_out(loaded, principal)


@router.get("/items/{item_id}", response_model=Item)
async def read_item(item_id: str, principal: Caller, uow: UoW) -> Item:
    return item_out(await service.load(uow, principal, item_id, "view"), principal)


@router.patch("/items/{item_id}", response_model=Item)
async def update_item(item_id: str, body: ItemUpdate, principal: Caller, uow: UoW) -> Item:
    loaded = await service.update(uow, principal, item_id, body)
    await uow.commit()
    return item_out(loaded, principal)


@router.post("/items/{item_id}/status", response_model=Item)
async def change_status(item_id: str, body: StatusChange, principal: Caller, uow: UoW) -> Item:
    """Move through the workflow; refused with the missing fields when a required field is
    empty ("no brief, no start")."""
    loaded = await service.change_status(uow, principal, item_id, body.status_id)
    await uow.commit()
    return item_out(loaded, principal)


@router.put("/items/{item_id}/assignees", response_model=Item)
async def assign(item_id: str, body: AssigneesUpdate, principal: Caller, uow: UoW) -> Item:
    loaded = await service.assign(uow, principal, item_id, body.assignees)
    await uow.commit()
    return item_out(loaded, principal)


@router.post("/items/{item_id}/move", response_model=Item)
async def move(item_id: str, body: Move, principal: Caller, uow: UoW) -> Item:
    loaded = await service.move(uow, principal, item_id, body.project_id)
    await uow.commit()
    return item_out(loaded, principal)


@router.post("/items/{item_id}/convert", response_model=Item)
async def convert(item_id: str, body: Conversion, principal: Caller, uow: UoW) -> Item:
    """Change the item's type, e.g. convert a ticket to a task to plan it; history kept."""
    loaded = await service.convert(uow, principal, item_id, body)
    await uow.commit()
    return item_out(loaded, principal)


@router.post("/items/{item_id}/clone", status_code=201, response_model=Item)
async def clone(item_id: str, principal: Caller, uow: UoW) -> Item:
    loaded = await service.clone(uow, principal, item_id)
    await uow.commit()
    return item_out(loaded, principal)


@router.delete("/items/{item_id}", status_code=204)
async def delete_item(item_id: str, principal: Caller, uow: UoW) -> Response:
    await service.delete(uow, principal, item_id)
    await uow.commit()
    return Response(status_code=204)


@router.put("/items/{item_id}/followers/{user_id}", response_model=Item)
async def follow(item_id: str, user_id: str, principal: Caller, uow: UoW) -> Item:
    loaded = await service.follow(uow, principal, item_id, user_id)
    await uow.commit()
    return item_out(loaded, principal)


@router.delete("/items/{item_id}/followers/{user_id}", response_model=Item)
async def unfollow(item_id: str, user_id: str, principal: Caller, uow: UoW) -> Item:
    loaded = await service.unfollow(uow, principal, item_id, user_id)
    await uow.commit()
    return item_out(loaded, principal)


def item_filter(
    request: Request,
    project_id: list[str] = Query(default=[]),
    folder_id: list[str] = Query(default=[]),
    type_id: list[str] = Query(default=[]),
    status_id: list[str] = Query(default=[]),
    status_category: list[str] = Query(default=[]),
    assignee_id: list[str] = Query(default=[]),
    requester_id: list[str] = Query(default=[]),
    organisation_id: list[str] = Query(default=[]),
    priority: list[Priority] = Query(default=[]),
    due_from: date | None = None,
    due_to: date | None = None,
    q: str | None = Query(default=None, max_length=200),
) -> ItemFilter:
    """Filters from the query string; `cf.<key>=<value>` filters on a custom field."""
    custom = {k[3:]: v for k, v in request.query_params.items() if k.startswith("cf.")}
    return ItemFilter(
        project_id=project_id,
        folder_id=folder_id,
        type_id=type_id,
        status_id=status_id,
        status_category=status_category,
        assignee_id=assignee_id,
        requester_id=requester_id,
        organisation_id=organisation_id,
        priority=priority,
        due_from=due_from,
        due_to=due_to,
        q=q,
        custom=custom,
    )


Filter = Annotated[ItemFilter, Depends(item_filter)]


@router.get("/items", response_model=ItemPage)
async def list_items(
    principal: Caller,
    uow: UoW,
    wanted: Filter,
    sort: SortKey = "number",
    order: Literal["asc", "desc"] = "desc",
    cursor: str | None = Query(default=None, max_length=500),
    limit: int = Query(default=50, ge=1, le=service.LIST_LIMIT_MAX),
) -> ItemPage:
    """The items the caller may see, filtered and sorted, a page at a time (`next_cursor`)."""
    loaded, next_cursor = await service.list_items(
        uow, principal, wanted, sort=sort, descending=order == "desc", cursor=cursor, limit=limit
    )
    return ItemPage(items=[item_out(i, principal) for i in loaded], next_cursor=next_cursor)


@router.get("/item-counts", response_model=list[StatusCount])
async def status_counts(principal: Caller, uow: UoW, wanted: Filter) -> list[StatusCount]:
    """How many items per status, under the same filters (board column headers)."""
    return [
        StatusCount(status_id=s, status_category=c, count=n)
        for s, c, n in await service.counts(uow, principal, wanted)
    ]


EXPORT_COLUMNS = (
    "number",
    "title",
    "kind",
    "status",
    "status_category",
    "priority",
    "project_id",
    "requester_id",
    "assignees",
    "start_date",
    "due_date",
    "estimate_minutes",
    "percent_complete",
    "custom_values",
    "last_public_reply",
    "created_at",
    "updated_at",
)
EXPORT_MAX_ROWS = 10_000


@router.get("/item-export", response_class=PlainTextResponse)
async def export_items(principal: Caller, uow: UoW, wanted: Filter) -> PlainTextResponse:
    """The filtered list as CSV, as the caller may see it: clients get their items with
    client-visible fields only; no private note ever appears (the reply column takes the
    newest public reply)."""
    rows: list[LoadedItem] = []
    cursor: str | None = None
    while len(rows) < EXPORT_MAX_ROWS:
        page, cursor = await service.list_items(
            uow,
            principal,
            wanted,
            sort="number",
            descending=False,
            cursor=cursor,
            limit=service.LIST_LIMIT_MAX,
        )
        rows += page
        if cursor is None:
            break
    replies = await conversation_repository.latest_public_replies(
        uow.session, principal.workspace_id, [r.row.id for r in rows]
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for loaded in rows:
        item = item_out(loaded, principal)
        writer.writerow(
            [
                item.number,
                item.title,
                item.kind,
                item.status_name,
                item.status_category,
                item.priority,
                item.project_id,
                item.requester_id or "",
                " ".join(f"{a.type}:{a.id}" for a in item.assignees),
                item.start_date or "",
                item.due_date or "",
                item.estimate_minutes or "",
                item.percent_complete,
                json.dumps(item.custom_values, sort_keys=True),
                replies.get(item.id, ""),
                item.created_at.isoformat(),
                item.updated_at.isoformat(),
            ]
        )
    return PlainTextResponse(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="items.csv"'},
    )
