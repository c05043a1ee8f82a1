"""Sharing projects with users and teams, and access requests.

Roles: viewer < contributor < editor < manager (what each may do is the kit's
`kit.access.roles` table). Workspace admins may do everything; a project's
managers may share it and decide its access requests.
"""

from __future__ import annotations

from typing import Literal, cast
from uuid import UUID

from contracts.identity import (
    AccessApproved,
    AccessDenied,
    AccessRequested,
    GrantChanged,
    GrantGiven,
    GrantRevoked,
)
from contracts.tickets import ProjectCreated, ProjectUpdated
from kit.auth import Principal
from kit.http.problems import Problem
from kit.uow import UnitOfWork
from services.identity.auth.service import new_id, now
from services.identity.grants import repository
from services.identity.models import AccessRequest, Grant, Project

ProjectRole = Literal["viewer", "contributor", "editor", "manager"]
RANKS = {"viewer": 0, "contributor": 1, "editor": 2, "manager": 3}
Subject = Literal["user", "team"]


def _user_uuid(subject: str | None) -> UUID | None:
    """A granter that is a person; the platform's own principals are none."""
    try:
        return None if subject is None else UUID(subject)
    except ValueError:
        return None


def project_not_found() -> Problem:
    return Problem(404, "not-found", "No such project.")


async def role_here(uow: UnitOfWork, principal: Principal, project_id: str) -> str | None:
    if principal.holds_admin_role:
        return "manager"
    roles = await repository.roles_on_project(
        uow.session, principal.workspace_id, project_id, principal.subject
    )
    return max(roles, key=RANKS.__getitem__) if roles else None


async def require_manager(uow: UnitOfWork, principal: Principal, project_id: str) -> Project:
    found = await repository.project(uow.session, principal.workspace_id, project_id)
    role = await role_here(uow, principal, project_id) if found else None
    if found is None or role is None or principal.is_client:
        raise project_not_found()
    if role != "manager":
        raise Problem(403, "managers-only", "Only the project's managers and admins may do this.")
    return found


async def give(
    uow: UnitOfWork,
    principal: Principal | None,
    *,
    project_id: str,
    subject_type: Subject,
    subject_id: str,
    role: ProjectRole,
    silent: bool = False,
    workspace_id: str | None = None,
    granted_by: str | None = None,
) -> Grant:
    """Give (or change) a grant. `principal` None: a grant requested through an event."""
    workspace = workspace_id or (principal.workspace_id if principal else None)
    assert workspace is not None
    if principal is not None:
        await require_manager(uow, principal, project_id)
        # Through an API key too, the granter is the person the key acts for.
        granted_by = principal.subject
    elif await repository.project(uow.session, workspace, project_id) is None:
        raise project_not_found()
    if not await repository.subject_exists(uow.session, workspace, subject_type, subject_id):
        raise Problem(422, f"unknown-{subject_type}", f"No such {subject_type} in this workspace.")
    existing = await repository.grant_for(
        uow.session, workspace, project_id, subject_type, subject_id
    )
    if existing is not None:
        return change(uow, existing, role, silent)
    grant = Grant(
        id=new_id(),
        workspace_id=workspace,
        project_id=project_id,
        subject_type=subject_type,
        subject_id=subject_id,
        role=role,
        silent=silent,
        granted_by=granted_by,
        created_at=now(),
    )
    uow.session.add(grant)
    uow.emit(
        GrantGiven(
            grant_id=UUID(grant.id),
            workspace_id=UUID(workspace),
            project_id=UUID(project_id),
            subject_type=subject_type,
            subject_id=UUID(subject_id),
            role=role,
            silent=silent,
            granted_by=_user_uuid(granted_by),
        ),
        workspace=workspace,
        subject=f"project/{project_id}",
    )
    return grant


def change(uow: UnitOfWork, grant: Grant, role: ProjectRole, silent: bool) -> Grant:
    if grant.role == role:
        return grant
    previous = cast(ProjectRole, grant.role)
    grant.role = role
    uow.emit(
        GrantChanged(
            grant_id=UUID(grant.id),
            workspace_id=UUID(grant.workspace_id),
            project_id=UUID(grant.project_id),
            subject_type=cast(Subject, grant.subject_type),
            subject_id=UUID(grant.subject_id),
            role=role,
            previous_role=previous,
            silent=silent,
        ),
        workspace=grant.workspace_id,
        subject=f"project/{grant.project_id}",
    )
    return grant


async def update(
    uow: UnitOfWork, principal: Principal, grant_id: str, role: ProjectRole, silent: bool
) -> Grant:
    grant = await repository.grant(uow.session, principal.workspace_id, grant_id)
    if grant is None:
        raise Problem(404, "not-found", "No such grant.")
    await require_manager(uow, principal, grant.project_id)
    return change(uow, grant, role, silent)


async def revoke(uow: UnitOfWork, principal: Principal, grant_id: str) -> None:
    grant = await repository.grant(uow.session, principal.workspace_id, grant_id)
    if grant is None:
        raise Problem(404, "not-found", "No such grant.")
    await require_manager(uow, principal, grant.project_id)
    await uow.session.delete(grant)
    uow.emit(
        GrantRevoked(
            grant_id=UUID(grant.id),
            workspace_id=UUID(grant.workspace_id),
            project_id=UUID(grant.project_id),
            subject_type=cast(Subject, grant.subject_type),
            subject_id=UUID(grant.subject_id),
        ),
        workspace=grant.workspace_id,
        subject=f"project/{grant.project_id}",
    )


async def list_grants(uow: UnitOfWork, principal: Principal, project_id: str) -> list[Grant]:
    found = await repository.project(uow.session, principal.workspace_id, project_id)
    if found is None or principal.is_client or await role_here(uow, principal, project_id) is None:
        raise project_not_found()
    return await repository.grants_of_project(uow.session, principal.workspace_id, project_id)


async def request_access(
    uow: UnitOfWork, principal: Principal, project_id: str, note: str
) -> AccessRequest:
    """Anyone in the workspace but clients may ask; the project's managers are told."""
    if principal.is_client or principal.kind == "service" or principal.api_key_id is not None:
        raise Problem(403, "cannot-request-access", "Only staff and collaborators ask for access.")
    found = await repository.project(uow.session, principal.workspace_id, project_id)
    if found is None:
        raise project_not_found()
    if await role_here(uow, principal, project_id) is not None:
        raise Problem(409, "already-has-access", "You already have access to this project.")
    existing = await repository.pending_request(
        uow.session, principal.workspace_id, project_id, principal.subject
    )
    if existing is not None:
        return existing
    request = AccessRequest(
        id=new_id(),
        workspace_id=principal.workspace_id,
        project_id=project_id,
        user_id=principal.subject,
        note=note,
        status="pending",
        created_at=now(),
    )
    uow.session.add(request)
    managers = await repository.managers_of(uow.session, principal.workspace_id, project_id)
    uow.emit(
        AccessRequested(
            request_id=UUID(request.id),
            workspace_id=UUID(principal.workspace_id),
            project_id=UUID(project_id),
            user_id=UUID(principal.subject),
            note=note,
            manager_ids=[UUID(m) for m in managers],
        ),
        workspace=principal.workspace_id,
        subject=f"project/{project_id}",
    )
    return request


async def decide(
    uow: UnitOfWork,
    principal: Principal,
    request_id: str,
    *,
    approve: bool,
    role: ProjectRole | None,
    reason: str,
) -> AccessRequest:
    if principal.kind == "service" or principal.api_key_id is not None:
        raise Problem(403, "users-only", "Access requests are decided by people, not API keys.")
    request = await repository.access_request(uow.session, principal.workspace_id, request_id)
    if request is None:
        raise Problem(404, "not-found", "No such access request.")
    await require_manager(uow, principal, request.project_id)
    if request.status != "pending":
        raise Problem(409, "already-decided", f"This request was already {request.status}.")
    request.status = "approved" if approve else "denied"
    request.decided_by, request.decided_at, request.reason = principal.subject, now(), reason
    ids = {
        "request_id": UUID(request.id),
        "workspace_id": UUID(request.workspace_id),
        "project_id": UUID(request.project_id),
        "user_id": UUID(request.user_id),
        "decided_by": UUID(principal.subject),
    }
    if approve:
        chosen: ProjectRole = role or "viewer"
        request.role = chosen
        await give(
            uow,
            principal,
            project_id=request.project_id,
            subject_type="user",
            subject_id=request.user_id,
            role=chosen,
        )
        uow.emit(
            AccessApproved(role=chosen, **ids),
            workspace=request.workspace_id,
            subject=f"project/{request.project_id}",
        )
    else:
        uow.emit(
            AccessDenied(reason=reason, **ids),
            workspace=request.workspace_id,
            subject=f"project/{request.project_id}",
        )
    return request


async def project_created(uow: UnitOfWork, event: ProjectCreated) -> None:
    workspace, project_id = str(event.workspace_id), str(event.project_id)
    found = await repository.project_by_id(uow.session, project_id)
    if found is None:
        uow.session.add(
            Project(id=project_id, workspace_id=workspace, name=event.name, archived=False)
        )
        await uow.session.flush()
    elif found.workspace_id != workspace:
        return  # an id from another workspace: never cross tenants
    for wanted in event.initial_grants:
        try:
            await give(
                uow,
                None,
                workspace_id=workspace,
                project_id=project_id,
                subject_type=wanted.subject_type,
                subject_id=str(wanted.subject_id),
                role=wanted.role,
                silent=wanted.silent,
                granted_by=str(event.created_by) if event.created_by else None,
            )
        except Problem:
            continue  # an unknown user or team: nothing to share with


async def project_updated(uow: UnitOfWork, event: ProjectUpdated) -> None:
    found = await repository.project(uow.session, str(event.workspace_id), str(event.project_id))
    if found is None:
        return
    if isinstance(event.changes.get("name"), str):
        found.name = str(event.changes["name"])
    if isinstance(event.changes.get("archived"), bool):
        found.archived = bool(event.changes["archived"])
