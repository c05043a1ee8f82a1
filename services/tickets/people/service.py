"""The people projection: identity's users, kept to decide what clients see and whom items
may name (requesters, assignees).

Identity's user events are one full state (`created`) and deltas (`updated`, `deactivated`,
`reactivated`). The inbox removes exact redeliveries, but a delivery that failed once waits in
a retry queue while later events of the same user go through, so events can arrive in any
order. Each field therefore remembers the time of the event that set it, and an event writes
only the fields it is newer for: a field-wise last-writer-wins register, which gives the same
row whatever the arrival order. A delta about someone not yet known creates a placeholder the
creation fills in later.

Teams (`identity.team.changed.v1`) carry their whole member list: each event replaces the
team's members, unless the team was last written by a newer event. With the person's kind and
workspace role they let the service rebuild someone's access as their token would state it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession

from contracts import Envelope, registry
from contracts.identity import (
    RequesterMerged,
    TeamChanged,
    UserCreated,
    UserDeactivated,
    UserReactivated,
    UserUpdated,
)
from kit.auth import Principal
from kit.db.times import in_utc
from kit.logging import get_logger
from kit.uow import UnitOfWork
from services.tickets.items import service as items
from services.tickets.models import Person
from services.tickets.people import repository

log = get_logger(__name__)

KINDS = frozenset({"staff", "collaborator", "client"})
WORKSPACE_ROLES = frozenset({"admin", "member"})
PROJECTED = frozenset({"email", "display_name", "kind", "client_organisation_id", "workspace_role"})


async def apply_user_event(envelope: Envelope, uow: UnitOfWork) -> None:
    values = _values_of(envelope)
    if values is None:
        log.debug("people.ignored", event_type=envelope.type)
        return
    workspace_id, user_id, fields = values
    row = await repository.locked_or_placeholder(uow.session, workspace_id, user_id)
    if row.workspace_id != workspace_id:
        # A user id already known in another workspace: never let one tenant rewrite another's.
        log.warning("people.cross_workspace", user_id=user_id, workspace=workspace_id)
        return
    merge(row, fields, in_utc(envelope.time))


async def apply_requester_merge(envelope: Envelope, uow: UnitOfWork) -> None:
    """The id notifications minted for a mail's sender turned out to be an existing user's
    address: the request's item (its requester, followers, the mailed comments and files)
    belongs to that user, and the placeholder held for the minted id goes."""
    merge_of = registry.parse_as(envelope, RequesterMerged)
    workspace_id = str(merge_of.workspace_id)
    minted, user_id = str(merge_of.minted_user_id), str(merge_of.user_id)
    # Remembered, for a mailed request of the sender that is still on its way here (the
    # merge and the mail travel on different queues); what already holds the id moves now.
    await repository.remember_alias(uow.session, workspace_id, minted, user_id)
    moved = await repository.move_references(uow.session, workspace_id, minted, user_id)
    await items.announce_requester_change(uow, workspace_id, moved, minted, user_id)
    log.info("requester merged", minted=minted, items=len(moved))


async def principal_of(session: AsyncSession, person: Person) -> Principal:
    """The person's access as a token of theirs would state it (kind, workspace role, teams),
    for a check made on their behalf: may they see the item someone makes them follow?"""
    return Principal(
        subject=person.id,
        workspace_id=person.workspace_id,
        kind=cast(Any, person.kind),
        workspace_role="admin" if person.workspace_role == "admin" else "member",
        teams=await repository.teams_of(session, person.workspace_id, person.id),
        client_organisation_id=person.client_organisation_id,
    )


async def apply_team_event(envelope: Envelope, uow: UnitOfWork) -> None:
    """Replace the team's members with the event's, when no newer event wrote the team.

    Two events stamped alike cannot be ordered: the team then keeps only the members both
    name, and is deleted if either says so (keeping someone out by mistake is the cheaper
    error, as for `active`), which gives the same rows whichever arrives first.
    """
    event = registry.parse_as(envelope, TeamChanged)
    workspace_id, team_id = str(event.workspace_id), str(event.team_id)
    team = await repository.locked_team(uow.session, workspace_id, team_id)
    if team.workspace_id != workspace_id:
        log.warning("people.team_cross_workspace", team_id=team_id, workspace=workspace_id)
        return
    at = in_utc(envelope.time)
    last = in_utc(team.changed_at) if team.changed_at is not None else None
    if last is not None and at < last:
        log.info("people.team_event_outdated", team_id=team_id)
        return
    deleted = event.deleted
    members = frozenset(str(member) for member in event.member_ids)
    if last is not None and at == last:
        deleted = deleted or team.deleted
        members &= await repository.team_member_ids(uow.session, team_id)
    team.deleted, team.changed_at = deleted, at
    await repository.replace_team_members(
        uow.session, workspace_id, team_id, frozenset() if deleted else members
    )


def _values_of(envelope: Envelope) -> tuple[str, str, dict[str, Any]] | None:
    """(workspace, user, projected fields) of a user event; None for types this ignores."""
    if envelope.type == "identity.user.created.v1":
        created = registry.parse_as(envelope, UserCreated)
        fields: dict[str, Any] = {
            "email": created.email,
            "display_name": created.display_name,
            "kind": created.kind,
            "client_organisation_id": _optional_id(created.client_organisation_id),
            "workspace_role": created.workspace_role,
            "active": True,
        }
        return str(created.workspace_id), str(created.user_id), fields
    if envelope.type == "identity.user.updated.v1":
        updated = registry.parse_as(envelope, UserUpdated)
        return str(updated.workspace_id), str(updated.user_id), _delta(updated.changes)
    if envelope.type == "identity.user.deactivated.v1":
        off = registry.parse_as(envelope, UserDeactivated)
        return str(off.workspace_id), str(off.user_id), {"active": False}
    if envelope.type == "identity.user.reactivated.v1":
        on = registry.parse_as(envelope, UserReactivated)
        return str(on.workspace_id), str(on.user_id), {"active": True}
    return None


def _delta(changes: Mapping[str, Any]) -> dict[str, Any]:
    """The changes this projection keeps; attributes it does not keep and values it cannot
    trust (a kind or role this version does not know) are left out."""
    fields = {key: value for key, value in changes.items() if key in PROJECTED}
    if "kind" in fields and fields["kind"] not in KINDS:
        log.warning("people.unknown_kind", kind=fields["kind"])
        del fields["kind"]
    if "workspace_role" in fields and fields["workspace_role"] not in WORKSPACE_ROLES:
        log.warning("people.unknown_workspace_role", role=fields["workspace_role"])
        del fields["workspace_role"]
    for key in ("email", "display_name"):
        if key in fields and not isinstance(fields[key], str):
            del fields[key]
    if "client_organisation_id" in fields:
        fields["client_organisation_id"] = _optional_id(fields["client_organisation_id"])
    return fields


def merge(row: Person, fields: Mapping[str, Any], at: datetime) -> None:
    """Write each field for which this event is at least as new as the one that last set it.

    Ties (two events stamped alike) cannot be ordered; for `active` the deactivation wins,
    since keeping someone out by mistake is the cheaper error.
    """
    times = dict(row.field_times or {})
    for name, value in fields.items():
        stamped = times.get(name)
        last = datetime.fromisoformat(stamped) if stamped else None
        if last is not None and at < last:
            continue
        if last is not None and at == last and name == "active":
            value = bool(row.active) and bool(value)
        setattr(row, name, value)
        times[name] = at.isoformat()
    row.field_times = times  # a new dict, so the ORM sees the change


def _optional_id(value: object) -> str | None:
    return None if value is None else str(value)
