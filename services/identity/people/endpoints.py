"""People (staff, collaborators, clients) and client organisations."""

from __future__ import annotations

from fastapi import APIRouter, Query

from kit.http.problems import Problem
from services.identity.dependencies import Caller, Ident, UoW, require_admin, require_scope
from services.identity.models import ClientOrganisation
from services.identity.models import User as UserRow
from services.identity.people import repository, service
from services.identity.people.schemas import (
    Invitation,
    Organisation,
    OrganisationCreate,
    OrganisationUpdate,
    User,
    UserPage,
    UserUpdate,
)

router = APIRouter(tags=["people"])


def user_out(row: UserRow) -> User:
    return User(
        id=row.id,
        email=row.email,
        display_name=row.display_name,
        kind=row.kind,
        workspace_role=row.workspace_role,
        client_organisation_id=row.client_organisation_id,
        status=row.status,
    )


def organisation_out(row: ClientOrganisation) -> Organisation:
    return Organisation(id=row.id, name=row.name)


@router.get("/users", response_model=UserPage)
async def list_users(
    principal: Caller,
    uow: UoW,
    cursor: str | None = Query(default=None, max_length=36),
    limit: int = Query(default=50, ge=1, le=200),
    kind: str | None = Query(default=None, pattern="^(staff|collaborator|client)$"),
) -> UserPage:
    """People of the caller's workspace (clients see only themselves)."""
    if principal.is_client:
        me = await repository.user(uow.session, principal.workspace_id, principal.subject)
        return UserPage(items=[user_out(me)] if me else [], next_cursor=None)
    rows = await repository.users_page(
        uow.session, principal.workspace_id, after=cursor, limit=limit + 1, kind=kind
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return UserPage(items=[user_out(r) for r in rows], next_cursor=rows[-1].id if more else None)


@router.get("/users/{user_id}", response_model=User)
async def read_user(user_id: str, principal: Caller, uow: UoW) -> User:
    if principal.is_client and user_id != principal.subject:
        raise service.not_found()
    row = await repository.user(uow.session, principal.workspace_id, user_id)
    if row is None:
        raise service.not_found()
    return user_out(row)


@router.post("/users/invitations", status_code=201, response_model=User)
async def invite(body: Invitation, principal: Caller, uow: UoW, ident: Ident) -> User:
    """Invite a person (admins); they get a single-use link to set their password. Through
    an API key, inviting a client is everyday work (`write`); anyone else needs `admin`."""
    require_admin(principal)
    require_scope(principal, "write" if body.kind == "client" else "admin")
    row = await service.invite(uow, ident, principal, body)
    await uow.commit()
    return user_out(row)


@router.patch("/users/{user_id}", response_model=User)
async def update_user(user_id: str, body: UserUpdate, principal: Caller, uow: UoW) -> User:
    require_scope(principal, "admin")
    if principal.is_client and user_id != principal.subject:
        raise service.not_found()
    row = await service.update_user(uow, principal, user_id, body)
    await uow.commit()
    return user_out(row)


@router.post("/users/{user_id}/deactivate", response_model=User)
async def deactivate(user_id: str, principal: Caller, uow: UoW) -> User:
    """Deactivate (admins): sessions end now; tokens elsewhere expire within their lifetime."""
    require_admin(principal)
    require_scope(principal, "admin")
    row = await service.set_active(uow, principal, user_id, active=False)
    await uow.commit()
    return user_out(row)


@router.post("/users/{user_id}/reactivate", response_model=User)
async def reactivate(user_id: str, principal: Caller, uow: UoW) -> User:
    require_admin(principal)
    require_scope(principal, "admin")
    row = await service.set_active(uow, principal, user_id, active=True)
    await uow.commit()
    return user_out(row)


@router.get("/client-organisations", response_model=list[Organisation])
async def list_organisations(principal: Caller, uow: UoW) -> list[Organisation]:
    if principal.is_client:
        raise Problem(403, "staff-only", "Clients do not see the list of organisations.")
    return [
        organisation_out(r)
        for r in await repository.organisations(uow.session, principal.workspace_id)
    ]


@router.post("/client-organisations", status_code=201, response_model=Organisation)
async def create_organisation(
    body: OrganisationCreate, principal: Caller, uow: UoW
) -> Organisation:
    require_admin(principal)
    require_scope(principal, "write")
    row = await service.create_organisation(uow, principal, body)
    await uow.commit()
    return organisation_out(row)


@router.patch("/client-organisations/{organisation_id}", response_model=Organisation)
async def rename_organisation(
    organisation_id: str, body: OrganisationUpdate, principal: Caller, uow: UoW
) -> Organisation:
    require_admin(principal)
    require_scope(principal, "write")
    row = await service.rename_organisation(uow, principal, organisation_id, body.name)
    await uow.commit()
    return organisation_out(row)
