"""Queries on projects (projection), grants and access requests."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.models import AccessRequest, Grant, Project, Team, TeamMember, User


async def project(session: AsyncSession, workspace_id: str, project_id: str) -> Project | None:
    result = await session.execute(
        select(Project).where(Project.workspace_id == workspace_id, Project.id == project_id)
    )
    return result.scalar_one_or_none()


async def project_by_id(session: AsyncSession, project_id: str) -> Project | None:
    return await session.get(Project, project_id)


async def grant(session: AsyncSession, workspace_id: str, grant_id: str) -> Grant | None:
    result = await session.execute(
        select(Grant).where(Grant.workspace_id == workspace_id, Grant.id == grant_id)
    )
    return result.scalar_one_or_none()


async def grant_for(
    session: AsyncSession, workspace_id: str, project_id: str, subject_type: str, subject_id: str
) -> Grant | None:
    result = await session.execute(
        select(Grant).where(
            Grant.workspace_id == workspace_id,
            Grant.project_id == project_id,
            Grant.subject_type == subject_type,
            Grant.subject_id == subject_id,
        )
    )
    return result.scalar_one_or_none()


async def grants_of_project(
    session: AsyncSession, workspace_id: str, project_id: str
) -> list[Grant]:
    result = await session.execute(
        select(Grant)
        .where(Grant.workspace_id == workspace_id, Grant.project_id == project_id)
        .order_by(Grant.created_at)
    )
    return list(result.scalars())


async def roles_on_project(
    session: AsyncSession, workspace_id: str, project_id: str, user_id: str
) -> list[str]:
    """The user's own grant and those of every team they are in."""
    teams = select(TeamMember.team_id).where(
        TeamMember.workspace_id == workspace_id, TeamMember.user_id == user_id
    )
    result = await session.execute(
        select(Grant.role).where(
            Grant.workspace_id == workspace_id,
            Grant.project_id == project_id,
            or_(
                (Grant.subject_type == "user") & (Grant.subject_id == user_id),
                (Grant.subject_type == "team") & Grant.subject_id.in_(teams),
            ),
        )
    )
    return list(result.scalars())


async def managers_of(session: AsyncSession, workspace_id: str, project_id: str) -> list[str]:
    """Users who may decide access to the project: its managers (direct or via a team) and the
    workspace's admins."""
    direct = select(Grant.subject_id).where(
        Grant.workspace_id == workspace_id,
        Grant.project_id == project_id,
        Grant.subject_type == "user",
        Grant.role == "manager",
    )
    via_team = select(TeamMember.user_id).where(
        TeamMember.workspace_id == workspace_id,
        TeamMember.team_id.in_(
            select(Grant.subject_id).where(
                Grant.workspace_id == workspace_id,
                Grant.project_id == project_id,
                Grant.subject_type == "team",
                Grant.role == "manager",
            )
        ),
    )
    admins = select(User.id).where(
        User.workspace_id == workspace_id, User.workspace_role == "admin", User.status == "active"
    )
    result = await session.execute(direct.union(via_team, admins))
    return sorted(set(result.scalars()))


async def subject_exists(
    session: AsyncSession, workspace_id: str, subject_type: str, subject_id: str
) -> bool:
    model = User if subject_type == "user" else Team
    result = await session.execute(
        select(model.id).where(model.workspace_id == workspace_id, model.id == subject_id)
    )
    return result.first() is not None


async def access_request(
    session: AsyncSession, workspace_id: str, request_id: str
) -> AccessRequest | None:
    result = await session.execute(
        select(AccessRequest)
        .where(AccessRequest.workspace_id == workspace_id, AccessRequest.id == request_id)
        .with_for_update()
    )
    return result.scalar_one_or_none()


async def pending_request(
    session: AsyncSession, workspace_id: str, project_id: str, user_id: str
) -> AccessRequest | None:
    result = await session.execute(
        select(AccessRequest).where(
            AccessRequest.workspace_id == workspace_id,
            AccessRequest.project_id == project_id,
            AccessRequest.user_id == user_id,
            AccessRequest.status == "pending",
        )
    )
    return result.scalar_one_or_none()


async def requests_of_project(
    session: AsyncSession, workspace_id: str, project_id: str, status: str | None
) -> list[AccessRequest]:
    query = select(AccessRequest).where(
        AccessRequest.workspace_id == workspace_id, AccessRequest.project_id == project_id
    )
    if status:
        query = query.where(AccessRequest.status == status)
    result = await session.execute(query.order_by(AccessRequest.created_at))
    return list(result.scalars())
