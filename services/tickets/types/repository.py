"""Queries on item types, their statuses, transitions and fields, and the items a workflow
change moves; every one is scoped to a workspace."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.tickets.models import (
    Activity,
    Assignee,
    CustomField,
    Follower,
    Item,
    ItemType,
    Status,
    Transition,
    table_of,
)


async def item_type(
    session: AsyncSession,
    workspace_id: str,
    type_id: str,
    *,
    lock: bool = False,
    share: bool = False,
) -> ItemType | None:
    """`lock` (writers of the type) and `share` (writers of items of the type) conflict, so an
    item is never created in a status a concurrent workflow change is removing."""
    query = select(ItemType).where(ItemType.workspace_id == workspace_id, ItemType.id == type_id)
    if lock:
        query = query.with_for_update()
    elif share:
        query = query.with_for_update(read=True)
    return (await session.execute(query)).scalar_one_or_none()


TYPES = table_of(ItemType)
_BY_ID = select(TYPES).where(
    TYPES.c.workspace_id == bindparam("workspace_id"), TYPES.c.id == bindparam("type_id")
)
_FIRST_OF_KIND = (
    select(TYPES)
    .where(
        TYPES.c.workspace_id == bindparam("workspace_id"),
        TYPES.c.kind == bindparam("kind"),
        TYPES.c.archived_at.is_(None),
    )
    .order_by(TYPES.c.created_at, TYPES.c.id)
    .limit(1)
)
# Built once: the hot paths (every item created, every list page) skip rebuilding them.
_HEADS = {
    (False, False): _BY_ID,
    (False, True): _BY_ID.with_for_update(read=True),
    (True, False): _FIRST_OF_KIND,
    (True, True): _FIRST_OF_KIND.with_for_update(read=True),
}


async def type_head(
    session: AsyncSession,
    workspace_id: str,
    *,
    type_id: str | None = None,
    kind: str | None = None,
    share: bool = False,
) -> Row[Any] | None:
    """The type's own row (with its revision), by id or as the oldest active type of `kind`;
    `share` as in `item_type`."""
    params = (
        {"workspace_id": workspace_id, "type_id": type_id}
        if type_id is not None
        else {"workspace_id": workspace_id, "kind": kind}
    )
    result = await session.execute(_HEADS[(type_id is None, share)], params)
    return result.first()


async def item_type_named(session: AsyncSession, workspace_id: str, name: str) -> ItemType | None:
    """Case-insensitively: "Ticket" and "ticket" would confuse everyone picking a type."""
    result = await session.execute(
        select(ItemType).where(
            ItemType.workspace_id == workspace_id, func.lower(ItemType.name) == name.lower()
        )
    )
    return result.scalars().first()


async def item_types(
    session: AsyncSession, workspace_id: str, *, include_archived: bool
) -> list[ItemType]:
    query = select(ItemType).where(ItemType.workspace_id == workspace_id)
    if not include_archived:
        query = query.where(ItemType.archived_at.is_(None))
    result = await session.execute(query.order_by(ItemType.created_at, ItemType.id))
    return list(result.scalars())


async def first_type_of_kind(
    session: AsyncSession, workspace_id: str, kind: str
) -> ItemType | None:
    result = await session.execute(
        select(ItemType)
        .where(
            ItemType.workspace_id == workspace_id,
            ItemType.kind == kind,
            ItemType.archived_at.is_(None),
        )
        .order_by(ItemType.created_at, ItemType.id)
        .limit(1)
    )
    return result.scalar_one_or_none()


async def statuses(
    session: AsyncSession, workspace_id: str, type_ids: Collection[str], *, include_archived: bool
) -> list[Status]:
    query = select(Status).where(
        Status.workspace_id == workspace_id, Status.type_id.in_(sorted(type_ids))
    )
    if not include_archived:
        query = query.where(Status.archived_at.is_(None))
    result = await session.execute(query.order_by(Status.type_id, Status.position, Status.id))
    return list(result.scalars())


async def transitions(
    session: AsyncSession, workspace_id: str, type_ids: Collection[str]
) -> list[Transition]:
    result = await session.execute(
        select(Transition).where(
            Transition.workspace_id == workspace_id, Transition.type_id.in_(sorted(type_ids))
        )
    )
    return list(result.scalars())


async def replace_transitions(
    session: AsyncSession, workspace_id: str, type_id: str, pairs: Collection[tuple[str, str]]
) -> None:
    await session.execute(
        delete(Transition).where(
            Transition.workspace_id == workspace_id, Transition.type_id == type_id
        )
    )
    if pairs:
        await session.execute(
            insert(Transition),
            [
                {
                    "type_id": type_id,
                    "from_status_id": source,
                    "to_status_id": target,
                    "workspace_id": workspace_id,
                }
                for source, target in sorted(pairs)
            ],
        )


async def fields(
    session: AsyncSession, workspace_id: str, type_ids: Collection[str], *, include_archived: bool
) -> list[CustomField]:
    query = select(CustomField).where(
        CustomField.workspace_id == workspace_id, CustomField.type_id.in_(sorted(type_ids))
    )
    if not include_archived:
        query = query.where(CustomField.archived_at.is_(None))
    result = await session.execute(
        query.order_by(CustomField.type_id, CustomField.position, CustomField.key)
    )
    return list(result.scalars())


async def items_per_status(
    session: AsyncSession, workspace_id: str, type_id: str, status_ids: Collection[str]
) -> dict[str, int]:
    """How many items (deleted ones included: they can be restored) sit in each status."""
    if not status_ids:
        return {}
    result = await session.execute(
        select(Item.status_id, func.count())
        .where(
            Item.workspace_id == workspace_id,
            Item.type_id == type_id,
            Item.status_id.in_(sorted(status_ids)),
        )
        .group_by(Item.status_id)
    )
    return {status_id: count for status_id, count in result.all()}


async def recategorise_items(
    session: AsyncSession, workspace_id: str, type_id: str, status_id: str, category: str
) -> None:
    """Items keep their status's category beside it (lists filter on it): follow a change."""
    await session.execute(
        update(Item)
        .where(
            Item.workspace_id == workspace_id,
            Item.type_id == type_id,
            Item.status_id == status_id,
        )
        .values(status_category=category)
    )


async def move_items(
    session: AsyncSession,
    workspace_id: str,
    type_id: str,
    from_status_id: str,
    to_status_id: str,
    category: str,
    at: datetime,
) -> list[Item]:
    """Move every item of a status to another; returns the live (not deleted) ones moved."""
    moved = await session.execute(
        select(Item).where(
            Item.workspace_id == workspace_id,
            Item.type_id == type_id,
            Item.status_id == from_status_id,
        )
    )
    rows = list(moved.scalars())
    await session.execute(
        update(Item)
        .where(
            Item.workspace_id == workspace_id,
            Item.type_id == type_id,
            Item.status_id == from_status_id,
        )
        .values(status_id=to_status_id, status_category=category, updated_at=at)
        .execution_options(synchronize_session="fetch")
    )
    return [row for row in rows if row.deleted_at is None]


async def add_activity(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(Activity), list(rows))


async def assignees_of(
    session: AsyncSession, workspace_id: str, item_ids: Collection[str]
) -> list[Assignee]:
    if not item_ids:
        return []
    result = await session.execute(
        select(Assignee).where(
            Assignee.workspace_id == workspace_id, Assignee.item_id.in_(sorted(item_ids))
        )
    )
    return list(result.scalars())


async def followers_of(
    session: AsyncSession, workspace_id: str, item_ids: Collection[str]
) -> list[Follower]:
    if not item_ids:
        return []
    result = await session.execute(
        select(Follower).where(
            Follower.workspace_id == workspace_id, Follower.item_id.in_(sorted(item_ids))
        )
    )
    return list(result.scalars())
