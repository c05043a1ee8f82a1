"""Queries on attachments.

An attachment of a deleted comment is treated as gone: whoever deleted the comment meant its
files too, so every read here leaves them out.
"""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.tickets.models import Attachment, Comment


def _live(workspace_id: str) -> Select[Attachment]:
    return (
        select(Attachment)
        .outerjoin(Comment, Comment.id == Attachment.comment_id)
        .where(Attachment.workspace_id == workspace_id, Comment.deleted_at.is_(None))
    )


async def attachment(
    session: AsyncSession, workspace_id: str, attachment_id: str
) -> Attachment | None:
    result = await session.execute(_live(workspace_id).where(Attachment.id == attachment_id))
    return result.scalar_one_or_none()


async def attachments(
    session: AsyncSession, workspace_id: str, item_id: str, *, public_only: bool
) -> list[Attachment]:
    query = _live(workspace_id).where(Attachment.item_id == item_id)
    if public_only:
        query = query.where(Attachment.visibility == "public")
    result = await session.execute(query.order_by(Attachment.created_at, Attachment.id))
    return list(result.scalars())


def add(session: AsyncSession, row: Attachment) -> None:
    session.add(row)


async def remove(session: AsyncSession, row: Attachment) -> None:
    await session.delete(row)
