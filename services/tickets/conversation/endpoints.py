"""Comments (public replies and private notes) and the activity history of an item."""

from __future__ import annotations

from fastapi import APIRouter, Response

from services.tickets.conversation import repository, service
from services.tickets.conversation.schemas import (
    ActivityEntry,
    Comment,
    CommentCreate,
    CommentUpdate,
)
from services.tickets.dependencies import Caller, UoW
from services.tickets.items import service as items
from services.tickets.models import Comment as CommentRow

router = APIRouter(tags=["conversation"])


def comment_out(row: CommentRow) -> Comment:
    return Comment(
        id=row.id,
        item_id=row.item_id,
        author_id=row.author_id,
        body=row.body,
        visibility=row.visibility,
        channel=row.channel,
        created_at=row.created_at,
        edited_at=row.edited_at,
    )


@router.post("/items/{item_id}/comments", status_code=201, response_model=Comment)
async def add_comment(item_id: str, body: CommentCreate, principal: Caller, uow: UoW) -> Comment:
    row = await service.add(
        uow,
        principal,
        item_id,
        body.body,
        body.visibility,
        channel="portal" if principal.is_client else "app",
    )
    await uow.commit()
    return comment_out(row)


@router.get("/items/{item_id}/comments", response_model=list[Comment])
async def list_comments(item_id: str, principal: Caller, uow: UoW) -> list[Comment]:
    """Clients get public replies only."""
    return [comment_out(c) for c in await service.listing(uow, principal, item_id)]


@router.patch("/comments/{comment_id}", response_model=Comment)
async def edit_comment(
    comment_id: str, body: CommentUpdate, principal: Caller, uow: UoW
) -> Comment:
    row = await service.edit(uow, principal, comment_id, body.body)
    await uow.commit()
    return comment_out(row)


@router.delete("/comments/{comment_id}", status_code=204)
async def delete_comment(comment_id: str, principal: Caller, uow: UoW) -> Response:
    await service.delete(uow, principal, comment_id)
    await uow.commit()
    return Response(status_code=204)


@router.get("/items/{item_id}/activity", response_model=list[ActivityEntry])
async def activity(item_id: str, principal: Caller, uow: UoW) -> list[ActivityEntry]:
    """Who changed what and when; entries about internal fields are not shown to clients."""
    await items.load(uow, principal, item_id, "view")
    rows = await repository.activity(
        uow.session, principal.workspace_id, item_id, public_only=principal.is_client
    )
    return [
        ActivityEntry(
            id=r.id, actor=r.actor, kind=r.kind, changes=r.changes, created_at=r.created_at
        )
        for r in rows
    ]
