"""Keeping automation's copies of items, item types, people and teams, and telling the rules
what an item event means (its triggers, changes, actor and comment).

An item event carries the whole item, so the copy is simply replaced by the newest event
(older ones arriving late, after a retry, are recognised by their time and only add their
history). Custom field values only travel in updates (`custom.<key>` changes); they are
merged into the copy as they come.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import JsonValue

from contracts import Envelope, registry
from contracts.identity import TeamChanged, UserCreated, UserDeactivated, UserReactivated
from contracts.tickets import (
    CommentAdded,
    ItemAssigned,
    ItemConverted,
    ItemCreated,
    ItemDeleted,
    ItemSnapshot,
    ItemStatusChanged,
    ItemUpdated,
    TypeChanged,
)
from contracts.timetracking import TimeLogged
from kit.uow import UnitOfWork
from services.automation.models import ItemView, Person, Team, TypeView
from services.automation.projections import repository
from services.automation.rules.engine import Comment, TriggerKey

ITEM_EVENTS = (
    "tickets.item.created.v1",
    "tickets.item.updated.v1",
    "tickets.item.status_changed.v1",
    "tickets.item.assigned.v1",
    "tickets.item.converted.v1",
    "tickets.item.deleted.v1",
    "tickets.comment.added.v1",
    "timetracking.time.logged.v1",
)
PEOPLE_EVENTS = (
    "identity.user.created.v1",
    "identity.user.deactivated.v1",
    "identity.user.reactivated.v1",
    "identity.team.changed.v1",
)
CLIENT_CHANNELS = frozenset({"email", "portal"})
STAFF_KINDS = frozenset({"staff", "collaborator"})


@dataclass
class Observed:
    """An item event as the rules and the SLA clocks see it."""

    item: ItemView
    triggers: list[TriggerKey]
    changes: dict[str, tuple[JsonValue, JsonValue]] = field(default_factory=dict)
    actor_id: str | None = None
    comment: Comment | None = None
    history_changed: bool = False


def event_time(envelope: Envelope) -> datetime:
    moment = envelope.time
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def actor_of(envelope: Envelope) -> tuple[str | None, str | None]:
    """(user id, rule id) from the envelope's actor: `<user id>`, `user:<id>`, `rule:<id>`."""
    actor = envelope.actor
    if not actor:
        return None, None
    if actor.startswith("rule:"):
        return None, actor[5:]
    if actor.startswith("user:"):
        return actor[5:], None
    return (actor, None) if ":" not in actor and actor != "automation" else (None, None)


def item_facts(row: ItemView) -> dict[str, Any]:
    """The item as conditions and templates read it: its snapshot plus custom values."""
    return {**row.snapshot, "custom": dict(row.custom or {})}


async def apply_item_event(envelope: Envelope, uow: UnitOfWork) -> Observed | None:
    workspace = envelope.workspace
    if workspace is None:
        return None
    event = registry.parse(envelope)
    at = event_time(envelope)
    actor_id, _rule = actor_of(envelope)
    if isinstance(event, TimeLogged):
        row = await repository.item(uow.session, workspace, str(event.item_id))
        if row is None or row.deleted:
            return None
        return Observed(row, [("time_logged", "")], actor_id=str(event.user_id))
    if not isinstance(
        event,
        ItemCreated | ItemUpdated | ItemStatusChanged | ItemAssigned | ItemConverted,
    ) and not isinstance(event, ItemDeleted | CommentAdded):
        return None
    snapshot = event.item
    row = await _upsert_item(uow, workspace, snapshot, at, envelope.type, envelope.id)
    observed = Observed(row, [], actor_id=actor_id)
    if isinstance(event, ItemCreated):
        observed.triggers = [("item_created", "")]
        observed.actor_id = str(event.created_by) if event.created_by else actor_id
        first = "client_message" if event.channel in CLIENT_CHANNELS else "created"
        await _history(uow, envelope, row, at, "created", snapshot)
        if first == "client_message":
            await _history(uow, envelope, row, at, "client_message", None, suffix=":msg")
        observed.history_changed = True
    elif isinstance(event, ItemStatusChanged):
        observed.changes = {
            "status_name": (None, snapshot.status_name),
            "status_id": (str(event.from_status_id), str(event.to_status_id)),
            "status_category": (event.from_category, event.to_category),
        }
        observed.triggers = [("status_changed", ""), ("item_updated", "")]
        observed.triggers += [("field_changed", k) for k in observed.changes]
        await _history(uow, envelope, row, at, "status", snapshot)
        observed.history_changed = True
    elif isinstance(event, ItemUpdated):
        observed.changes = {name: (c.old, c.new) for name, c in event.changes.items()}
        custom = dict(row.custom or {})
        for name, change in event.changes.items():
            if name.startswith("custom."):
                custom[name[7:]] = change.new
        row.custom = custom
        observed.triggers = [("item_updated", "")]
        observed.triggers += [("field_changed", k) for k in observed.changes]
        observed.history_changed = "priority" in event.changes or "type_id" in event.changes
    elif isinstance(event, ItemAssigned):
        new: list[JsonValue] = [str(u) for u in snapshot.assignee_user_ids]
        observed.changes = {"assignee_user_ids": (None, new)}
        observed.triggers = [("item_updated", ""), ("field_changed", "assignee_user_ids")]
    elif isinstance(event, ItemConverted):
        observed.changes = {"type_id": (str(event.from_type_id), str(snapshot.type_id))}
        observed.triggers = [("item_updated", ""), ("field_changed", "type_id")]
        observed.history_changed = True
    elif isinstance(event, ItemDeleted):
        row.deleted = True
        observed.history_changed = True
    elif isinstance(event, CommentAdded):
        author = str(event.author_id) if event.author_id else None
        observed.actor_id = author
        observed.comment = Comment(event.visibility, event.channel, event.body)
        observed.triggers = [("comment_added", "")]
        kind = await _comment_kind(uow, workspace, row, event, author)
        if kind is not None:
            await _history(uow, envelope, row, at, kind, None)
            observed.history_changed = True
    return observed


async def _comment_kind(
    uow: UnitOfWork, workspace: str, row: ItemView, event: CommentAdded, author: str | None
) -> str | None:
    """`reply` for a public staff answer, `client_message` for a client's; automatic replies
    (posted by rules) answer nobody."""
    if event.visibility != "public" or event.channel == "rule":
        return None
    person = await repository.person(uow.session, workspace, author) if author else None
    if person is not None and person.kind == "client":
        return "client_message"
    if author is not None and author == str(row.snapshot.get("requester_id")):
        return "client_message"
    if person is not None and person.kind in STAFF_KINDS:
        return "reply"
    return "client_message" if event.channel in CLIENT_CHANNELS else "reply"


async def _upsert_item(
    uow: UnitOfWork, workspace: str, snapshot: ItemSnapshot, at: datetime, kind: str, event: str
) -> ItemView:
    data = snapshot.model_dump(mode="json")
    row = await repository.item(uow.session, workspace, str(snapshot.id))
    if row is None:
        row = ItemView(
            id=str(snapshot.id),
            workspace_id=workspace,
            custom={},
            created_at=at if kind == "tickets.item.created.v1" else None,
            deleted=False,
        )
        uow.session.add(row)
        _write_snapshot(row, data, at)
        return row
    if kind == "tickets.item.created.v1" and row.created_at is None:
        row.created_at = at
    seen = row.snapshot.get("_as_of") if row.snapshot else None
    if seen is None or str(seen) <= at.isoformat():
        _write_snapshot(row, data, at)
    return row


def _write_snapshot(row: ItemView, data: dict[str, Any], at: datetime) -> None:
    row.snapshot = {**data, "_as_of": at.isoformat()}
    row.project_id = data["project_id"]
    row.type_id = data["type_id"]
    row.status_category = data["status_category"]
    due = data.get("due_date")
    row.due_on = str(due)[:10] if due else None


async def _history(
    uow: UnitOfWork,
    envelope: Envelope,
    row: ItemView,
    at: datetime,
    kind: str,
    snapshot: ItemSnapshot | None,
    suffix: str = "",
) -> None:
    await repository.add_history(
        uow.session,
        {
            "event_id": envelope.id[:30] + suffix if suffix else envelope.id,
            "workspace_id": row.workspace_id,
            "item_id": row.id,
            "at": at,
            "kind": kind,
            "status_id": str(snapshot.status_id) if snapshot else None,
            "category": snapshot.status_category if snapshot else None,
        },
    )


# --- types, people, teams -------------------------------------------------------------------


async def apply_type_event(envelope: Envelope, uow: UnitOfWork) -> None:
    changed = registry.parse_as(envelope, TypeChanged)
    workspace = str(changed.workspace_id)
    row = await repository.item_type(uow.session, workspace, str(changed.type_id))
    statuses = [s.model_dump(mode="json") for s in changed.statuses]
    if row is None:
        uow.session.add(
            TypeView(
                id=str(changed.type_id),
                workspace_id=workspace,
                name=changed.name,
                statuses=statuses,
            )
        )
    else:
        row.name, row.statuses = changed.name, statuses


async def apply_people_event(envelope: Envelope, uow: UnitOfWork) -> None:
    event = registry.parse(envelope)
    if isinstance(event, TeamChanged):
        workspace = str(event.workspace_id)
        members = [str(m) for m in event.member_ids]
        team = await repository.team(uow.session, workspace, str(event.team_id))
        if team is None:
            uow.session.add(
                Team(
                    id=str(event.team_id),
                    workspace_id=workspace,
                    name=event.name,
                    member_ids=members,
                    deleted=event.deleted,
                )
            )
        else:
            team.name, team.member_ids, team.deleted = event.name, members, event.deleted
        return
    if not isinstance(event, UserCreated | UserDeactivated | UserReactivated):
        return
    workspace = str(event.workspace_id)
    person = await repository.person(uow.session, workspace, str(event.user_id))
    if person is None:
        person = Person(id=str(event.user_id), workspace_id=workspace, kind="", active=True)
        uow.session.add(person)
    if isinstance(event, UserCreated):
        person.kind = event.kind
    else:
        person.active = isinstance(event, UserReactivated)
