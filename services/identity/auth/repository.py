"""Queries for login state: signing keys, refresh tokens, one-time tokens, users by login."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.models import (
    OneTimeToken,
    RefreshToken,
    SigningKey,
    TeamMember,
    User,
    Workspace,
)


async def active_signing_key(session: AsyncSession) -> SigningKey | None:
    result = await session.execute(
        select(SigningKey).where(SigningKey.active.is_(True)).order_by(SigningKey.created_at.desc())
    )
    return result.scalars().first()


async def published_keys(session: AsyncSession) -> list[SigningKey]:
    return list((await session.execute(select(SigningKey))).scalars())


async def user_by_login(session: AsyncSession, workspace_slug: str, email: str) -> User | None:
    result = await session.execute(
        select(User)
        .join(Workspace, Workspace.id == User.workspace_id)
        .where(Workspace.slug == workspace_slug, User.email == email.lower())
    )
    return result.scalar_one_or_none()


async def user_in_workspace(session: AsyncSession, workspace_id: str, user_id: str) -> User | None:
    result = await session.execute(
        select(User).where(User.workspace_id == workspace_id, User.id == user_id)
    )
    return result.scalar_one_or_none()


async def team_ids_of(session: AsyncSession, workspace_id: str, user_id: str) -> list[str]:
    result = await session.execute(
        select(TeamMember.team_id)
        .where(TeamMember.workspace_id == workspace_id, TeamMember.user_id == user_id)
        .order_by(TeamMember.team_id)
    )
    return list(result.scalars())


async def refresh_token_by_hash(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    result = await session.execute(
        select(RefreshToken).where(RefreshToken.token_hash == token_hash).with_for_update()
    )
    return result.scalar_one_or_none()


async def revoke_family(session: AsyncSession, family_id: str, now: datetime) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def revoke_all_for_user(
    session: AsyncSession, workspace_id: str, user_id: str, now: datetime
) -> None:
    await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.workspace_id == workspace_id,
            RefreshToken.user_id == user_id,
            RefreshToken.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )


async def one_time_token_by_hash(session: AsyncSession, token_hash: str) -> OneTimeToken | None:
    result = await session.execute(
        select(OneTimeToken).where(OneTimeToken.token_hash == token_hash).with_for_update()
    )
    return result.scalar_one_or_none()
