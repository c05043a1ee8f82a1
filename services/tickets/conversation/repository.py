"""Queries on comments, their revisions and the activity history."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.tickets.models import Activity, Comment


async def comment(session: AsyncSession, workspace_id: str, comment_id: str) -> Comment | None:
    result = await session.execute(
        select(Comment).where(
            Comment.workspace_id == workspace_id,
            Comment.id == comment_id,
            Comment.deleted_at.is_(None),
        )
    )
    return result.scalar_one_or_none()


async def comments(
    session: AsyncSession, workspace_id: str, item_id: str, *, public_only: bool
) -> list[Comment]:
    query = select(Comment).where(
        Comment.workspace_id == workspace_id,
        Comment.item_id == item_id,
        Comment.deleted_at.is_(None),
    )
    if public_only:
        query = query.where(Comment.visibility == "public")
    result = await session.execute(query.order_by(Comment.created_at, Comment.id))
    return list(result.scalars())


async def activity(
    session: AsyncSession, workspace_id: str, item_id: str, *, public_only: bool
) -> list[Activity]:
    query = select(Activity).where(
        Activity.workspace_id == workspace_id, Activity.item_id == item_id
    )
    if public_only:
        query = query.where(Activity.visibility == "public")
    result = await session.execute(query.order_by(Activity.created_at, Activity.id))
    return list(result.scalars())


async def latest_public_replies(
    session: AsyncSession, workspace_id: str, item_ids: list[str]
) -> dict[str, str]:
    """The newest public reply of each item (private notes are never candidates)."""
    if not item_ids:
        return {}
    newest = (
        select(Comment.item_id, func.max(Comment.created_at).label("at"))
        .where(
            Comment.workspace_id == workspace_id,
            Comment.item_id.in_(item_ids),
            Comment.visibility == "public",
            Comment.deleted_at.is_(None),
        )
        .group_by(Comment.item_id)
        .subquery()
    )
    result = await session.execute(
        select(Comment.item_id, Comment.body)
        .join(newest, (Comment.item_id == newest.c.item_id) & (Comment.created_at == newest.c.at))
        .where(
            Comment.workspace_id == workspace_id,
            Comment.visibility == "public",
            Comment.deleted_at.is_(None),
        )
    )
    return {item_id: body for item_id, body in result.all()}
