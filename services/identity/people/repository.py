"""Queries on users and client organisations; every one is scoped to a workspace."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.models import ClientOrganisation, User, Workspace


async def user(session: AsyncSession, workspace_id: str, user_id: str) -> User | None:
    result = await session.execute(
        select(User).where(User.workspace_id == workspace_id, User.id == user_id)
    )
    return result.scalar_one_or_none()


async def user_by_email(session: AsyncSession, workspace_id: str, email: str) -> User | None:
    result = await session.execute(
        select(User).where(User.workspace_id == workspace_id, User.email == email.lower())
    )
    return result.scalar_one_or_none()


async def user_by_id_anywhere(session: AsyncSession, user_id: str) -> User | None:
    """Only for adopting ids minted elsewhere: is this id already someone's?"""
    return await session.get(User, user_id)


async def users_page(
    session: AsyncSession,
    workspace_id: str,
    *,
    after: str | None,
    limit: int,
    kind: str | None = None,
) -> list[User]:
    query = select(User).where(User.workspace_id == workspace_id)
    if kind:
        query = query.where(User.kind == kind)
    if after:
        query = query.where(User.id > after)
    result = await session.execute(query.order_by(User.id).limit(limit))
    return list(result.scalars())


async def workspace_by_slug(session: AsyncSession, slug: str) -> Workspace | None:
    result = await session.execute(select(Workspace).where(Workspace.slug == slug))
    return result.scalar_one_or_none()


async def organisation(
    session: AsyncSession, workspace_id: str, organisation_id: str
) -> ClientOrganisation | None:
    result = await session.execute(
        select(ClientOrganisation).where(
            ClientOrganisation.workspace_id == workspace_id,
            ClientOrganisation.id == organisation_id,
        )
    )
    return result.scalar_one_or_none()


async def organisation_by_name(
    session: AsyncSession, workspace_id: str, name: str
) -> ClientOrganisation | None:
    result = await session.execute(
        select(ClientOrganisation).where(
            ClientOrganisation.workspace_id == workspace_id, ClientOrganisation.name == name
        )
    )
    return result.scalar_one_or_none()


async def organisations(session: AsyncSession, workspace_id: str) -> list[ClientOrganisation]:
    result = await session.execute(
        select(ClientOrganisation)
        .where(ClientOrganisation.workspace_id == workspace_id)
        .order_by(ClientOrganisation.name)
    )
    return list(result.scalars())
