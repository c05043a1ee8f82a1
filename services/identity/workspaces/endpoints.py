"""Workspaces: sign-up (a workspace with its first admin) and workspace settings."""

from __future__ import annotations

from fastapi import APIRouter

from kit.http.problems import Problem
from services.identity.dependencies import Caller, Ident, UoW, require_admin, require_scope
from services.identity.models import Workspace as WorkspaceRow
from services.identity.workspaces import repository, service
from services.identity.workspaces.schemas import (
    Workspace,
    WorkspaceCreate,
    WorkspaceCreated,
    WorkspaceUpdate,
)

router = APIRouter(tags=["workspaces"])


def _out(row: WorkspaceRow) -> Workspace:
    return Workspace(
        id=row.id,
        name=row.name,
        slug=row.slug,
        time_zone=row.time_zone,
        client_visibility=row.client_visibility,
        apps=row.apps,
    )


@router.post("/workspaces", status_code=201, response_model=WorkspaceCreated)
async def create_workspace(body: WorkspaceCreate, uow: UoW, ident: Ident) -> WorkspaceCreated:
    """Create a workspace and its first admin (who can then log in)."""
    if not ident.settings.open_signup:
        raise Problem(
            403,
            "signup-closed",
            "Workspaces are created by the operator (`deskline admin create-workspace`).",
        )
    workspace, admin = await service.create_workspace(uow, ident.passwords, body)
    await uow.commit()
    return WorkspaceCreated(workspace=_out(workspace), admin_user_id=admin.id)


@router.get("/workspace", response_model=Workspace)
async def read_workspace(principal: Caller, uow: UoW) -> Workspace:
    """The caller's own workspace."""
    row = await repository.by_id(uow.session, principal.workspace_id)
    if row is None:
        raise Problem(404, "not-found", "No such workspace.")
    return _out(row)


@router.patch("/workspace", response_model=Workspace)
async def update_workspace(body: WorkspaceUpdate, principal: Caller, uow: UoW) -> Workspace:
    """Change settings (admins): name, time zone, client visibility, apps on and off."""
    require_admin(principal)
    require_scope(principal, "admin")
    row = await service.update_workspace(uow, principal.workspace_id, body)
    await uow.commit()
    return _out(row)
