"""Queries on items, their assignees, followers and numbering."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    ARRAY,
    BindParameter,
    ColumnElement,
    Select,
    String,
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

from kit.db.driver import DriverStatement
from services.tickets.items.schemas import ItemFilter
from services.tickets.models import (
    Activity,
    Assignee,
    Folder,
    Follower,
    Item,
    ItemCounter,
    ItemType,
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


class ProjectRow(NamedTuple):
    id: str
    workspace_id: str
    created_by: str | None
    archived_at: datetime | None


class TypeRow(NamedTuple):
    id: str
    workspace_id: str
    name: str
    icon: str
    kind: str
    restrict_transitions: bool
    archived_at: datetime | None
    revision: str


class NewItemContext(NamedTuple):
    project: ProjectRow
    requester_found: bool
    requester_organisation_id: str | None
    type: TypeRow


_PROJECTS, _PEOPLE, _TYPES = table_of(Project), table_of(Person), table_of(ItemType)


def _new_item_context(by_type_id: bool) -> Select[Any]:
    """The project, a user and a type of the workspace — the named one, or the oldest active of
    a kind — with the type's row share-locked (`types.repository.item_type`); plain rows, as
    nothing of them is changed."""
    workspace_id: BindParameter[str] = bindparam("workspace_id")
    if by_type_id:
        which_type = _TYPES.c.id == bindparam("type_id")
    else:
        first = _TYPES.alias("first_type")
        which_type = _TYPES.c.id == (
            select(first.c.id)
            .where(
                first.c.workspace_id == workspace_id,
                first.c.kind == bindparam("kind"),
                first.c.archived_at.is_(None),
            )
            .order_by(first.c.created_at, first.c.id)
            .limit(1)
            .scalar_subquery()
        )
    return (
        select(
            *(_PROJECTS.c[name] for name in ProjectRow._fields),
            _PEOPLE.c.id.label("person_id"),
            _PEOPLE.c.client_organisation_id,
            *(_TYPES.c[name] for name in TypeRow._fields),
        )
        .select_from(_PROJECTS)
        .join(_TYPES, and_(_TYPES.c.workspace_id == workspace_id, which_type))
        .outerjoin(
            _PEOPLE,
            and_(_PEOPLE.c.workspace_id == workspace_id, _PEOPLE.c.id == bindparam("user_id")),
        )
        .where(_PROJECTS.c.workspace_id == workspace_id, _PROJECTS.c.id == bindparam("project_id"))
        .with_for_update(read=True, of=_TYPES)
    )


_NEW_ITEM_CONTEXT = {True: _new_item_context(True), False: _new_item_context(False)}


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


async def new_item_context(
    session: AsyncSession,
    workspace_id: str,
    project_id: str,
    user_id: str,
    type_id: str | None,
    kind: str,
) -> NewItemContext | None:
    """What a new item needs to know, in one round trip: its project, its requester (whether
    such a user exists, and their organisation) and its type (`type_id`, else the oldest active
    type of `kind`). None when the workspace has no such project or type."""
    result = await session.execute(
        _NEW_ITEM_CONTEXT[type_id is not None],
        {
            "workspace_id": workspace_id,
            "project_id": project_id,
            "user_id": user_id,
            "type_id": type_id,
            "kind": kind,
        },
    )
    found = result.first()
    if found is None:
        return None
    values = tuple(found)
    projected, rest = values[: len(ProjectRow._fields)], values[len(ProjectRow._fields) :]
    return NewItemContext(
        project=ProjectRow(*projected),
        requester_found=rest[0] is not None,
        requester_organisation_id=rest[1],
        type=TypeRow(*rest[2:]),
    )


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


_ITEMS, _FOLLOWERS, _ACTIVITY = table_of(Item), table_of(Follower), table_of(Activity)
_INSERT_ITEM = insert(_ITEMS)
_INSERT_ASSIGNEES = insert(table_of(Assignee))
_INSERT_FOLLOWERS = insert(_FOLLOWERS)
_INSERT_ACTIVITY = insert(_ACTIVITY)


def _write_new_item() -> Select[Any]:
    """PostgreSQL: number, item, followers and the "created" entry in one statement.

    The number comes from the counter's row lock (`_BUMP`); the item is written only if the
    workspace has a counter (its first item creates one), and the rows that refer to the item
    only if it was written. Foreign keys are checked at the end of the statement.
    """
    bump = (
        update(_COUNTERS)
        .where(_COUNTERS.c.workspace_id == bindparam("counter_workspace"))
        .values(next_number=_COUNTERS.c.next_number + 1)
        .returning((_COUNTERS.c.next_number - 1).label("number"))
        .cte("bump")
    )
    columns = [c for c in _ITEMS.c if c.name != "number"]
    item = (
        insert(_ITEMS)
        .from_select(
            [*(c.name for c in columns), "number"],
            select(*(bindparam(f"item_{c.name}", type_=c.type) for c in columns), bump.c.number),
        )
        .returning(_ITEMS.c.id, _ITEMS.c.workspace_id, _ITEMS.c.number)
        .cte("item")
    )
    followers = insert(_FOLLOWERS).from_select(
        ["item_id", "user_id", "workspace_id"],
        select(
            item.c.id,
            func.unnest(bindparam("followers", type_=ARRAY(String))),
            item.c.workspace_id,
        ),
    )
    entry = [c for c in _ACTIVITY.c if c.name not in ("item_id", "workspace_id")]
    activity = insert(_ACTIVITY).from_select(
        [*(c.name for c in entry), "item_id", "workspace_id"],
        select(
            *(bindparam(f"activity_{c.name}", type_=c.type) for c in entry),
            item.c.id,
            item.c.workspace_id,
        ),
    )
    return select(item.c.number).add_cte(followers.cte("followers"), activity.cte("activity"))


_WRITE_NEW_ITEM = DriverStatement(_write_new_item())


async def insert_new_item(
    session: AsyncSession,
    values: dict[str, Any],
    assignees: Sequence[tuple[str, str]],
    followers: Sequence[str],
    activity: dict[str, Any],
) -> int:
    """A new item (`values` without its number) with its assignees, followers and "created"
    activity entry; returns the number it got. On PostgreSQL one statement does it (plus one
    for assignees, when there are any), elsewhere one statement per table."""
    workspace_id = values["workspace_id"]
    if session.get_bind().dialect.name == "postgresql":
        params = {f"item_{key}": value for key, value in values.items()}
        params |= {f"activity_{key}": value for key, value in activity.items()}
        params |= {"counter_workspace": workspace_id, "followers": list(followers)}
        written = await _WRITE_NEW_ITEM.scalar(session, params)
        if written is not None:
            await _insert_assignees(session, values["id"], workspace_id, assignees)
            return int(written)
    number = await next_number(session, workspace_id)  # also the first item of a workspace
    await session.execute(_INSERT_ITEM, {**values, "number": number})
    await _insert_assignees(session, values["id"], workspace_id, assignees)
    if followers:
        await session.execute(
            _INSERT_FOLLOWERS,
            [
                {"item_id": values["id"], "user_id": user_id, "workspace_id": workspace_id}
                for user_id in followers
            ],
        )
    await add_activity(session, {**activity, "item_id": values["id"], "workspace_id": workspace_id})
    return number


async def _insert_assignees(
    session: AsyncSession, item_id: str, workspace_id: str, assignees: Sequence[tuple[str, str]]
) -> None:
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
