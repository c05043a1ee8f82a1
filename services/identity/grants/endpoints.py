"""Project grants (sharing) and access requests."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from services.identity.dependencies import Caller, UoW, require_scope
from services.identity.grants import repository, service
from services.identity.grants.schemas import (
    AccessRequest,
    AccessRequestCreate,
    Approval,
    Denial,
    Grant,
    GrantCreate,
    GrantUpdate,
)
from services.identity.models import AccessRequest as RequestRow
from services.identity.models import Grant as GrantRow

router = APIRouter(tags=["grants"])


def grant_out(row: GrantRow) -> Grant:
    return Grant(
        id=row.id,
        project_id=row.project_id,
        subject_type=row.subject_type,
        subject_id=row.subject_id,
        role=row.role,
        silent=row.silent,
    )


def request_out(row: RequestRow) -> AccessRequest:
    return AccessRequest(
        id=row.id,
        project_id=row.project_id,
        user_id=row.user_id,
        note=row.note,
        status=row.status,
        role=row.role,
        reason=row.reason,
        decided_by=row.decided_by,
        created_at=row.created_at,
    )


@router.get("/projects/{project_id}/grants", response_model=list[Grant])
async def list_grants(project_id: str, principal: Caller, uow: UoW) -> list[Grant]:
    return [grant_out(g) for g in await service.list_grants(uow, principal, project_id)]


@router.post("/projects/{project_id}/grants", status_code=201, response_model=Grant)
async def give_grant(project_id: str, body: GrantCreate, principal: Caller, uow: UoW) -> Grant:
    """Share the project with a user or a team (managers and admins); giving an existing
    grant again changes its role."""
    require_scope(principal, "write")
    row = await service.give(
        uow,
        principal,
        project_id=project_id,
        subject_type=body.subject_type,
        subject_id=body.subject_id,
        role=body.role,
        silent=body.silent,
    )
    await uow.commit()
    return grant_out(row)


@router.patch("/grants/{grant_id}", response_model=Grant)
async def change_grant(grant_id: str, body: GrantUpdate, principal: Caller, uow: UoW) -> Grant:
    require_scope(principal, "write")
    row = await service.update(uow, principal, grant_id, body.role, body.silent)
    await uow.commit()
    return grant_out(row)


@router.delete("/grants/{grant_id}", status_code=204)
async def revoke_grant(grant_id: str, principal: Caller, uow: UoW) -> Response:
    require_scope(principal, "write")
    await service.revoke(uow, principal, grant_id)
    await uow.commit()
    return Response(status_code=204)


@router.post(
    "/projects/{project_id}/access-requests", status_code=201, response_model=AccessRequest
)
async def request_access(
    project_id: str, body: AccessRequestCreate, principal: Caller, uow: UoW
) -> AccessRequest:
    """Ask the project's managers for access, with a note."""
    row = await service.request_access(uow, principal, project_id, body.note)
    await uow.commit()
    return request_out(row)


@router.get("/projects/{project_id}/access-requests", response_model=list[AccessRequest])
async def list_requests(
    project_id: str,
    principal: Caller,
    uow: UoW,
    status: str | None = Query(default="pending", pattern="^(pending|approved|denied)$"),
) -> list[AccessRequest]:
    await service.require_manager(uow, principal, project_id)
    rows = await repository.requests_of_project(
        uow.session, principal.workspace_id, project_id, status
    )
    return [request_out(r) for r in rows]


@router.post("/access-requests/{request_id}/approve", response_model=AccessRequest)
async def approve(request_id: str, body: Approval, principal: Caller, uow: UoW) -> AccessRequest:
    require_scope(principal, "write")
    row = await service.decide(uow, principal, request_id, approve=True, role=body.role, reason="")
    await uow.commit()
    return request_out(row)


@router.post("/access-requests/{request_id}/deny", response_model=AccessRequest)
async def deny(request_id: str, body: Denial, principal: Caller, uow: UoW) -> AccessRequest:
    require_scope(principal, "write")
    row = await service.decide(
        uow, principal, request_id, approve=False, role=None, reason=body.reason
    )
    await uow.commit()
    return request_out(row)
