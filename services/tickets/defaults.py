"""What a new workspace starts with, so it is usable at once: a "Support" project for
incoming requests, a "Ticket" type (New → Open → In progress → Waiting on client → Resolved
→ Closed) and a "Task" type (To do → In progress → Done).

Created on identity's `identity.workspace.created.v1`, once: the `WorkspaceDefaults` row
records it, so a repeated event never creates a second set, even after an admin renamed or
archived the first. The events announcing them go out as for anything an admin creates
(identity learns of the project and makes the workspace's creator its manager).
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from contracts import Envelope, registry
from contracts.identity import WorkspaceCreated
from contracts.tickets import InitialGrant
from kit.consumers import Consumer
from kit.uow import UnitOfWork
from services.tickets.hierarchy import repository as hierarchy_repository
from services.tickets.hierarchy.service import add_project
from services.tickets.ids import now
from services.tickets.models import WorkspaceDefaults
from services.tickets.types import repository as types_repository
from services.tickets.types.admin import add_type
from services.tickets.types.definition import Kind
from services.tickets.types.service import TypeDefinition
from services.tickets.types.service import default_ticket_type as _default_ticket_type

SUPPORT_PROJECT = "Support"
DEFAULT_TYPES: tuple[tuple[str, str, Kind], ...] = (
    ("Ticket", "inbox", "ticket"),
    ("Task", "check-square", "task"),
)


async def on_workspace_created(envelope: Envelope, uow: UnitOfWork) -> None:
    created = registry.parse_as(envelope, WorkspaceCreated)
    await create_defaults(uow, str(created.workspace_id), created.created_by)


async def create_defaults(uow: UnitOfWork, workspace_id: str, creator: UUID | None) -> None:
    """Idempotent: a workspace that has its defaults is left alone."""
    session = uow.session
    if await hierarchy_repository.workspace_defaults(session, workspace_id) is not None:
        return
    grants = (
        [InitialGrant(subject_type="user", subject_id=creator, role="manager", silent=True)]
        if creator is not None
        else []
    )
    project = await add_project(
        uow,
        workspace_id=workspace_id,
        name=SUPPORT_PROJECT,
        description="Requests from clients land here unless filed elsewhere.",
        created_by=str(creator) if creator else None,
        initial_grants=grants,
    )
    for name, icon, kind in DEFAULT_TYPES:
        if await types_repository.item_type_named(session, workspace_id, name) is None:
            await add_type(uow, workspace_id=workspace_id, name=name, icon=icon, kind=kind)
    session.add(
        WorkspaceDefaults(workspace_id=workspace_id, intake_project_id=project.id, created_at=now())
    )


async def default_ticket_type(session: AsyncSession, workspace_id: str) -> TypeDefinition | None:
    """The type a ticket gets when nothing names one (mail, portal): the oldest ticket type."""
    return await _default_ticket_type(session, workspace_id)


async def intake_project_id(session: AsyncSession, workspace_id: str) -> str | None:
    """The project requests without one (mail, portal) are filed in: the default "Support"."""
    found = await hierarchy_repository.workspace_defaults(session, workspace_id)
    return found.intake_project_id if found else None


CONSUMERS = [
    Consumer("workspace-defaults", ["identity.workspace.created.v1"], on_workspace_created)
]
