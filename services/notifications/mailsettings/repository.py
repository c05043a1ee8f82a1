"""Queries of the mail settings and templates."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.models import MailSettings, MailTemplate


async def settings(session: AsyncSession, workspace_id: str) -> MailSettings | None:
    return await session.get(MailSettings, workspace_id)


async def templates(session: AsyncSession, workspace_id: str) -> dict[str, MailTemplate]:
    rows = await session.scalars(
        select(MailTemplate).where(MailTemplate.workspace_id == workspace_id)
    )
    return {row.kind: row for row in rows}


async def template(session: AsyncSession, workspace_id: str, kind: str) -> MailTemplate | None:
    return await session.get(MailTemplate, (workspace_id, kind))
