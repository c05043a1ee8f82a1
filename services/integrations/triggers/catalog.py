"""The triggers tools can subscribe to, and the one object each delivers.

Every trigger turns a consumed event into a `Record`: the object in its staff shape and in
its client-safe shape (None when nothing of the event may reach a client), plus what
filters and authorisation need (project, type, item). The object is the same for a REST
hook's delivery and a polling list's entry, so a tool's sample data is what it will get.

- Polling tools deduplicate on `id`: for "updated" triggers it is the object's id and the
  time of the change, so each change is new to them.
- Client-safe shapes never carry a private note nor a change of a client-hidden field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts import Envelope, registry
from contracts.automation import SlaBreached
from contracts.identity import UserCreated
from contracts.tickets import (
    CommentAdded,
    ItemAssigned,
    ItemCreated,
    ItemSnapshot,
    ItemStatusChanged,
    ItemUpdated,
)
from contracts.timetracking import TimeLogged


@dataclass(frozen=True)
class Record:
    trigger: str
    poll_id: str
    staff: dict[str, Any]
    client: dict[str, Any] | None
    item_id: str | None = None
    project_id: str | None = None
    type_id: str | None = None


@dataclass(frozen=True)
class Trigger:
    key: str
    label: str
    event_type: str
    build: Callable[[Envelope], list[Record]]
    staff_only: bool = False
    """Subscribing needs a staff caller (the payload can hold private content)."""


def _stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _item(item: ItemSnapshot) -> dict[str, Any]:
    fields = item.model_dump(mode="json")
    fields["item_id"] = fields.pop("id")
    return fields


def _record(
    trigger: str, poll_id: str, item: ItemSnapshot, staff: dict[str, Any], client: Any = ...
) -> Record:
    staff = {"id": poll_id, **_item(item), **staff}
    return Record(
        trigger=trigger,
        poll_id=poll_id,
        staff=staff,
        client=staff if client is ... else client,
        item_id=str(item.id),
        project_id=str(item.project_id),
        type_id=str(item.type_id),
    )


def _item_created(envelope: Envelope) -> list[Record]:
    created = registry.parse_as(envelope, ItemCreated)
    extra = {"channel": created.channel, "created_at": _stamp(envelope.time)}
    return [_record("item_created", str(created.item.id), created.item, extra)]


def _item_updated(envelope: Envelope) -> list[Record]:
    updated = registry.parse_as(envelope, ItemUpdated)
    poll_id = f"{updated.item.id}:{_stamp(envelope.time)}"
    changes = {name: change.model_dump(mode="json") for name, change in updated.changes.items()}
    visible = {name: change for name, change in changes.items() if change["client_visible"]}
    at = {"updated_at": _stamp(envelope.time)}
    record = _record("item_updated", poll_id, updated.item, {**at, "changes": changes})
    client = {**record.staff, "changes": visible}
    # A change of client-hidden fields only is nothing a client may hear of.
    return [_with_client(record, client if visible else None)]


def _with_client(record: Record, client: dict[str, Any] | None) -> Record:
    return Record(
        record.trigger,
        record.poll_id,
        record.staff,
        client,
        record.item_id,
        record.project_id,
        record.type_id,
    )


def _status_changed(envelope: Envelope) -> list[Record]:
    moved = registry.parse_as(envelope, ItemStatusChanged)
    poll_id = f"{moved.item.id}:{_stamp(envelope.time)}"
    extra = {
        "from_status_id": str(moved.from_status_id),
        "from_category": moved.from_category,
        "to_status_id": str(moved.to_status_id),
        "to_category": moved.to_category,
        "changed_at": _stamp(envelope.time),
    }
    return [_record("status_changed", poll_id, moved.item, extra)]


def _comment(added: CommentAdded, envelope: Envelope) -> dict[str, Any]:
    return {
        "comment_id": str(added.comment_id),
        "author_id": None if added.author_id is None else str(added.author_id),
        "visibility": added.visibility,
        "channel": added.channel,
        "body": added.body,
        "commented_at": _stamp(envelope.time),
    }


def _comment_added(envelope: Envelope) -> list[Record]:
    added = registry.parse_as(envelope, CommentAdded)
    poll_id = str(added.comment_id)
    extra = _comment(added, envelope)
    staff = _record("comment_added_staff", poll_id, added.item, extra)
    if added.visibility == "private":
        return [_with_client(staff, None)]
    return [_record("comment_added", poll_id, added.item, extra), staff]


def _item_assigned(envelope: Envelope) -> list[Record]:
    assigned = registry.parse_as(envelope, ItemAssigned)
    poll_id = f"{assigned.item.id}:{_stamp(envelope.time)}"
    extra = {
        "added_user_ids": [str(u) for u in assigned.added_user_ids],
        "removed_user_ids": [str(u) for u in assigned.removed_user_ids],
        "added_team_ids": [str(t) for t in assigned.added_team_ids],
        "removed_team_ids": [str(t) for t in assigned.removed_team_ids],
        "assigned_at": _stamp(envelope.time),
    }
    return [_record("item_assigned", poll_id, assigned.item, extra)]


def _time_logged(envelope: Envelope) -> list[Record]:
    logged = registry.parse_as(envelope, TimeLogged)
    entry = {
        "id": str(logged.entry_id),
        "entry_id": str(logged.entry_id),
        "item_id": str(logged.item_id),
        "user_id": str(logged.user_id),
        "minutes": logged.minutes,
        "worked_on": logged.worked_on.isoformat(),
        "billable": logged.billable,
        "percent_complete": logged.percent_complete,
        "logged_at": _stamp(envelope.time),
    }
    # Billing details are staff matters: a client-safe shape says only that work happened.
    client = {k: v for k, v in entry.items() if k != "billable"}
    return [Record("time_logged", str(logged.entry_id), entry, client, item_id=str(logged.item_id))]


def _sla_breached(envelope: Envelope) -> list[Record]:
    breached = registry.parse_as(envelope, SlaBreached)
    poll_id = (
        f"{breached.item.id}:{breached.policy_id}:{breached.target}:{_stamp(breached.breached_at)}"
    )
    extra = {
        "policy_id": str(breached.policy_id),
        "policy_name": breached.policy_name,
        "target": breached.target,
        "due_at": _stamp(breached.due_at),
        "breached_at": _stamp(breached.breached_at),
    }
    record = _record("sla_breached", poll_id, breached.item, extra)
    return [_with_client(record, None)]  # promises kept or missed are an internal matter


def _client_created(envelope: Envelope) -> list[Record]:
    created = registry.parse_as(envelope, UserCreated)
    if created.kind != "client":
        return []
    client = {
        "id": str(created.user_id),
        "user_id": str(created.user_id),
        "email": created.email,
        "display_name": created.display_name,
        "client_organisation_id": (
            None if created.client_organisation_id is None else str(created.client_organisation_id)
        ),
        "created_at": _stamp(envelope.time),
    }
    return [Record("client_created", str(created.user_id), client, None)]


TRIGGERS: Mapping[str, Trigger] = {
    t.key: t
    for t in (
        Trigger("item_created", "Item created", "tickets.item.created.v1", _item_created),
        Trigger("item_updated", "Item updated", "tickets.item.updated.v1", _item_updated),
        Trigger(
            "status_changed", "Status changed", "tickets.item.status_changed.v1", _status_changed
        ),
        Trigger("comment_added", "Public reply added", "tickets.comment.added.v1", _comment_added),
        Trigger(
            "comment_added_staff",
            "Comment or private note added (staff)",
            "tickets.comment.added.v1",
            _comment_added,
            staff_only=True,
        ),
        Trigger("item_assigned", "Item assigned", "tickets.item.assigned.v1", _item_assigned),
        Trigger("time_logged", "Time logged", "timetracking.time.logged.v1", _time_logged),
        Trigger("sla_breached", "SLA breached", "automation.sla.breached.v1", _sla_breached),
        Trigger(
            "client_created",
            "Client created",
            "identity.user.created.v1",
            _client_created,
            staff_only=True,
        ),
    )
}

BUILDERS: Mapping[str, Callable[[Envelope], list[Record]]] = {
    t.event_type: t.build for t in TRIGGERS.values()
}
"""Event type → builder (the comment builder yields both comment triggers at once)."""
