"""Keeping the projections of tickets' items and projects and identity's organisations and
people, so entries and reports never call another service.

Events can arrive in any order: a delivery that failed once waits in a retry queue while
later events of the same entity go through. Every write is therefore an upsert of what the
event knows, built so that arrival order does not matter where it can be known:

- a creation is first in its producer's history, so anything a row already holds came from
  a later event: a creation only fills what is still blank (an item's creation, which
  carries the whole item, changes nothing on an existing row);
- a change (a delta, or an item's full snapshot) writes what it carries, and creates the row
  if the creation has not arrived yet;
- an item's deletion is a tombstone that later snapshots do not lift.

Two changes of one entity overtaking each other cannot be ordered without a version or time
stamp per row, which these tables do not keep; the later one to arrive wins.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from contracts import Envelope, registry
from contracts.identity import (
    ClientOrganisationCreated,
    ClientOrganisationUpdated,
    UserCreated,
    UserDeactivated,
    UserReactivated,
    UserUpdated,
)
from contracts.tickets import (
    ItemConverted,
    ItemCreated,
    ItemDeleted,
    ItemSnapshot,
    ItemStatusChanged,
    ItemUpdated,
    ProjectCreated,
    ProjectUpdated,
)
from kit.logging import get_logger
from kit.uow import UnitOfWork
from services.timetracking.models import ItemRef, OrganisationRef, PersonRef, ProjectRef
from services.timetracking.projections import repository
from services.timetracking.projections.repository import combine, fill_blank, fill_null, overwrite

log = get_logger(__name__)

PERSON_KINDS = frozenset({"staff", "collaborator", "client"})
UNKNOWN_KIND = ""
"""Kind of a person whose creation has not arrived yet; the creation fills it in."""

ITEM_COLUMNS = (
    "number",
    "title",
    "project_id",
    "type_id",
    "kind",
    "status_category",
    "estimate_minutes",
    "requester_organisation_id",
)

Apply = Callable[[Envelope, UnitOfWork], Awaitable[None]]


# --- items ----------------------------------------------------------------------------------


def _item_row(workspace_id: str, item: ItemSnapshot, *, deleted: bool) -> dict[str, Any]:
    return {
        "id": str(item.id),
        "workspace_id": workspace_id,
        "number": item.number,
        "title": item.title[:500],
        "project_id": str(item.project_id),
        "type_id": str(item.type_id),
        "kind": item.kind,
        "status_category": item.status_category,
        "estimate_minutes": item.estimate_minutes,
        "requester_organisation_id": _optional(item.requester_organisation_id),
        "deleted": deleted,
    }


async def _item_created(envelope: Envelope, uow: UnitOfWork) -> None:
    workspace_id = _workspace_of(envelope)
    if workspace_id is None:
        return
    item = registry.parse_as(envelope, ItemCreated).item
    await repository.insert_if_absent(
        uow.session, ItemRef, _item_row(workspace_id, item, deleted=False)
    )


async def _item_changed(envelope: Envelope, uow: UnitOfWork) -> None:
    """Updated, moved to another status or converted: each carries the whole item."""
    workspace_id = _workspace_of(envelope)
    if workspace_id is None:
        return
    changed = registry.parse(envelope)
    if not isinstance(changed, ItemUpdated | ItemStatusChanged | ItemConverted):
        return
    item = changed.item
    await repository.upsert(
        uow.session,
        ItemRef,
        _item_row(workspace_id, item, deleted=False),
        combine(overwrite(*ITEM_COLUMNS), repository.keep_true(ItemRef, "deleted")),
    )


async def _item_deleted(envelope: Envelope, uow: UnitOfWork) -> None:
    workspace_id = _workspace_of(envelope)
    if workspace_id is None:
        return
    item = registry.parse_as(envelope, ItemDeleted).item
    # Entries already logged keep pointing at the item; only new time is refused.
    await repository.upsert(
        uow.session,
        ItemRef,
        _item_row(workspace_id, item, deleted=True),
        overwrite(*ITEM_COLUMNS, "deleted"),
    )


# --- projects -------------------------------------------------------------------------------


async def _project_created(envelope: Envelope, uow: UnitOfWork) -> None:
    created = registry.parse_as(envelope, ProjectCreated)
    await repository.upsert(
        uow.session,
        ProjectRef,
        {
            "id": str(created.project_id),
            "workspace_id": str(created.workspace_id),
            "name": created.name[:200],
            "client_organisation_id": _optional(created.client_organisation_id),
            "archived": False,
        },
        combine(fill_blank(ProjectRef, "name"), fill_null(ProjectRef, "client_organisation_id")),
    )


async def _project_updated(envelope: Envelope, uow: UnitOfWork) -> None:
    updated = registry.parse_as(envelope, ProjectUpdated)
    known: dict[str, Any] = {}
    changes = updated.changes
    if isinstance(changes.get("name"), str) and changes["name"]:
        known["name"] = str(changes["name"])[:200]
    if isinstance(changes.get("archived"), bool):
        known["archived"] = changes["archived"]
    if "client_organisation_id" in changes:
        value = changes["client_organisation_id"]
        known["client_organisation_id"] = str(value) if value else None
    if not known:
        return  # folders and other attributes this projection does not keep
    row = {"name": "", "client_organisation_id": None, "archived": False, **known}
    await repository.upsert(
        uow.session,
        ProjectRef,
        {"id": str(updated.project_id), "workspace_id": str(updated.workspace_id), **row},
        overwrite(*known),
    )


# --- client organisations -------------------------------------------------------------------


async def _organisation_created(envelope: Envelope, uow: UnitOfWork) -> None:
    created = registry.parse_as(envelope, ClientOrganisationCreated)
    await repository.upsert(
        uow.session,
        OrganisationRef,
        {
            "id": str(created.organisation_id),
            "workspace_id": str(created.workspace_id),
            "name": created.name[:200],
        },
        fill_blank(OrganisationRef, "name"),
    )


async def _organisation_updated(envelope: Envelope, uow: UnitOfWork) -> None:
    updated = registry.parse_as(envelope, ClientOrganisationUpdated)
    name = updated.changes.get("name")
    if not isinstance(name, str) or not name:
        return
    await repository.upsert(
        uow.session,
        OrganisationRef,
        {
            "id": str(updated.organisation_id),
            "workspace_id": str(updated.workspace_id),
            "name": name[:200],
        },
        overwrite("name"),
    )


# --- people ---------------------------------------------------------------------------------


def _person_row(workspace_id: str, user_id: str, **known: Any) -> dict[str, Any]:
    placeholder = {"email": "", "display_name": "", "kind": UNKNOWN_KIND, "active": True}
    return {"id": user_id, "workspace_id": workspace_id, **placeholder, **known}


async def _person_created(envelope: Envelope, uow: UnitOfWork) -> None:
    created = registry.parse_as(envelope, UserCreated)
    row = _person_row(
        str(created.workspace_id),
        str(created.user_id),
        email=created.email,
        display_name=created.display_name[:200],
        kind=created.kind,
    )
    # `active` is left alone: a deactivation that overtook the creation stands.
    await repository.upsert(
        uow.session, PersonRef, row, fill_blank(PersonRef, "email", "display_name", "kind")
    )


async def _person_updated(envelope: Envelope, uow: UnitOfWork) -> None:
    updated = registry.parse_as(envelope, UserUpdated)
    known: dict[str, Any] = {}
    for name in ("email", "display_name"):
        value = updated.changes.get(name)
        if isinstance(value, str) and value:
            known[name] = value[:320] if name == "email" else value[:200]
    kind = updated.changes.get("kind")
    if kind in PERSON_KINDS:
        known["kind"] = kind
    elif kind is not None:
        log.warning("people.unknown_kind", kind=kind)
    if not known:
        return  # the workspace role and other attributes this projection does not keep
    row = _person_row(str(updated.workspace_id), str(updated.user_id), **known)
    await repository.upsert(uow.session, PersonRef, row, overwrite(*known))


async def _person_activity(envelope: Envelope, uow: UnitOfWork) -> None:
    event = registry.parse(envelope)
    if not isinstance(event, UserReactivated | UserDeactivated):
        return
    active = isinstance(event, UserReactivated)
    row = _person_row(str(event.workspace_id), str(event.user_id), active=active)
    await repository.upsert(uow.session, PersonRef, row, overwrite("active"))


# --- dispatch -------------------------------------------------------------------------------

ITEM_EVENTS: Mapping[str, Apply] = {
    "tickets.item.created.v1": _item_created,
    "tickets.item.updated.v1": _item_changed,
    "tickets.item.status_changed.v1": _item_changed,
    "tickets.item.converted.v1": _item_changed,
    "tickets.item.deleted.v1": _item_deleted,
}
PROJECT_EVENTS: Mapping[str, Apply] = {
    "tickets.project.created.v1": _project_created,
    "tickets.project.updated.v1": _project_updated,
}
ORGANISATION_EVENTS: Mapping[str, Apply] = {
    "identity.client_organisation.created.v1": _organisation_created,
    "identity.client_organisation.updated.v1": _organisation_updated,
}
PERSON_EVENTS: Mapping[str, Apply] = {
    "identity.user.created.v1": _person_created,
    "identity.user.updated.v1": _person_updated,
    "identity.user.deactivated.v1": _person_activity,
    "identity.user.reactivated.v1": _person_activity,
}
ALL_EVENTS: Mapping[str, Apply] = {
    **ITEM_EVENTS,
    **PROJECT_EVENTS,
    **ORGANISATION_EVENTS,
    **PERSON_EVENTS,
}


async def apply_event(envelope: Envelope, uow: UnitOfWork) -> None:
    """Apply any projected event; types this service does not project are ignored."""
    apply = ALL_EVENTS.get(envelope.type)
    if apply is None:
        log.debug("projection.ignored", event_type=envelope.type)
        return
    await apply(envelope, uow)


def _workspace_of(envelope: Envelope) -> str | None:
    """Item events carry their tenant on the envelope only; one without it cannot be scoped
    and is dropped rather than guessed at."""
    if envelope.workspace is None:
        log.warning("projection.no_workspace", event_type=envelope.type, event_id=envelope.id)
    return envelope.workspace


def _optional(value: object) -> str | None:
    return None if value is None else str(value)
