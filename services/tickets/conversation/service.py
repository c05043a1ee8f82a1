"""The conversation on an item: public replies and private notes, edits kept as revisions.

A private note never reaches a client: clients cannot write one, reads filter them out,
and the published event marks the visibility so every client-facing consumer drops it.
"""

from __future__ import annotations

from uuid import UUID

from contracts.tickets import CommentAdded
from kit.auth import Principal
from kit.http.problems import Problem
from kit.uow import UnitOfWork
from services.tickets.conversation import repository
from services.tickets.ids import new_id, now
from services.tickets.items import repository as items_repository
from services.tickets.items import service as items
from services.tickets.models import Comment, CommentRevision


async def add(
    uow: UnitOfWork,
    principal: Principal,
    item_id: str,
    body: str,
    visibility: str,
    channel: str = "app",
) -> Comment:
    if visibility == "private" and principal.is_client:
        raise Problem(403, "forbidden", "Clients cannot write private notes.")
    action = "comment_private" if visibility == "private" else "comment"
    loaded = await items.load(uow, principal, item_id, action)
    author = principal.subject if principal.kind != "service" else None
    return await post(uow, loaded, author, body, visibility, channel)


async def post(
    uow: UnitOfWork,
    loaded: items.LoadedItem,
    author_id: str | None,
    body: str,
    visibility: str,
    channel: str,
    message_id: str | None = None,
) -> Comment:
    """Write a comment whose author was already authorised (a user, a mail, a rule)."""
    row = loaded.row
    comment = Comment(
        id=new_id(),
        workspace_id=row.workspace_id,
        item_id=row.id,
        author_id=author_id,
        body=items.sanitise(body, "html"),
        visibility=visibility,
        channel=channel,
        created_at=now(),
    )
    uow.session.add(comment)
    if author_id:
        await items._follow(uow, row, [author_id])
    row.updated_at = comment.created_at
    loaded = await items._loaded(uow, row)
    uow.emit(
        CommentAdded(
            comment_id=UUID(comment.id),
            item=loaded.snapshot(),
            author_id=UUID(author_id) if author_id else None,
            visibility=visibility,
            channel=channel,
            body=comment.body,
            in_reply_to_message_id=message_id,
        ),
        workspace=row.workspace_id,
        subject=f"item/{row.id}",
    )
    return comment


async def listing(uow: UnitOfWork, principal: Principal, item_id: str) -> list[Comment]:
    await items.load(uow, principal, item_id, "view")
    return await repository.comments(
        uow.session, principal.workspace_id, item_id, public_only=principal.is_client
    )


async def _editable(uow: UnitOfWork, principal: Principal, comment_id: str) -> Comment:
    comment = await repository.comment(uow.session, principal.workspace_id, comment_id)
    if comment is None or (principal.is_client and comment.visibility == "private"):
        raise Problem(404, "not-found", "No such comment.")
    item = await items_repository.item(uow.session, principal.workspace_id, comment.item_id)
    if item is None:
        raise Problem(404, "not-found", "No such comment.")
    if comment.author_id != principal.subject:
        # Someone else's words: only who may delete items (managers, admins) may touch them.
        await items.load(uow, principal, comment.item_id, "delete_item")
    else:
        await items.load(uow, principal, comment.item_id, "view")
    return comment


async def edit(uow: UnitOfWork, principal: Principal, comment_id: str, body: str) -> Comment:
    comment = await _editable(uow, principal, comment_id)
    uow.session.add(
        CommentRevision(
            id=new_id(),
            workspace_id=comment.workspace_id,
            comment_id=comment.id,
            body=comment.body,
            changed_by=principal.subject,
            changed_at=now(),
        )
    )
    comment.body, comment.edited_at = items.sanitise(body, "html"), now()
    return comment


async def delete(uow: UnitOfWork, principal: Principal, comment_id: str) -> None:
    comment = await _editable(uow, principal, comment_id)
    uow.session.add(
        CommentRevision(
            id=new_id(),
            workspace_id=comment.workspace_id,
            comment_id=comment.id,
            body=comment.body,
            changed_by=principal.subject,
            changed_at=now(),
        )
    )
    comment.deleted_at = now()
