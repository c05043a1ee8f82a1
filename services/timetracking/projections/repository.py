"""Reads and writes of the projections. Every write is one INSERT … ON CONFLICT statement, so
two consumers handling events of the same row never race a read-then-write, and every
conflict update is fenced to the row's own workspace: an id already known in another
workspace is never rewritten by this one's events."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.base import ReadOnlyColumnCollection
from sqlalchemy.sql.elements import KeyedColumnElement

from services.timetracking.models import ItemRef, OrganisationRef, PersonRef, ProjectRef

Excluded = ReadOnlyColumnCollection[str, KeyedColumnElement[Any]]
Ref = ItemRef | ProjectRef | OrganisationRef | PersonRef
SetClause = Callable[[Excluded], Mapping[str, Any]]


async def item(session: AsyncSession, workspace_id: str, item_id: str) -> ItemRef | None:
    """The item as last announced, deleted ones included (callers decide what deleted means)."""
    return await session.scalar(
        select(ItemRef).where(ItemRef.workspace_id == workspace_id, ItemRef.id == item_id)
    )


async def project(session: AsyncSession, workspace_id: str, project_id: str) -> ProjectRef | None:
    return await session.scalar(
        select(ProjectRef).where(
            ProjectRef.workspace_id == workspace_id, ProjectRef.id == project_id
        )
    )


async def organisation(
    session: AsyncSession, workspace_id: str, organisation_id: str
) -> OrganisationRef | None:
    return await session.scalar(
        select(OrganisationRef).where(
            OrganisationRef.workspace_id == workspace_id, OrganisationRef.id == organisation_id
        )
    )


async def person(session: AsyncSession, workspace_id: str, user_id: str) -> PersonRef | None:
    return await session.scalar(
        select(PersonRef).where(PersonRef.workspace_id == workspace_id, PersonRef.id == user_id)
    )


# --- writes ---------------------------------------------------------------------------------


async def insert_if_absent(session: AsyncSession, model: type[Ref], row: Mapping[str, Any]) -> None:
    """For creations: whatever the row already holds came from a later event."""
    await _upsert(session, model, row, None)


async def upsert(
    session: AsyncSession, model: type[Ref], row: Mapping[str, Any], set_: SetClause
) -> None:
    """Insert `row`, or on an existing row of the same workspace apply `set_` (built from the
    incoming values, `excluded`)."""
    await _upsert(session, model, row, set_)


def overwrite(*names: str) -> SetClause:
    """Take the incoming value of these columns."""
    return lambda excluded: {name: excluded[name] for name in names}


def fill_blank(model: type[Ref], *names: str) -> SetClause:
    """Take the incoming text only where the row holds none yet: a creation arriving after a
    change must not undo the change (creations come first in the producer's history)."""

    def clause(excluded: Excluded) -> dict[str, Any]:
        return {
            name: case((getattr(model, name) == "", excluded[name]), else_=getattr(model, name))
            for name in names
        }

    return clause


def fill_null(model: type[Ref], *names: str) -> SetClause:
    """As `fill_blank`, for nullable columns."""

    def clause(excluded: Excluded) -> dict[str, Any]:
        return {name: func.coalesce(getattr(model, name), excluded[name]) for name in names}

    return clause


def combine(*clauses: SetClause) -> SetClause:
    def clause(excluded: Excluded) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for part in clauses:
            values.update(part(excluded))
        return values

    return clause


def keep_true(model: type[Ref], name: str) -> SetClause:
    """A flag that, once set, stays set (a tombstone)."""
    return lambda excluded: {name: getattr(model, name) | excluded[name]}


async def _upsert(
    session: AsyncSession, model: type[Ref], row: Mapping[str, Any], set_: SetClause | None
) -> None:
    if session.get_bind().dialect.name == "postgresql":
        pg = postgresql.insert(model).values(dict(row))
        if set_ is None:
            await session.execute(pg.on_conflict_do_nothing(index_elements=["id"]))
            return
        await session.execute(
            pg.on_conflict_do_update(
                index_elements=["id"],
                set_=dict(set_(pg.excluded)),
                where=model.workspace_id == pg.excluded.workspace_id,
            )
        )
        return
    lite = sqlite.insert(model).values(dict(row))
    if set_ is None:
        await session.execute(lite.on_conflict_do_nothing(index_elements=["id"]))
        return
    await session.execute(
        lite.on_conflict_do_update(
            index_elements=["id"],
            set_=dict(set_(lite.excluded)),
            where=model.workspace_id == lite.excluded.workspace_id,
        )
    )
