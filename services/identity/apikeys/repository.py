"""API key queries."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.models import ApiKey


async def active_by_hash(session: AsyncSession, key_hash: str) -> ApiKey | None:
    result = await session.execute(
        select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
    )
    return result.scalar_one_or_none()


async def key(session: AsyncSession, workspace_id: str, key_id: str) -> ApiKey | None:
    result = await session.execute(
        select(ApiKey).where(ApiKey.workspace_id == workspace_id, ApiKey.id == key_id)
    )
    return result.scalar_one_or_none()


async def keys(session: AsyncSession, workspace_id: str) -> list[ApiKey]:
    result = await session.execute(
        select(ApiKey).where(ApiKey.workspace_id == workspace_id).order_by(ApiKey.created_at)
    )
    return list(result.scalars())
