"""The people projection: identity's users, kept to decide what clients see and whom items
may name (requesters, assignees).

Identity's user events are one full state (`created`) and deltas (`updated`, `deactivated`,
`reactivated`). The inbox removes exact redeliveries, but a delivery that failed once waits in
a retry queue while later events of the same user go through, so events can arrive in any
order. Each field therefore remembers the time of the event that set it, and an event writes
only the fields it is newer for: a field-wise last-writer-wins register, which gives the same
row whatever the arrival order. A delta about someone not yet known creates a placeholder the
creation fills in later.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from contracts import Envelope, registry
from contracts.identity import UserCreated, UserDeactivated, UserReactivated, UserUpdated
from kit.logging import get_logger
from kit.uow import UnitOfWork
from services.tickets.models import Person
from services.tickets.people import repository

log = get_logger(__name__)

KINDS = frozenset({"staff", "collaborator", "client"})
PROJECTED = frozenset({"email", "display_name", "kind", "client_organisation_id"})


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
    merge(row, fields, _utc(envelope.time))


def _values_of(envelope: Envelope) -> tuple[str, str, dict[str, Any]] | None:
    """(workspace, user, projected fields) of a user event; None for types this ignores."""
    if envelope.type == "identity.user.created.v1":
        created = registry.parse_as(envelope, UserCreated)
        fields: dict[str, Any] = {
            "email": created.email,
            "display_name": created.display_name,
            "kind": created.kind,
            "client_organisation_id": _optional_id(created.client_organisation_id),
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
    """The changes this projection keeps; attributes it does not keep (the workspace role)
    and values it cannot trust (a kind this version does not know) are left out."""
    fields = {key: value for key, value in changes.items() if key in PROJECTED}
    if "kind" in fields and fields["kind"] not in KINDS:
        log.warning("people.unknown_kind", kind=fields["kind"])
        del fields["kind"]
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


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _optional_id(value: object) -> str | None:
    return None if value is None else str(value)
