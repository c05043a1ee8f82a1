"""May this principal do this on this project, or see this item? Answered from the local projection.

Every function reads through the caller's session (its unit of work), so a
check and the work it guards see the same snapshot, and every query is bound
to the principal's workspace: a grant in another workspace never counts, even
for the same project id. The rules themselves are in `kit.access.roles`.

A caller that may not even view something gets 404, never 403, so ids cannot
be probed for existence (DESIGN.md, HTTP).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TypeGuard

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.identity import ClientVisibility
from kit.access.roles import (
    ACTIONS,
    CLIENT_ACTIONS,
    CLIENT_ITEM_ACTIONS,
    CLIENT_ROLE_CAP,
    READ_ACTIONS,
    ROLES,
    Action,
    ProjectRole,
    at_least,
    highest,
    lowest,
)
from kit.auth import Principal
from kit.db.tables import ACCESS_GRANTS, ACCESS_WORKSPACES
from kit.http.problems import Problem

DEFAULT_CLIENT_VISIBILITY: ClientVisibility = "own"
"""Until identity's workspace event arrives, clients see the least."""


# --- project level ---------------------------------------------------------------------


async def project_role(
    session: AsyncSession, principal: Principal, project_id: str
) -> ProjectRole | None:
    """The principal's effective role on the project; None when it may not reach it at all."""
    if _has_workspace_power(principal):
        return "manager"
    role = highest(await _granted_roles(session, principal, project_id))
    if role is not None and principal.is_client:
        role = lowest(role, CLIENT_ROLE_CAP)
    return role


def permits(principal: Principal, role: ProjectRole | None, action: Action) -> bool:
    """The decision itself, for a role already looked up (e.g. once for a whole page)."""
    if principal.is_client and action not in CLIENT_ACTIONS:
        return False
    if action not in READ_ACTIONS and not principal.has_scope("write"):
        return False  # a read-only API key sees what its person sees, and changes nothing
    return at_least(role, ACTIONS[action])


async def can(session: AsyncSession, principal: Principal, action: Action, project_id: str) -> bool:
    return permits(principal, await project_role(session, principal, project_id), action)


async def require(
    session: AsyncSession, principal: Principal, action: Action, project_id: str
) -> None:
    """Raise the problem an endpoint should answer with: 404 if the project is out of reach,
    403 if it is visible but the action is not allowed."""
    role = await project_role(session, principal, project_id)
    if not permits(principal, role, "view"):
        raise _not_found("project")
    if not permits(principal, role, action):
        raise _forbidden(principal, action, role)


@dataclass(frozen=True)
class ProjectScope:
    """Which projects a list may show: every project of the workspace, or exactly these."""

    whole_workspace: bool
    project_ids: frozenset[str] = frozenset()

    def __contains__(self, project_id: object) -> bool:
        return self.whole_workspace or project_id in self.project_ids

    def clause(self, column: SQLColumnExpression[str]) -> ColumnElement[bool]:
        """A where-clause on `column` (the query's project id); keep the query's workspace filter,
        which this does not repeat."""
        if self.whole_workspace:
            return true()
        if not self.project_ids:
            return false()
        return column.in_(sorted(self.project_ids))


async def visible_projects(session: AsyncSession, principal: Principal) -> ProjectScope:
    """For a client these are the projects of their portal; their item lists filter with
    `client_items_clause` instead, since they also see items outside those projects."""
    if _has_workspace_power(principal):
        return ProjectScope(whole_workspace=True)
    return ProjectScope(
        whole_workspace=False, project_ids=await _granted_project_ids(session, principal)
    )


# --- item level ------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemFacts:
    """What an access decision needs to know about an item, whichever service holds it."""

    workspace_id: str
    project_id: str
    requester_id: str | None = None
    requester_organisation_id: str | None = None
    follower_ids: Collection[str] = ()


async def can_on_item(
    session: AsyncSession, principal: Principal, action: Action, item: ItemFacts
) -> bool:
    if item.workspace_id != principal.workspace_id:
        return False
    if principal.is_client:
        return action in CLIENT_ITEM_ACTIONS and await _client_sees(session, principal, item)
    return await can(session, principal, action, item.project_id)


async def require_on_item(
    session: AsyncSession, principal: Principal, action: Action, item: ItemFacts
) -> None:
    """As `require`, for an item: 404 when the principal may not see it, else 403."""
    if item.workspace_id != principal.workspace_id:
        raise _not_found("item")
    if not principal.is_client:
        role = await project_role(session, principal, item.project_id)
        if not permits(principal, role, "view"):
            raise _not_found("item")
        if not permits(principal, role, action):
            raise _forbidden(principal, action, role)
        return
    if not await _client_sees(session, principal, item):
        raise _not_found("item")
    if action not in CLIENT_ITEM_ACTIONS:
        raise _forbidden(principal, action, None)


async def client_visibility(session: AsyncSession, workspace_id: str) -> ClientVisibility:
    found = await session.scalar(
        select(ACCESS_WORKSPACES.c.client_visibility).where(
            ACCESS_WORKSPACES.c.workspace_id == workspace_id
        )
    )
    return "organisation" if found == "organisation" else DEFAULT_CLIENT_VISIBILITY


def client_may_see_item(
    principal: Principal,
    *,
    requester_id: str | None,
    requester_organisation_id: str | None,
    follower_ids: Collection[str],
    visibility: ClientVisibility,
) -> bool:
    """Clients see what they asked for or follow, and with `organisation` visibility
    everything their organisation's people asked for."""
    if requester_id == principal.subject or principal.subject in follower_ids:
        return True
    return (
        visibility == "organisation"
        and principal.client_organisation_id is not None
        and requester_organisation_id == principal.client_organisation_id
    )


def client_items_clause(
    principal: Principal,
    visibility: ClientVisibility,
    *,
    requester_column: SQLColumnExpression[str | None],
    requester_organisation_column: SQLColumnExpression[str | None],
    followed: ColumnElement[bool] | None = None,
) -> ColumnElement[bool]:
    """`client_may_see_item` as a where-clause, for a client's item lists.

    `followed` is the caller's condition for "the principal follows this row"
    (e.g. the item id in a subquery on its followers table), which only the
    service owning followers can write.
    """
    seen: list[ColumnElement[bool]] = [requester_column == principal.subject]
    if followed is not None:
        seen.append(followed)
    if visibility == "organisation" and principal.client_organisation_id is not None:
        seen.append(requester_organisation_column == principal.client_organisation_id)
    return or_(*seen)


# --- rules and queries -----------------------------------------------------------------


def _has_workspace_power(principal: Principal) -> bool:
    """Admins manage every project (`holds_admin_role` already ignores the claim for
    collaborators and clients); through an API key too, within what its scopes allow."""
    return principal.holds_admin_role


async def _client_sees(session: AsyncSession, principal: Principal, item: ItemFacts) -> bool:
    return client_may_see_item(
        principal,
        requester_id=item.requester_id,
        requester_organisation_id=item.requester_organisation_id,
        follower_ids=item.follower_ids,
        visibility=await client_visibility(session, principal.workspace_id),
    )


def _held_by(principal: Principal) -> ColumnElement[bool]:
    """Live grants of this principal's workspace to the principal or any of its teams."""
    grants = ACCESS_GRANTS.c
    subject = and_(grants.subject_type == "user", grants.subject_id == principal.subject)
    if principal.teams:
        teams = and_(grants.subject_type == "team", grants.subject_id.in_(principal.teams))
        subject = or_(subject, teams)
    return and_(grants.workspace_id == principal.workspace_id, grants.role.is_not(None), subject)


async def _granted_roles(
    session: AsyncSession, principal: Principal, project_id: str
) -> list[ProjectRole]:
    rows = await session.scalars(
        select(ACCESS_GRANTS.c.role).where(
            _held_by(principal), ACCESS_GRANTS.c.project_id == project_id
        )
    )
    # A role this kit does not know (a newer identity) grants nothing until the kit learns it.
    return [role for role in rows if _is_role(role)]


async def _granted_project_ids(session: AsyncSession, principal: Principal) -> frozenset[str]:
    rows = await session.scalars(
        select(ACCESS_GRANTS.c.project_id).where(_held_by(principal)).distinct()
    )
    return frozenset(rows)


def _is_role(value: object) -> TypeGuard[ProjectRole]:
    return value in ROLES


def _not_found(what: str) -> Problem:
    return Problem(404, "not-found", f"No such {what}.")


def _forbidden(principal: Principal, action: Action, role: ProjectRole | None) -> Problem:
    needed = ACTIONS[action]
    if principal.is_client and (role is None or action not in CLIENT_ACTIONS):
        detail = f"Clients may not `{action}` here."
    else:
        detail = f"`{action}` needs the {needed} role on this project; yours is {role or 'none'}."
    return Problem(403, "forbidden", detail, action=action, required_role=needed)
