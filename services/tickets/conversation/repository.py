"""Queries on comments, their revisions and the activity history."""

from __future__ import annotations

from sqlalchemy import select
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
