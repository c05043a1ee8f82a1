"""Workspace queries."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.models import Workspace


async def by_id(session: AsyncSession, workspace_id: str) -> Workspace | None:
    return await session.get(Workspace, workspace_id)


async def slug_taken(session: AsyncSession, slug: str) -> bool:
    result = await session.execute(select(Workspace.id).where(Workspace.slug == slug))
    return result.first() is not None
