"""Teams mirror the organisation; projects are shared with them (A4)."""

from __future__ import annotations

from uuid import UUID

from contracts.identity import GrantRevoked, TeamChanged
from kit.auth import Principal
from kit.http.problems import Problem
from kit.uow import UnitOfWork
from services.identity.auth.service import new_id, now
from services.identity.models import Team, TeamMember
from services.identity.teams import repository


def not_found() -> Problem:
    return Problem(404, "not-found", "No such team.")


async def announce(uow: UnitOfWork, team: Team, *, deleted: bool = False) -> list[str]:
    await uow.session.flush()
    members = (
        [] if deleted else await repository.member_ids(uow.session, team.workspace_id, team.id)
    )
    uow.emit(
        TeamChanged(
            team_id=UUID(team.id),
            workspace_id=UUID(team.workspace_id),
            name=team.name,
            member_ids=[UUID(m) for m in members],
            deleted=deleted,
        ),
        workspace=team.workspace_id,
        subject=f"team/{team.id}",
    )
    return members


async def _check_users(uow: UnitOfWork, workspace_id: str, ids: list[str]) -> None:
    missing = set(ids) - await repository.existing_users(uow.session, workspace_id, ids)
    if missing:
        raise Problem(
            422,
            "unknown-users",
            "Some members are not users of this workspace.",
            user_ids=sorted(missing),
        )


async def create(
    uow: UnitOfWork, principal: Principal, name: str, member_ids: list[str]
) -> tuple[Team, list[str]]:
    if await repository.by_name(uow.session, principal.workspace_id, name):
        raise Problem(409, "team-exists", f"A team named {name!r} exists.")
    await _check_users(uow, principal.workspace_id, member_ids)
    team = Team(id=new_id(), workspace_id=principal.workspace_id, name=name, created_at=now())
    uow.session.add(team)
    await uow.session.flush()
    for user_id in sorted(set(member_ids)):
        uow.session.add(
            TeamMember(team_id=team.id, user_id=user_id, workspace_id=principal.workspace_id)
        )
    return team, await announce(uow, team)


async def rename(
    uow: UnitOfWork, principal: Principal, team_id: str, name: str
) -> tuple[Team, list[str]]:
    team = await repository.team(uow.session, principal.workspace_id, team_id)
    if team is None:
        raise not_found()
    if team.name != name:
        if await repository.by_name(uow.session, principal.workspace_id, name):
            raise Problem(409, "team-exists", f"A team named {name!r} exists.")
        team.name = name
    return team, await announce(uow, team)


async def add_member(
    uow: UnitOfWork, principal: Principal, team_id: str, user_id: str
) -> tuple[Team, list[str]]:
    team = await repository.team(uow.session, principal.workspace_id, team_id)
    if team is None:
        raise not_found()
    await _check_users(uow, principal.workspace_id, [user_id])
    if user_id not in await repository.member_ids(uow.session, team.workspace_id, team.id):
        uow.session.add(
            TeamMember(team_id=team.id, user_id=user_id, workspace_id=team.workspace_id)
        )
    return team, await announce(uow, team)


async def remove_member(
    uow: UnitOfWork, principal: Principal, team_id: str, user_id: str
) -> tuple[Team, list[str]]:
    team = await repository.team(uow.session, principal.workspace_id, team_id)
    if team is None:
        raise not_found()
    await repository.remove_member(uow.session, team.workspace_id, team.id, user_id)
    return team, await announce(uow, team)


async def delete(uow: UnitOfWork, principal: Principal, team_id: str) -> None:
    team = await repository.team(uow.session, principal.workspace_id, team_id)
    if team is None:
        raise not_found()
    for grant in await repository.grants_of_team(uow.session, team.workspace_id, team.id):
        uow.emit(
            GrantRevoked(
                grant_id=UUID(grant.id),
                workspace_id=UUID(grant.workspace_id),
                project_id=UUID(grant.project_id),
                subject_type="team",
                subject_id=UUID(grant.subject_id),
            ),
            workspace=grant.workspace_id,
            subject=f"project/{grant.project_id}",
        )
    await announce(uow, team, deleted=True)
    await repository.delete_team(uow.session, team.workspace_id, team.id)
