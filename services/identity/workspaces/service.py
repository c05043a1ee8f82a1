"""Creating a workspace with its first admin, and changing its settings."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from contracts.identity import UserCreated, WorkspaceCreated, WorkspaceUpdated
from kit.http.problems import Problem
from kit.uow import UnitOfWork
from services.identity.auth.service import Passwords, new_id, now
from services.identity.models import User, Workspace
from services.identity.workspaces import repository
from services.identity.workspaces.schemas import DEFAULT_APPS, WorkspaceCreate, WorkspaceUpdate


async def create_workspace(
    uow: UnitOfWork, passwords: Passwords, body: WorkspaceCreate
) -> tuple[Workspace, User]:
    if await repository.slug_taken(uow.session, body.slug):
        raise Problem(409, "slug-taken", f"The workspace address {body.slug!r} is taken.")
    moment = now()
    workspace = Workspace(
        id=new_id(),
        name=body.name,
        slug=body.slug,
        time_zone=body.time_zone,
        client_visibility="own",
        apps=dict(DEFAULT_APPS),
        created_at=moment,
    )
    admin = User(
        id=new_id(),
        workspace_id=workspace.id,
        email=str(body.admin.email).lower(),
        display_name=body.admin.display_name,
        kind="staff",
        workspace_role="admin",
        status="active",
        password_hash=await passwords.hash(body.admin.password),
        created_at=moment,
        updated_at=moment,
    )
    uow.session.add(workspace)
    await uow.session.flush()
    uow.session.add(admin)
    uow.emit(
        WorkspaceCreated(
            workspace_id=UUID(workspace.id),
            name=workspace.name,
            slug=workspace.slug,
            time_zone=workspace.time_zone,
            created_by=UUID(admin.id),
            client_visibility="own",
            apps=workspace.apps,
        ),
        workspace=workspace.id,
        subject=f"workspace/{workspace.id}",
    )
    uow.emit(
        UserCreated(
            user_id=UUID(admin.id),
            workspace_id=UUID(workspace.id),
            email=admin.email,
            display_name=admin.display_name,
            kind="staff",
            workspace_role="admin",
        ),
        workspace=workspace.id,
        subject=f"user/{admin.id}",
    )
    return workspace, admin


async def update_workspace(uow: UnitOfWork, workspace_id: str, body: WorkspaceUpdate) -> Workspace:
    workspace = await repository.by_id(uow.session, workspace_id)
    if workspace is None:
        raise Problem(404, "not-found", "No such workspace.")
    changes: dict[str, Any] = {}
    for field, value in body.model_dump(exclude_unset=True).items():
        if value is None:
            continue
        if field == "apps":
            value = {**workspace.apps, **value}
        if getattr(workspace, field) != value:
            setattr(workspace, field, value)
            changes[field] = value
    if changes:
        uow.emit(
            WorkspaceUpdated(workspace_id=UUID(workspace.id), changes=changes),
            workspace=workspace.id,
            subject=f"workspace/{workspace.id}",
        )
    return workspace
