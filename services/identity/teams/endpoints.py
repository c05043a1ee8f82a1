"""Teams: create, rename, members, delete (admins); everyone but clients may list them."""

from __future__ import annotations

from fastapi import APIRouter, Response

from kit.http.problems import Problem
from services.identity.dependencies import Caller, UoW, require_admin, require_scope
from services.identity.models import Team as TeamRow
from services.identity.teams import repository, service
from services.identity.teams.schemas import Team, TeamCreate, TeamUpdate

router = APIRouter(tags=["teams"])


def _out(row: TeamRow, members: list[str]) -> Team:
    return Team(id=row.id, name=row.name, member_ids=members)


@router.get("/teams", response_model=list[Team])
async def list_teams(principal: Caller, uow: UoW) -> list[Team]:
    if principal.is_client:
        raise Problem(403, "staff-only", "Clients do not see teams.")
    rows = await repository.teams(uow.session, principal.workspace_id)
    return [_out(r, await repository.member_ids(uow.session, r.workspace_id, r.id)) for r in rows]


@router.post("/teams", status_code=201, response_model=Team)
async def create_team(body: TeamCreate, principal: Caller, uow: UoW) -> Team:
    require_admin(principal)
    require_scope(principal, "admin")
    row, members = await service.create(uow, principal, body.name, body.member_ids)
    await uow.commit()
    return _out(row, members)


@router.patch("/teams/{team_id}", response_model=Team)
async def rename_team(team_id: str, body: TeamUpdate, principal: Caller, uow: UoW) -> Team:
    require_admin(principal)
    require_scope(principal, "admin")
    row, members = await service.rename(uow, principal, team_id, body.name)
    await uow.commit()
    return _out(row, members)


@router.put("/teams/{team_id}/members/{user_id}", response_model=Team)
async def add_member(team_id: str, user_id: str, principal: Caller, uow: UoW) -> Team:
    require_admin(principal)
    require_scope(principal, "admin")
    row, members = await service.add_member(uow, principal, team_id, user_id)
    await uow.commit()
    return _out(row, members)


@router.delete("/teams/{team_id}/members/{user_id}", response_model=Team)
async def remove_member(team_id: str, user_id: str, principal: Caller, uow: UoW) -> Team:
    require_admin(principal)
    require_scope(principal, "admin")
    row, members = await service.remove_member(uow, principal, team_id, user_id)
    await uow.commit()
    return _out(row, members)


@router.delete("/teams/{team_id}", status_code=204)
async def delete_team(team_id: str, principal: Caller, uow: UoW) -> Response:
    require_admin(principal)
    require_scope(principal, "admin")
    await service.delete(uow, principal, team_id)
    await uow.commit()
    return Response(status_code=204)
