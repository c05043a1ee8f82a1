"""Team queries."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.models import Grant, Team, TeamMember, User


async def team(session: AsyncSession, workspace_id: str, team_id: str) -> Team | None:
    result = await session.execute(
        select(Team).where(Team.workspace_id == workspace_id, Team.id == team_id)
    )
    return result.scalar_one_or_none()


async def by_name(session: AsyncSession, workspace_id: str, name: str) -> Team | None:
    result = await session.execute(
        select(Team).where(Team.workspace_id == workspace_id, Team.name == name)
    )
    return result.scalar_one_or_none()


async def teams(session: AsyncSession, workspace_id: str) -> list[Team]:
    result = await session.execute(
        select(Team).where(Team.workspace_id == workspace_id).order_by(Team.name)
    )
    return list(result.scalars())


async def member_ids(session: AsyncSession, workspace_id: str, team_id: str) -> list[str]:
    result = await session.execute(
        select(TeamMember.user_id)
        .where(TeamMember.workspace_id == workspace_id, TeamMember.team_id == team_id)
        .order_by(TeamMember.user_id)
    )
    return list(result.scalars())


async def existing_users(session: AsyncSession, workspace_id: str, ids: list[str]) -> set[str]:
    result = await session.execute(
        select(User.id).where(User.workspace_id == workspace_id, User.id.in_(ids))
    )
    return set(result.scalars())


async def remove_member(
    session: AsyncSession, workspace_id: str, team_id: str, user_id: str
) -> bool:
    result = await session.execute(
        delete(TeamMember).where(
            TeamMember.workspace_id == workspace_id,
            TeamMember.team_id == team_id,
            TeamMember.user_id == user_id,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def grants_of_team(session: AsyncSession, workspace_id: str, team_id: str) -> list[Grant]:
    result = await session.execute(
        select(Grant).where(
            Grant.workspace_id == workspace_id,
            Grant.subject_type == "team",
            Grant.subject_id == team_id,
        )
    )
    return list(result.scalars())


async def delete_team(session: AsyncSession, workspace_id: str, team_id: str) -> None:
    await session.execute(
        delete(TeamMember).where(
            TeamMember.workspace_id == workspace_id, TeamMember.team_id == team_id
        )
    )
    await session.execute(
        delete(Grant).where(
            Grant.workspace_id == workspace_id,
            Grant.subject_type == "team",
            Grant.subject_id == team_id,
        )
    )
    await session.execute(delete(Team).where(Team.workspace_id == workspace_id, Team.id == team_id))
