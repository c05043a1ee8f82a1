"""Queries on items, their assignees, followers and numbering."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.tickets.items.schemas import ItemFilter
from services.tickets.models import (
    Activity,
    Assignee,
    Folder,
    Follower,
    Item,
    ItemCounter,
    Person,
    Project,
    ProjectFolder,
    table_of,
)

# Built once: the statements every item read or write runs.
_ITEM = select(Item).where(
    Item.workspace_id == bindparam("workspace_id"),
    Item.id == bindparam("item_id"),
    Item.deleted_at.is_(None),
)
_PERSON = select(Person).where(
    Person.workspace_id == bindparam("workspace_id"), Person.id == bindparam("user_id")
)

_PROJECT_AND_PERSON = (
    select(Project, Person)
    .select_from(Project)
    .outerjoin(
        Person,
        and_(Person.workspace_id == bindparam("workspace_id"), Person.id == bindparam("user_id")),
    )
    .where(Project.workspace_id == bindparam("workspace_id"), Project.id == bindparam("project_id"))
)


async def item(session: AsyncSession, workspace_id: str, item_id: str) -> Item | None:
    result = await session.execute(_ITEM, {"workspace_id": workspace_id, "item_id": item_id})
    return result.scalar_one_or_none()


async def item_by_number(session: AsyncSession, workspace_id: str, number: int) -> Item | None:
    result = await session.execute(
        select(Item).where(
            Item.workspace_id == workspace_id, Item.number == number, Item.deleted_at.is_(None)
        )
    )
    return result.scalar_one_or_none()


async def project(session: AsyncSession, workspace_id: str, project_id: str) -> Project | None:
    result = await session.execute(
        select(Project).where(Project.workspace_id == workspace_id, Project.id == project_id)
    )
    return result.scalar_one_or_none()


async def project_and_person(
    session: AsyncSession, workspace_id: str, project_id: str, user_id: str
) -> tuple[Project | None, Person | None]:
    """The project and a user of the workspace, in one round trip (a new item needs both)."""
    result = await session.execute(
        _PROJECT_AND_PERSON,
        {"workspace_id": workspace_id, "project_id": project_id, "user_id": user_id},
    )
    found = result.first()
    return (None, None) if found is None else (found[0], found[1])


async def person(session: AsyncSession, workspace_id: str, user_id: str) -> Person | None:
    result = await session.execute(_PERSON, {"workspace_id": workspace_id, "user_id": user_id})
    return result.scalar_one_or_none()


_COUNTERS = table_of(ItemCounter)
_BUMP = (
    update(_COUNTERS)
    .where(_COUNTERS.c.workspace_id == bindparam("counter_workspace"))
    .values(next_number=_COUNTERS.c.next_number + 1)
    .returning(_COUNTERS.c.next_number)
)


async def next_number(session: AsyncSession, workspace_id: str) -> int:
    """The workspace's next human item number, atomically (row lock on the counter)."""
    result = await session.execute(_BUMP, {"counter_workspace": workspace_id})
    bumped = result.scalar_one_or_none()
    if bumped is not None:
        return int(bumped) - 1
    try:
        async with session.begin_nested():
            await session.execute(
                insert(ItemCounter).values(workspace_id=workspace_id, next_number=1001)
            )
    except IntegrityError:
        return await next_number(session, workspace_id)  # another writer created it first
    return 1000


_INSERT_ITEM = insert(table_of(Item))
_INSERT_ASSIGNEES = insert(table_of(Assignee))
_INSERT_FOLLOWERS = insert(table_of(Follower))


async def insert_item(
    session: AsyncSession,
    values: dict[str, Any],
    assignees: Sequence[tuple[str, str]],
    followers: Sequence[str],
) -> None:
    """A new item with its assignees and followers, written at once (no unit-of-work flush:
    nothing of them is in the session to order or to read back)."""
    await session.execute(_INSERT_ITEM, values)
    item_id, workspace_id = values["id"], values["workspace_id"]
    if assignees:
        await session.execute(
            _INSERT_ASSIGNEES,
            [
                {
                    "item_id": item_id,
                    "assignee_type": kind,
                    "assignee_id": ident,
                    "workspace_id": workspace_id,
                }
                for kind, ident in assignees
            ],
        )
    if followers:
        await session.execute(
            _INSERT_FOLLOWERS,
            [
                {"item_id": item_id, "user_id": user_id, "workspace_id": workspace_id}
                for user_id in followers
            ],
        )


_INSERT_ACTIVITY = insert(table_of(Activity))


async def add_activity(session: AsyncSession, entry: dict[str, Any]) -> None:
    await session.execute(_INSERT_ACTIVITY, entry)


async def assignees(session: AsyncSession, workspace_id: str, item_id: str) -> list[Assignee]:
    result = await session.execute(
        select(Assignee)
        .where(Assignee.workspace_id == workspace_id, Assignee.item_id == item_id)
        .order_by(Assignee.assignee_type, Assignee.assignee_id)
    )
    return list(result.scalars())


async def replace_assignees(
    session: AsyncSession, workspace_id: str, item_id: str, wanted: list[tuple[str, str]]
) -> None:
    await session.execute(
        delete(Assignee).where(Assignee.workspace_id == workspace_id, Assignee.item_id == item_id)
    )
    for assignee_type, assignee_id in wanted:
        session.add(
            Assignee(
                item_id=item_id,
                assignee_type=assignee_type,
                assignee_id=assignee_id,
                workspace_id=workspace_id,
            )
        )


async def follower_ids(session: AsyncSession, workspace_id: str, item_id: str) -> list[str]:
    result = await session.execute(
        select(Follower.user_id)
        .where(Follower.workspace_id == workspace_id, Follower.item_id == item_id)
        .order_by(Follower.user_id)
    )
    return list(result.scalars())


async def add_follower(
    session: AsyncSession, workspace_id: str, item_id: str, user_id: str
) -> bool:
    existing = await session.get(Follower, (item_id, user_id))
    if existing is not None:
        return False
    session.add(Follower(item_id=item_id, user_id=user_id, workspace_id=workspace_id))
    await session.flush()
    return True


async def remove_follower(
    session: AsyncSession, workspace_id: str, item_id: str, user_id: str
) -> bool:
    result = await session.execute(
        delete(Follower).where(
            Follower.workspace_id == workspace_id,
            Follower.item_id == item_id,
            Follower.user_id == user_id,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# --- lists -------------------------------------------------------------------------------

PRIORITY_RANK = {"low": 0, "normal": 1, "high": 2, "urgent": 3}
FAR_FUTURE = date(9999, 12, 31)


async def folder_subtree(
    session: AsyncSession, workspace_id: str, folder_ids: list[str]
) -> list[str]:
    """The folders and every folder below them (a recursive query, one round trip)."""
    tree = (
        select(Folder.id)
        .where(Folder.workspace_id == workspace_id, Folder.id.in_(folder_ids))
        .cte("subtree", recursive=True)
    )
    tree = tree.union_all(
        select(Folder.id).where(Folder.workspace_id == workspace_id, Folder.parent_id == tree.c.id)
    )
    return list((await session.execute(select(tree.c.id))).scalars())


def filter_clauses(
    workspace_id: str, wanted: ItemFilter, folder_ids: list[str]
) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = [
        Item.workspace_id == workspace_id,
        Item.deleted_at.is_(None),
    ]
    simple = (
        (Item.project_id, wanted.project_id),
        (Item.type_id, wanted.type_id),
        (Item.status_id, wanted.status_id),
        (Item.status_category, wanted.status_category),
        (Item.requester_id, wanted.requester_id),
        (Item.requester_organisation_id, wanted.organisation_id),
        (Item.priority, wanted.priority),
    )
    for column, values in simple:
        if values:
            clauses.append(column.in_(values))
    if wanted.folder_id:
        clauses.append(
            Item.project_id.in_(
                select(ProjectFolder.project_id).where(
                    ProjectFolder.workspace_id == workspace_id,
                    ProjectFolder.folder_id.in_(folder_ids),
                )
            )
        )
    if wanted.assignee_id:
        clauses.append(
            Item.id.in_(
                select(Assignee.item_id).where(
                    Assignee.workspace_id == workspace_id,
                    Assignee.assignee_id.in_(wanted.assignee_id),
                )
            )
        )
    if wanted.due_from:
        clauses.append(Item.due_date >= wanted.due_from)
    if wanted.due_to:
        clauses.append(Item.due_date <= wanted.due_to)
    if wanted.q:
        text = wanted.q.strip()
        if text.lstrip("#").isdigit():
            clauses.append(Item.number == int(text.lstrip("#")))
        else:
            for word in text.split():
                escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                clauses.append(Item.title.ilike(f"%{escaped}%", escape="\\"))
    for key, value in wanted.custom.items():
        clauses.append(Item.custom_values[key].as_string() == value)
    return clauses


def sort_column(key: str) -> ColumnElement[Any]:
    if key == "due_date":
        return func.coalesce(Item.due_date, FAR_FUTURE)
    if key == "priority":
        return case(PRIORITY_RANK, value=Item.priority, else_=1)
    column: ColumnElement[Any] = getattr(Item, key)
    return column


async def page(
    session: AsyncSession,
    clauses: list[ColumnElement[bool]],
    *,
    sort: str,
    descending: bool,
    after: tuple[Any, str] | None,
    limit: int,
) -> list[Item]:
    """Keyset pagination on (sort value, id): stable under inserts, no OFFSET scans."""
    key = sort_column(sort)
    query = select(Item).where(*clauses)
    if after is not None:
        value, last_id = after
        if descending:
            query = query.where(or_(key < value, and_(key == value, Item.id < last_id)))
        else:
            query = query.where(or_(key > value, and_(key == value, Item.id > last_id)))
    order = (key.desc(), Item.id.desc()) if descending else (key.asc(), Item.id.asc())
    result = await session.execute(query.order_by(*order).limit(limit))
    return list(result.scalars())


async def status_counts(
    session: AsyncSession, clauses: list[ColumnElement[bool]]
) -> list[tuple[str, str, int]]:
    result = await session.execute(
        select(Item.status_id, Item.status_category, func.count())
        .where(*clauses)
        .group_by(Item.status_id, Item.status_category)
    )
    return [(row[0], row[1], int(row[2])) for row in result.all()]


def followed_by(workspace_id: str, user_id: str) -> ColumnElement[bool]:
    return Item.id.in_(
        select(Follower.item_id).where(
            Follower.workspace_id == workspace_id, Follower.user_id == user_id
        )
    )


async def assignees_of(
    session: AsyncSession, workspace_id: str, item_ids: list[str]
) -> dict[str, list[Assignee]]:
    found: dict[str, list[Assignee]] = {}
    if item_ids:
        result = await session.execute(
            select(Assignee)
            .where(Assignee.workspace_id == workspace_id, Assignee.item_id.in_(item_ids))
            .order_by(Assignee.assignee_type, Assignee.assignee_id)
        )
        for row in result.scalars():
            found.setdefault(row.item_id, []).append(row)
    return found


async def followers_of(
    session: AsyncSession, workspace_id: str, item_ids: list[str]
) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    if item_ids:
        result = await session.execute(
            select(Follower.item_id, Follower.user_id)
            .where(Follower.workspace_id == workspace_id, Follower.item_id.in_(item_ids))
            .order_by(Follower.user_id)
        )
        for item_id, user_id in result.all():
            found.setdefault(item_id, []).append(user_id)
    return found
