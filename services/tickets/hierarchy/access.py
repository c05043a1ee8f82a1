"""Project access as `kit.access` decides it, plus the creator's provisional managership.

A staff member who creates a project is made its manager by identity, which turns the
creator grant of `tickets.project.created.v1` into a grant and announces it; this service
learns of it a moment later through its access projection. Until that grant (or its
revocation) is projected, the creator is treated as a manager of what they just created, so
the project is theirs at once rather than after a round trip through the bus. The moment any
grant record of theirs for the project exists, the projection alone decides: a revocation
(kept as a tombstone by the projection) then really takes the project away.

The provisional role lapses after `PROVISIONAL_WINDOW` in any case, so a grant that never
comes (an admin creator gets none, and might later be demoted) cannot leave it standing.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from kit import access
from kit.access import Action, ProjectRole, ProjectScope
from kit.auth import Principal
from kit.http.problems import Problem
from services.tickets.hierarchy import repository
from services.tickets.ids import now
from services.tickets.models import Project

PROVISIONAL_WINDOW = timedelta(minutes=15)


def project_not_found() -> Problem:
    return Problem(404, "not-found", "No such project.")


def may_arrange(principal: Principal) -> bool:
    """Staff arrange the workspace: create folders and projects, file projects in folders."""
    return principal.is_admin or principal.kind in ("staff", "service")


async def _provisional(session: AsyncSession, principal: Principal, project: Project) -> bool:
    if principal.is_admin or principal.kind != "staff" or project.created_by != principal.subject:
        return False  # admins manage every project anyway
    return await repository.awaiting_creator_grant(
        session, principal.workspace_id, project.id, principal.subject, now() - PROVISIONAL_WINDOW
    )


async def role_on(
    session: AsyncSession, principal: Principal, project: Project
) -> ProjectRole | None:
    if await _provisional(session, principal, project):
        return "manager"
    return await access.project_role(session, principal, project.id)


async def require_project(
    session: AsyncSession, principal: Principal, action: Action, project_id: str
) -> Project:
    """The project, if the caller may do `action` on it: 404 when they may not even see it
    (or it is another workspace's), 403 when they see it but may not do this."""
    project = await repository.project(session, principal.workspace_id, project_id)
    return await authorise_project(session, principal, action, project)


async def authorise_project(
    session: AsyncSession, principal: Principal, action: Action, project: Project | None
) -> Project:
    """As `require_project`, for a project row the caller has already read (None: no such
    project in the caller's workspace)."""
    if project is None or project.workspace_id != principal.workspace_id:
        raise project_not_found()
    if not await _provisional(session, principal, project):
        await access.require(session, principal, action, project.id)
    return project


async def visible_scope(session: AsyncSession, principal: Principal) -> ProjectScope:
    """`kit.access.visible_projects`, with the projects the caller created and awaits a grant on."""
    scope = await access.visible_projects(session, principal)
    if scope.whole_workspace or principal.kind != "staff":
        return scope
    pending = await repository.created_awaiting_grant(
        session, principal.workspace_id, principal.subject, now() - PROVISIONAL_WINDOW
    )
    return ProjectScope(whole_workspace=False, project_ids=scope.project_ids | pending)
