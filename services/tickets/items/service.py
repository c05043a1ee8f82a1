"""Tickets and tasks: create, read, change, move, convert, clone, delete; assignees and
followers. Every change is checked against the caller's role (kit.access), recorded in the
item's activity and published through the outbox."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast
from uuid import UUID

import nh3
from sqlalchemy import ColumnElement
from sqlalchemy.orm import make_transient_to_detached

from contracts.tickets import (
    FieldChange,
    FollowerAdded,
    FollowerRemoved,
    ItemAssigned,
    ItemConverted,
    ItemCreated,
    ItemDeleted,
    ItemSnapshot,
    ItemStatusChanged,
    ItemUpdated,
)
from kit.access import authorizer
from kit.access.authorizer import ItemFacts
from kit.auth import Principal
from kit.http.problems import Problem
from kit.uow import UnitOfWork
from services.tickets.hierarchy import access as hierarchy_access
from services.tickets.ids import new_id, now
from services.tickets.items import repository
from services.tickets.items.schemas import (
    AssigneeRef,
    Conversion,
    ItemCreate,
    ItemFilter,
    ItemUpdate,
)
from services.tickets.models import Activity, Assignee, Item, Project
from services.tickets.people import service as people
from services.tickets.snapshots import item_snapshot
from services.tickets.types import service as types
from services.tickets.types.service import TypeDefinition


def sanitise(text: str, text_format: str) -> str:
    """HTML is cleaned of scripts, handlers and unsafe links; Markdown is kept as written
    (it is rendered, then cleaned, where it is displayed)."""
    return nh3.clean(text) if text and text_format == "html" else text


def not_found() -> Problem:
    return Problem(404, "not-found", "No such item.")


@dataclass(frozen=True)
class LoadedItem:
    row: Item
    definition: TypeDefinition
    assignees: list[Assignee]
    followers: list[str]

    @property
    def status(self) -> Any:
        return self.definition.status(self.row.status_id)

    def facts(self) -> ItemFacts:
        return ItemFacts(
            workspace_id=self.row.workspace_id,
            project_id=self.row.project_id,
            requester_id=self.row.requester_id,
            requester_organisation_id=self.row.requester_organisation_id,
            follower_ids=frozenset(self.followers),
        )

    def snapshot(self) -> ItemSnapshot:
        status = self.status
        return item_snapshot(
            self.row,
            kind=self.definition.kind,
            status_name=status.name,
            status_category=status.category,
            assignees=[(a.assignee_type, a.assignee_id) for a in self.assignees],
            followers=self.followers,
        )


async def load(
    uow: UnitOfWork, principal: Principal, item_id: str, action: str, *, lock: bool = False
) -> LoadedItem:
    """The item, if the caller may do `action` on it (404 when they may not even see it)."""
    row = await repository.item(uow.session, principal.workspace_id, item_id)
    if row is None:
        raise not_found()
    loaded = await _loaded(uow, row, lock=lock)
    await authorizer.require_on_item(uow.session, principal, cast(Any, action), loaded.facts())
    return loaded


async def _loaded(uow: UnitOfWork, row: Item, *, lock: bool = False) -> LoadedItem:
    definition = await types.load_type(uow.session, row.workspace_id, row.type_id, lock=lock)
    return LoadedItem(
        row,
        definition,
        await repository.assignees(uow.session, row.workspace_id, row.id),
        await repository.follower_ids(uow.session, row.workspace_id, row.id),
    )


def _activity(
    actor: Principal | None, kind: str, changes: dict[str, Any], visibility: str
) -> dict[str, Any]:
    """An activity entry, but for its item and workspace."""
    return {
        "id": new_id(),
        "actor": actor.subject if actor else None,
        "kind": kind,
        "changes": changes,
        "visibility": visibility,
        "created_at": now(),
    }


def record(
    uow: UnitOfWork,
    row: Item,
    actor: Principal | None,
    kind: str,
    changes: dict[str, Any],
    visibility: str = "public",
) -> None:
    entry = _activity(actor, kind, changes, visibility)
    uow.session.add(Activity(workspace_id=row.workspace_id, item_id=row.id, **entry))


async def _check_assignees(
    uow: UnitOfWork, workspace_id: str, wanted: list[AssigneeRef]
) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = sorted({(a.type, a.id) for a in wanted})
    for kind, ident in pairs:
        if kind == "user":
            person = await repository.person(uow.session, workspace_id, ident)
            if person is None or not person.active or person.kind == "client":
                raise Problem(
                    422,
                    "unknown-assignee",
                    "Assignees must be active staff or collaborators of the workspace.",
                    assignee=ident,
                )
    return pairs


async def _follow(uow: UnitOfWork, row: Item, user_ids: list[str]) -> None:
    for user_id in user_ids:
        if await repository.add_follower(uow.session, row.workspace_id, row.id, user_id):
            uow.emit(
                FollowerAdded(
                    item_id=UUID(row.id), workspace_id=UUID(row.workspace_id), user_id=UUID(user_id)
                ),
                workspace=row.workspace_id,
                subject=f"item/{row.id}",
            )


async def create(
    uow: UnitOfWork, principal: Principal, body: ItemCreate, channel: str = "app"
) -> LoadedItem:
    workspace = principal.workspace_id
    requester_id = body.requester_id or (principal.subject if principal.kind != "service" else None)
    # The project, the requester and the type (share-locked, see `types.find_type`) in one
    # query; when one of them is missing, one question at a time, so each failure gets its own
    # answer. The project is authorised through the hierarchy's check, so the creator of a
    # brand-new project can file items in it before identity's grant for them has arrived.
    context = (
        await repository.new_item_context(
            uow.session, workspace, body.project_id, requester_id, body.type_id, "ticket"
        )
        if requester_id is not None
        else None
    )
    found: Project | repository.ProjectRow | None
    if context is not None:
        found, head = context.project, context.type
        requester_found, requester_organisation_id = (
            context.requester_found,
            context.requester_organisation_id,
        )
    else:
        found, head = await repository.project(uow.session, workspace, body.project_id), None
        requester = (
            await repository.person(uow.session, workspace, requester_id) if requester_id else None
        )
        requester_found = requester is not None
        requester_organisation_id = requester.client_organisation_id if requester else None
    project = await hierarchy_access.authorise_project(uow.session, principal, "create_item", found)
    if project.archived_at is not None:
        raise Problem(404, "not-found", "No such project.")
    definition = await (
        types.definition_of(uow.session, workspace, head)
        if head is not None
        else types.type_for_new_item(uow.session, workspace, body.type_id, "ticket")
    )
    if definition.archived:
        raise Problem(422, "type-archived", f"The type {definition.name!r} is archived.")
    status = definition.status(body.status_id) if body.status_id else definition.statuses[0]
    values = types.validate_custom_values(definition, body.custom_values, partial=False)
    if missing := types.missing_for_status(definition, values, status.id):
        raise types.missing_fields_problem(definition, missing, status)
    if principal.is_client and requester_id != principal.subject:
        raise Problem(403, "forbidden", "Clients create items on their own behalf only.")
    if body.requester_id and not requester_found:
        raise Problem(422, "unknown-requester", "The requester is not a user of the workspace.")
    pairs = await _check_assignees(uow, workspace, body.assignees)
    if pairs and principal.is_client:
        raise Problem(403, "forbidden", "Clients do not assign items.")
    creator = principal.subject if principal.kind != "service" else None
    return await insert(
        uow,
        workspace,
        project.id,
        definition,
        status,
        body,
        values,
        requester_id,
        requester_organisation_id,
        pairs,
        creator,
        channel,
        principal,
    )


async def insert(
    uow: UnitOfWork,
    workspace: str,
    project_id: str,
    definition: TypeDefinition,
    status: Any,
    body: ItemCreate,
    custom_values: dict[str, Any],
    requester_id: str | None,
    requester_organisation_id: str | None,
    pairs: list[tuple[str, str]],
    creator: str | None,
    channel: str,
    actor: Principal | None,
) -> LoadedItem:
    """Write an already authorised and validated item, its followers, history and event."""
    moment = now()
    values = {
        "id": new_id(),
        "workspace_id": workspace,
        "project_id": project_id,
        "type_id": definition.id,
        "status_id": status.id,
        "status_category": status.category,
        "title": body.title,
        "description": sanitise(body.description, body.description_format),
        "description_format": body.description_format,
        "priority": body.priority,
        "requester_id": requester_id,
        "requester_organisation_id": requester_organisation_id,
        "start_date": body.start_date,
        "due_date": body.due_date,
        "estimate_minutes": body.estimate_minutes,
        "points": body.points,
        "percent_complete": body.percent_complete,
        "logged_minutes": 0,
        "custom_values": custom_values,
        "created_by": creator,
        "created_at": moment,
        "updated_at": moment,
        "deleted_at": None,
    }
    # The creator, every assigned user and the requester follow; the followers travel in the
    # created event.
    people = {creator} if creator else set()
    people |= {ident for kind, ident in pairs if kind == "user"}
    if requester_id:
        people.add(requester_id)
    followers = sorted(people)
    entry = _activity(
        actor, "created", {"title": body.title, "status": status.name, "channel": channel}, "public"
    )
    values["number"] = await repository.insert_new_item(
        uow.session, values, pairs, followers, entry
    )
    # The row as written, known to the session as if it had been read (a later change to it in
    # this unit of work is flushed as an update), without asking the database again.
    row = Item(**values)
    make_transient_to_detached(row)
    uow.session.add(row)
    assignees = [
        Assignee(item_id=row.id, assignee_type=kind, assignee_id=ident, workspace_id=workspace)
        for kind, ident in pairs
    ]
    loaded = LoadedItem(row, definition, assignees, followers)
    uow.emit(
        ItemCreated(
            item=loaded.snapshot(), channel=channel, created_by=UUID(creator) if creator else None
        ),
        workspace=workspace,
        subject=f"item/{row.id}",
    )
    return loaded


def _visible_value(definition: TypeDefinition, key: str) -> bool:
    field = definition.field(key)
    return field is None or field.client_visible


async def update(
    uow: UnitOfWork, principal: Principal, item_id: str, body: ItemUpdate
) -> LoadedItem:
    loaded = await load(uow, principal, item_id, "edit_item")
    row, definition = loaded.row, loaded.definition
    requested = body.model_dump(exclude_unset=True)
    changes: dict[str, FieldChange] = {}
    if "custom_values" in requested:
        incoming = types.validate_custom_values(
            definition, requested.pop("custom_values") or {}, partial=True
        )
        merged = {**row.custom_values, **incoming}
        if missing := types.missing_for_status(definition, merged, row.status_id):
            raise types.missing_fields_problem(definition, missing, loaded.status)
        for key, value in incoming.items():
            if row.custom_values.get(key) != value:
                changes[f"custom.{key}"] = FieldChange(
                    old=row.custom_values.get(key),
                    new=value,
                    client_visible=_visible_value(definition, key),
                )
        row.custom_values = merged
    if "description" in requested:
        text_format = requested.get("description_format") or row.description_format
        requested["description"] = sanitise(requested["description"] or "", text_format)
    if requested.get("requester_id"):
        requester = await repository.person(
            uow.session, row.workspace_id, requested["requester_id"]
        )
        if requester is None:
            raise Problem(422, "unknown-requester", "The requester is not a user of the workspace.")
        row.requester_organisation_id = requester.client_organisation_id
    for field, value in requested.items():
        old = getattr(row, field)
        if old == value:
            continue
        setattr(row, field, value)
        changes[field] = FieldChange(old=_jsonable(old), new=_jsonable(value))
    if changes:
        row.updated_at = now()
        loaded = await _loaded(uow, row)
        record(
            uow,
            row,
            principal,
            "updated",
            {k: v.model_dump(mode="json") for k, v in changes.items()},
            "public" if all(c.client_visible for c in changes.values()) else "private",
        )
        uow.emit(
            ItemUpdated(item=loaded.snapshot(), changes=changes),
            workspace=row.workspace_id,
            subject=f"item/{row.id}",
        )
    return loaded


def _jsonable(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


async def change_status(
    uow: UnitOfWork,
    principal: Principal | None,
    item_id: str,
    status_id: str,
    *,
    workspace_id: str | None = None,
) -> LoadedItem:
    """`principal` None: a change made by the system itself (e.g. time logged)."""
    if principal is not None:
        loaded = await load(uow, principal, item_id, "change_status", lock=True)
    else:
        assert workspace_id is not None
        found = await repository.item(uow.session, workspace_id, item_id)
        if found is None:
            raise not_found()
        loaded = await _loaded(uow, found, lock=True)
    row, definition = loaded.row, loaded.definition
    target = definition.status(status_id)
    if target.id == row.status_id:
        return loaded
    if not types.transition_allowed(definition, row.status_id, target.id):
        raise Problem(
            422,
            "transition-not-allowed",
            f"{loaded.status.name!r} cannot move to {target.name!r} in this workflow.",
        )
    if missing := types.missing_for_status(definition, row.custom_values, target.id):
        raise types.missing_fields_problem(definition, missing, target)
    before = loaded.status
    row.status_id, row.status_category, row.updated_at = target.id, target.category, now()
    loaded = await _loaded(uow, row)
    record(uow, row, principal, "status_changed", {"from": before.name, "to": target.name})
    uow.emit(
        ItemStatusChanged(
            item=loaded.snapshot(),
            from_status_id=UUID(before.id),
            from_category=before.category,
            to_status_id=UUID(target.id),
            to_category=target.category,
        ),
        workspace=row.workspace_id,
        subject=f"item/{row.id}",
    )
    return loaded


async def assign(
    uow: UnitOfWork, principal: Principal, item_id: str, wanted: list[AssigneeRef]
) -> LoadedItem:
    loaded = await load(uow, principal, item_id, "assign")
    row = loaded.row
    pairs = await _check_assignees(uow, row.workspace_id, wanted)
    before = {(a.assignee_type, a.assignee_id) for a in loaded.assignees}
    after = set(pairs)
    if before == after:
        return loaded
    await repository.replace_assignees(uow.session, row.workspace_id, row.id, pairs)
    await _follow(uow, row, sorted(ident for kind, ident in after - before if kind == "user"))
    row.updated_at = now()
    loaded = await _loaded(uow, row)

    def ids(kind: str, group: set[tuple[str, str]]) -> list[UUID]:
        return [UUID(i) for k, i in sorted(group) if k == kind]

    record(uow, row, principal, "assigned", {"assignees": [f"{k}:{i}" for k, i in pairs]})
    uow.emit(
        ItemAssigned(
            item=loaded.snapshot(),
            added_user_ids=ids("user", after - before),
            removed_user_ids=ids("user", before - after),
            added_team_ids=ids("team", after - before),
            removed_team_ids=ids("team", before - after),
        ),
        workspace=row.workspace_id,
        subject=f"item/{row.id}",
    )
    return loaded


async def delete(uow: UnitOfWork, principal: Principal, item_id: str) -> None:
    loaded = await load(uow, principal, item_id, "delete_item")
    loaded.row.deleted_at = now()
    record(uow, loaded.row, principal, "deleted", {})
    uow.emit(
        ItemDeleted(item=loaded.snapshot()),
        workspace=loaded.row.workspace_id,
        subject=f"item/{loaded.row.id}",
    )


async def announce_requester_change(
    uow: UnitOfWork, workspace_id: str, item_ids: Sequence[str], old: str, new: str
) -> None:
    """The requester of these items was changed underneath (a merge of people): tell the
    other services, as any update of an item does, so their copies follow."""
    for item_id in item_ids:
        row = await repository.item(uow.session, workspace_id, item_id)
        if row is None:
            continue
        row.updated_at = now()
        loaded = await _loaded(uow, row)
        record(uow, row, None, "updated", {"requester_id": {"old": old, "new": new}})
        uow.emit(
            ItemUpdated(
                item=loaded.snapshot(), changes={"requester_id": FieldChange(old=old, new=new)}
            ),
            workspace=workspace_id,
            subject=f"item/{row.id}",
        )


async def move(uow: UnitOfWork, principal: Principal, item_id: str, project_id: str) -> LoadedItem:
    loaded = await load(uow, principal, item_id, "edit_item")
    row = loaded.row
    target = await repository.project(uow.session, row.workspace_id, project_id)
    if target is None or target.archived_at is not None:
        raise Problem(404, "not-found", "No such project.")
    await authorizer.require(uow.session, principal, "create_item", target.id)
    if target.id == row.project_id:
        return loaded
    before = row.project_id
    row.project_id, row.updated_at = target.id, now()
    loaded = await _loaded(uow, row)
    record(uow, row, principal, "moved", {"from": before, "to": target.id})
    uow.emit(
        ItemUpdated(
            item=loaded.snapshot(), changes={"project_id": FieldChange(old=before, new=target.id)}
        ),
        workspace=row.workspace_id,
        subject=f"item/{row.id}",
    )
    return loaded


async def convert(
    uow: UnitOfWork, principal: Principal, item_id: str, body: Conversion
) -> LoadedItem:
    """Change type (a ticket becomes a task, say): history, comments and number stay; the
    status is mapped explicitly or by category; values of fields the new type lacks are kept
    but no longer shown."""
    loaded = await load(uow, principal, item_id, "edit_item")
    row, old = loaded.row, loaded.definition
    if body.type_id == row.type_id:
        return loaded
    new = await types.load_type(uow.session, row.workspace_id, body.type_id)
    if body.status_mapping.get(row.status_id):
        target = new.status(body.status_mapping[row.status_id])
    else:
        same_category = [s for s in new.statuses if s.category == row.status_category]
        target = same_category[0] if same_category else new.statuses[0]
    kept = {k: v for k, v in row.custom_values.items() if new.field(k) is not None}
    values = types.validate_custom_values(new, kept, partial=True)
    if missing := types.missing_for_status(new, values, target.id):
        raise types.missing_fields_problem(new, missing, target)
    from_status = loaded.status
    row.type_id, row.status_id, row.status_category = new.id, target.id, target.category
    row.updated_at = now()
    loaded = await _loaded(uow, row)
    record(
        uow,
        row,
        principal,
        "converted",
        {
            "from_type": old.name,
            "to_type": new.name,
            "from_status": from_status.name,
            "to_status": target.name,
        },
    )
    uow.emit(
        ItemConverted(
            item=loaded.snapshot(), from_type_id=UUID(old.id), from_kind=cast(Any, old.kind)
        ),
        workspace=row.workspace_id,
        subject=f"item/{row.id}",
    )
    return loaded


async def clone(uow: UnitOfWork, principal: Principal, item_id: str) -> LoadedItem:
    source = await load(uow, principal, item_id, "view")
    row = source.row
    body = ItemCreate(
        project_id=row.project_id,
        type_id=row.type_id,
        status_id=source.definition.statuses[0].id,
        title=f"{row.title} (copy)",
        description=row.description,
        description_format=cast(Any, row.description_format),
        priority=cast(Any, row.priority),
        assignees=[
            AssigneeRef(type=cast(Any, a.assignee_type), id=a.assignee_id) for a in source.assignees
        ],
        start_date=row.start_date,
        due_date=row.due_date,
        estimate_minutes=row.estimate_minutes,
        points=row.points,
        custom_values=dict(row.custom_values),
    )
    return await create(uow, principal, body)


async def follow(uow: UnitOfWork, principal: Principal, item_id: str, user_id: str) -> LoadedItem:
    """Anyone who may see the item may follow it; adding someone else needs
    `manage_followers`, and they must be allowed to see the item too."""
    action = "view" if user_id == principal.subject else "manage_followers"
    loaded = await load(uow, principal, item_id, action)
    row = loaded.row
    person = await repository.person(uow.session, row.workspace_id, user_id)
    if person is None or not person.active:
        raise Problem(422, "unknown-user", "No such active user in this workspace.")
    # Their own role and teams count, as when they open the item: a team grant on the project
    # or workspace admin powers are enough.
    follower = await people.principal_of(uow.session, person)
    if person.kind != "client" and not await authorizer.can_on_item(
        uow.session, follower, "view", loaded.facts()
    ):
        raise Problem(422, "cannot-see-item", "That person may not see this item.")
    await _follow(uow, row, [user_id])
    return await _loaded(uow, row)


async def unfollow(uow: UnitOfWork, principal: Principal, item_id: str, user_id: str) -> LoadedItem:
    action = "view" if user_id == principal.subject else "manage_followers"
    loaded = await load(uow, principal, item_id, action)
    row = loaded.row
    if await repository.remove_follower(uow.session, row.workspace_id, row.id, user_id):
        uow.emit(
            FollowerRemoved(
                item_id=UUID(row.id), workspace_id=UUID(row.workspace_id), user_id=UUID(user_id)
            ),
            workspace=row.workspace_id,
            subject=f"item/{row.id}",
        )
    return await _loaded(uow, row)


# --- lists ---------------------------------------------------------------------------------

LIST_LIMIT_MAX = 200


def _encode_cursor(sort: str, row: Item) -> str:
    value: Any
    if sort == "due_date":
        value = (row.due_date or repository.FAR_FUTURE).isoformat()
    elif sort == "priority":
        value = repository.PRIORITY_RANK.get(row.priority, 1)
    elif sort in ("created_at", "updated_at"):
        value = getattr(row, sort).isoformat()
    else:
        value = row.number
    raw = json.dumps([value, row.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(sort: str, cursor: str) -> tuple[Any, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value, last_id = json.loads(base64.urlsafe_b64decode(padded))
        if sort == "due_date":
            value = date.fromisoformat(value)
        elif sort in ("created_at", "updated_at"):
            value = datetime.fromisoformat(value)
        elif not isinstance(value, int):
            raise ValueError("not a number")
        return value, str(last_id)
    except (ValueError, TypeError, binascii.Error) as error:
        raise Problem(400, "invalid-cursor", "The cursor is not valid for this sort.") from error


async def _access_clause(uow: UnitOfWork, principal: Principal) -> ColumnElement[bool]:
    if principal.is_client:
        visibility = await authorizer.client_visibility(uow.session, principal.workspace_id)
        return authorizer.client_items_clause(
            principal,
            visibility,
            requester_column=Item.requester_id,
            requester_organisation_column=Item.requester_organisation_id,
            followed=repository.followed_by(principal.workspace_id, principal.subject),
        )
    scope = await authorizer.visible_projects(uow.session, principal)
    return scope.clause(Item.project_id)


async def _clauses(
    uow: UnitOfWork, principal: Principal, wanted: ItemFilter
) -> list[ColumnElement[bool]]:
    folders = (
        await repository.folder_subtree(uow.session, principal.workspace_id, wanted.folder_id)
        if wanted.folder_id
        else []
    )
    return [
        *repository.filter_clauses(principal.workspace_id, wanted, folders),
        await _access_clause(uow, principal),
    ]


async def list_items(
    uow: UnitOfWork,
    principal: Principal,
    wanted: ItemFilter,
    *,
    sort: str,
    descending: bool,
    cursor: str | None,
    limit: int,
) -> tuple[list[LoadedItem], str | None]:
    """One page of the items the caller may see, with every item's type, assignees and
    followers loaded in a fixed number of queries (not one per item)."""
    clauses = await _clauses(uow, principal, wanted)
    after = _decode_cursor(sort, cursor) if cursor else None
    rows = await repository.page(
        uow.session, clauses, sort=sort, descending=descending, after=after, limit=limit + 1
    )
    more, rows = len(rows) > limit, rows[:limit]
    ids = [row.id for row in rows]
    assignees = await repository.assignees_of(uow.session, principal.workspace_id, ids)
    followers = await repository.followers_of(uow.session, principal.workspace_id, ids)
    definitions: dict[str, TypeDefinition] = {}
    loaded = []
    for row in rows:
        if row.type_id not in definitions:
            definitions[row.type_id] = await types.load_type(
                uow.session, row.workspace_id, row.type_id
            )
        loaded.append(
            LoadedItem(
                row, definitions[row.type_id], assignees.get(row.id, []), followers.get(row.id, [])
            )
        )
    return loaded, _encode_cursor(sort, rows[-1]) if more and rows else None


async def counts(
    uow: UnitOfWork, principal: Principal, wanted: ItemFilter
) -> list[tuple[str, str, int]]:
    """Items per status under the same filters and visibility, for board columns."""
    return await repository.status_counts(uow.session, await _clauses(uow, principal, wanted))
