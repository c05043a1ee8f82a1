"""The item snapshot every item event carries, built in one place."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast
from uuid import UUID

from contracts.tickets import ItemSnapshot
from services.tickets.models import Item


def _uuid(value: str | None) -> UUID | None:
    return UUID(value) if value else None


def item_snapshot(
    row: Item,
    *,
    kind: str,
    status_name: str,
    status_category: str,
    assignees: Iterable[tuple[str, str]],
    followers: Iterable[str],
) -> ItemSnapshot:
    """What consumers need to route, notify and report without calling back.

    `assignees` are (type, id) pairs, type `user` or `team`.
    """
    pairs = list(assignees)
    return ItemSnapshot(
        id=UUID(row.id),
        number=row.number,
        title=row.title,
        project_id=UUID(row.project_id),
        type_id=UUID(row.type_id),
        kind=cast(Any, kind),
        status_id=UUID(row.status_id),
        status_name=status_name,
        status_category=cast(Any, status_category),
        priority=row.priority,
        requester_id=_uuid(row.requester_id),
        requester_organisation_id=_uuid(row.requester_organisation_id),
        assignee_user_ids=sorted(UUID(i) for t, i in pairs if t == "user"),
        assignee_team_ids=sorted(UUID(i) for t, i in pairs if t == "team"),
        follower_ids=sorted(UUID(f) for f in followers),
        due_date=row.due_date.isoformat() if row.due_date else None,
        percent_complete=row.percent_complete,
        estimate_minutes=row.estimate_minutes,
    )
