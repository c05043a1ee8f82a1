"""Keeping the directory from identity's and tickets' events.

Events can arrive in any order (a failed delivery waits in a retry queue while later ones go
through), so every write is an upsert of what the event knows: a creation only fills what is
still blank or absent, a change overwrites what it carries and creates the row if needed, an
item's deletion is a tombstone. Two changes of one entity overtaking each other cannot be
ordered without a version per row; the later one to arrive wins (teams, whose events carry
their whole state, are ordered by the time of their event).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from contracts import Envelope, registry
from contracts.identity import (
    RequesterMerged,
    TeamChanged,
    UserCreated,
    UserDeactivated,
    UserReactivated,
    UserUpdated,
    WorkspaceCreated,
    WorkspaceUpdated,
)
from contracts.tickets import (
    FollowerAdded,
    FollowerRemoved,
    ItemCreated,
    ItemSnapshot,
    ProjectCreated,
    ProjectUpdated,
)
from kit.db.times import in_utc
from kit.logging import get_logger
from kit.uow import UnitOfWork
from services.notifications.directory import repository
from services.notifications.models import (
    DirectoryItem,
    DirectoryPerson,
    DirectoryProject,
)

log = get_logger(__name__)

Apply = Callable[[Envelope, UnitOfWork], Awaitable[None]]

ITEM_COLUMNS = (
    "number",
    "title",
    "project_id",
    "requester_id",
    "assignee_ids",
    "assignee_team_ids",
    "follower_ids",
    "status_name",
    "status_category",
)


def mail_key(name: str) -> str:
    """A project's name as the tag of an inbound address: `Spring Campaign` → `spring-campaign`."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:100]


# --- workspaces -----------------------------------------------------------------------------


async def _workspace_created(envelope: Envelope, uow: UnitOfWork) -> None:
    created = registry.parse_as(envelope, WorkspaceCreated)
    row = {"id": str(created.workspace_id), "name": created.name[:200], "slug": created.slug}
    await repository.save_workspace(uow.session, row, ("name", "slug"))


async def _workspace_updated(envelope: Envelope, uow: UnitOfWork) -> None:
    updated = registry.parse_as(envelope, WorkspaceUpdated)
    known = {
        key: str(updated.changes[key])[:200]
        for key in ("name", "slug")
        if isinstance(updated.changes.get(key), str) and updated.changes[key]
    }
    if known:
        row = {"id": str(updated.workspace_id), "name": "", "slug": "", **known}
        await repository.save_workspace(uow.session, row, tuple(known))


# --- people ---------------------------------------------------------------------------------


def fold(text: str) -> str:
    """Case and accents dropped (`Zoë` → `zoe`), as mentions are compared."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def handle_of(address: str) -> str:
    """The name a person's address gives them for mentions: its local part without a `+tag`
    (`anna.berg` for `Anna.Berg+support@acme.example`). Identity has no handles of its own."""
    local = address.rpartition("@")[0].partition("+")[0]
    return fold(local)[:64]


def name_keys(display_name: str) -> tuple[str, str]:
    """The names a display name gives for mentions: its words joined by dots, and its first
    word (`Anna Berg` → `anna.berg`, `anna`). Characters a mention cannot hold are dropped."""
    words = [w for w in (re.sub(r"[^\w-]", "", part) for part in fold(display_name).split()) if w]
    return ".".join(words)[:200], (words[0] if words else "")[:100]


def mention_keys(*, email: str | None = None, display_name: str | None = None) -> dict[str, str]:
    """The mention columns that follow from what is known of a person (either may be absent
    in a change)."""
    keys: dict[str, str] = {}
    if email is not None:
        keys["handle"] = handle_of(email)
    if display_name is not None:
        keys["name_key"], keys["first_name"] = name_keys(display_name)
    return keys


def _person_row(workspace_id: str, user_id: str, **known: Any) -> dict[str, Any]:
    blank = {
        "email": "",
        "display_name": "",
        "kind": "",
        "client_organisation_id": None,
        "handle": "",
        "name_key": "",
        "first_name": "",
    }
    return {"id": user_id, "workspace_id": workspace_id, "active": True, **blank, **known}


async def _person_created(envelope: Envelope, uow: UnitOfWork) -> None:
    """Identity's creation is the truth about a person, also over the placeholder this service
    wrote for a mail's unknown sender (identity adopting that id)."""
    created = registry.parse_as(envelope, UserCreated)
    known = {
        "email": created.email.lower(),
        "display_name": created.display_name[:200],
        "kind": created.kind,
        "client_organisation_id": _optional(created.client_organisation_id),
        **mention_keys(email=created.email, display_name=created.display_name),
    }
    row = _person_row(str(created.workspace_id), str(created.user_id), **known)
    await repository.save(uow.session, DirectoryPerson, row, tuple(known))


async def _person_merged(envelope: Envelope, uow: UnitOfWork) -> None:
    """The sender this service minted an id for was already a user: the placeholder goes
    (the user's own row, from identity, stays), so the address's next mail is theirs; the
    items follow through tickets' update events."""
    merged = registry.parse_as(envelope, RequesterMerged)
    await repository.forget_person(
        uow.session, str(merged.workspace_id), str(merged.minted_user_id)
    )


async def _person_updated(envelope: Envelope, uow: UnitOfWork) -> None:
    updated = registry.parse_as(envelope, UserUpdated)
    changes = updated.changes
    known: dict[str, Any] = {}
    if isinstance(changes.get("email"), str) and changes["email"]:
        known["email"] = str(changes["email"]).lower()
        known.update(mention_keys(email=known["email"]))
    if isinstance(changes.get("display_name"), str) and changes["display_name"]:
        known["display_name"] = str(changes["display_name"])[:200]
        known.update(mention_keys(display_name=known["display_name"]))
    if changes.get("kind") in ("staff", "collaborator", "client"):
        known["kind"] = str(changes["kind"])
    if "client_organisation_id" in changes:
        value = changes["client_organisation_id"]
        known["client_organisation_id"] = str(value) if value else None
    if known:
        row = _person_row(str(updated.workspace_id), str(updated.user_id), **known)
        await repository.save(uow.session, DirectoryPerson, row, tuple(known))


async def _person_activity(envelope: Envelope, uow: UnitOfWork) -> None:
    event = registry.parse(envelope)
    if not isinstance(event, UserDeactivated | UserReactivated):
        return
    row = _person_row(str(event.workspace_id), str(event.user_id))
    row["active"] = isinstance(event, UserReactivated)
    await repository.save(uow.session, DirectoryPerson, row, ("active",))


@dataclass(frozen=True)
class Requester:
    """A mail's unknown sender, under the id this service minted for them."""

    workspace_id: str
    user_id: str
    email: str
    display_name: str


async def remember_requesters(uow: UnitOfWork, requesters: Sequence[Requester]) -> None:
    """Mails' unknown senders, until identity's creation completes their rows: a sender's
    next mail finds the same person. One statement for however many a batch of mail met."""
    rows = [
        _person_row(
            r.workspace_id,
            r.user_id,
            email=r.email.lower(),
            display_name=r.display_name[:200],
            kind="client",
            **mention_keys(email=r.email, display_name=r.display_name),
        )
        for r in requesters
    ]
    await repository.insert_new(uow.session, DirectoryPerson, rows)


# --- teams ----------------------------------------------------------------------------------


async def _team_changed(envelope: Envelope, uow: UnitOfWork) -> None:
    """The team's whole state replaces the copy, unless the copy is of a later event (states
    overtaking each other in a retry queue are ordered by the time identity wrote them).

    Two states stamped alike cannot be ordered: as in tickets, the team then keeps only the
    members both name and is deleted if either says so, whichever arrives first."""
    changed = registry.parse_as(envelope, TeamChanged)
    workspace_id, team_id = str(changed.workspace_id), str(changed.team_id)
    deleted, named = changed.deleted, frozenset(str(m) for m in changed.member_ids)
    known = await repository.team_state(uow.session, workspace_id, team_id)
    if known is not None and in_utc(known[0].changed_at) == in_utc(envelope.time):
        deleted, named = deleted or known[0].deleted, named & known[1]
    members = [] if deleted else sorted(named)
    newer = await repository.save_team(
        uow.session,
        {
            "id": team_id,
            "workspace_id": workspace_id,
            "name": changed.name[:200],
            "deleted": deleted,
            "changed_at": envelope.time,
        },
    )
    if newer:
        await repository.replace_team_members(uow.session, workspace_id, team_id, members)


# --- projects -------------------------------------------------------------------------------


async def _project_created(envelope: Envelope, uow: UnitOfWork) -> None:
    created = registry.parse_as(envelope, ProjectCreated)
    row = {
        "id": str(created.project_id),
        "workspace_id": str(created.workspace_id),
        "name": created.name[:200],
        "mail_key": mail_key(created.name),
        "archived": False,
    }
    await repository.fill_blanks(uow.session, DirectoryProject, row, ("name", "mail_key"))


async def _project_updated(envelope: Envelope, uow: UnitOfWork) -> None:
    updated = registry.parse_as(envelope, ProjectUpdated)
    known: dict[str, Any] = {}
    name = updated.changes.get("name")
    if isinstance(name, str) and name:
        known.update(name=name[:200], mail_key=mail_key(name))
    if isinstance(updated.changes.get("archived"), bool):
        known["archived"] = updated.changes["archived"]
    if known:
        row = {
            "id": str(updated.project_id),
            "workspace_id": str(updated.workspace_id),
            "name": "",
            "mail_key": "",
            "archived": False,
            **known,
        }
        await repository.save(uow.session, DirectoryProject, row, tuple(known))


# --- items ----------------------------------------------------------------------------------


def item_row(workspace_id: str, item: ItemSnapshot, *, deleted: bool = False) -> dict[str, Any]:
    return {
        "id": str(item.id),
        "workspace_id": workspace_id,
        "number": item.number,
        "title": item.title[:500],
        "project_id": str(item.project_id),
        "requester_id": _optional(item.requester_id),
        "assignee_ids": [str(user) for user in item.assignee_user_ids],
        "assignee_team_ids": [str(team) for team in item.assignee_team_ids],
        "follower_ids": [str(user) for user in item.follower_ids],
        "status_name": item.status_name[:100],
        "status_category": item.status_category,
        "deleted": deleted,
    }


async def _item_created(envelope: Envelope, uow: UnitOfWork) -> None:
    workspace_id = _workspace_of(envelope)
    if workspace_id is not None:
        item = registry.parse_as(envelope, ItemCreated).item
        await repository.save(uow.session, DirectoryItem, item_row(workspace_id, item), ())


async def _item_changed(envelope: Envelope, uow: UnitOfWork) -> None:
    """Updated, moved, assigned, converted or deleted: each carries the whole item."""
    workspace_id = _workspace_of(envelope)
    if workspace_id is None:
        return
    event = registry.parse(envelope)
    item = getattr(event, "item", None)
    if not isinstance(item, ItemSnapshot):
        return
    deleted = envelope.type == "tickets.item.deleted.v1"
    columns = (*ITEM_COLUMNS, "deleted") if deleted else ITEM_COLUMNS
    row = item_row(workspace_id, item, deleted=deleted)
    await repository.save(uow.session, DirectoryItem, row, columns)


async def _follower_changed(envelope: Envelope, uow: UnitOfWork) -> None:
    event = registry.parse(envelope)
    if not isinstance(event, FollowerAdded | FollowerRemoved):
        return
    workspace_id, item_id, user_id = str(event.workspace_id), str(event.item_id), str(event.user_id)
    row = await uow.session.scalar(
        select(DirectoryItem)
        .where(DirectoryItem.workspace_id == workspace_id, DirectoryItem.id == item_id)
        .with_for_update()
    )
    if row is None:
        if isinstance(event, FollowerAdded):
            await repository.save(
                uow.session,
                DirectoryItem,
                {"id": item_id, "workspace_id": workspace_id, "follower_ids": [user_id]},
                (),
            )
        return
    followers = [f for f in row.follower_ids if f != user_id]
    if isinstance(event, FollowerAdded):
        followers.append(user_id)
    row.follower_ids = followers


# --- dispatch -------------------------------------------------------------------------------

WORKSPACE_EVENTS: Mapping[str, Apply] = {
    "identity.workspace.created.v1": _workspace_created,
    "identity.workspace.updated.v1": _workspace_updated,
}
PERSON_EVENTS: Mapping[str, Apply] = {
    "identity.user.created.v1": _person_created,
    "identity.user.updated.v1": _person_updated,
    "identity.user.deactivated.v1": _person_activity,
    "identity.user.reactivated.v1": _person_activity,
    "identity.requester.merged.v1": _person_merged,
}
TEAM_EVENTS: Mapping[str, Apply] = {"identity.team.changed.v1": _team_changed}
PROJECT_EVENTS: Mapping[str, Apply] = {
    "tickets.project.created.v1": _project_created,
    "tickets.project.updated.v1": _project_updated,
}
ITEM_EVENTS: Mapping[str, Apply] = {
    "tickets.item.created.v1": _item_created,
    "tickets.item.updated.v1": _item_changed,
    "tickets.item.status_changed.v1": _item_changed,
    "tickets.item.assigned.v1": _item_changed,
    "tickets.item.converted.v1": _item_changed,
    "tickets.item.deleted.v1": _item_changed,
    "tickets.follower.added.v1": _follower_changed,
    "tickets.follower.removed.v1": _follower_changed,
}
ALL_EVENTS: Mapping[str, Apply] = {
    **WORKSPACE_EVENTS,
    **PERSON_EVENTS,
    **TEAM_EVENTS,
    **PROJECT_EVENTS,
    **ITEM_EVENTS,
}


async def apply_event(envelope: Envelope, uow: UnitOfWork) -> None:
    apply = ALL_EVENTS.get(envelope.type)
    if apply is None:
        log.debug("directory.ignored", event_type=envelope.type)
        return
    await apply(envelope, uow)


def _workspace_of(envelope: Envelope) -> str | None:
    """Item events carry their tenant on the envelope only; one without it is dropped."""
    if envelope.workspace is None:
        log.warning("directory.no_workspace", event_type=envelope.type, event_id=envelope.id)
    return envelope.workspace


def _optional(value: object) -> str | None:
    return None if value is None else str(value)
