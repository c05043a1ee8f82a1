"""Queries on the people projection; every read is scoped to a workspace."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.tickets.models import Person


async def person(session: AsyncSession, workspace_id: str, user_id: str) -> Person | None:
    result = await session.execute(
        select(Person).where(Person.workspace_id == workspace_id, Person.id == user_id)
    )
    return result.scalar_one_or_none()


async def people(
    session: AsyncSession, workspace_id: str, user_ids: Collection[str]
) -> list[Person]:
    if not user_ids:
        return []
    result = await session.execute(
        select(Person).where(Person.workspace_id == workspace_id, Person.id.in_(sorted(user_ids)))
    )
    return list(result.scalars())


async def locked_or_placeholder(session: AsyncSession, workspace_id: str, user_id: str) -> Person:
    """The person's row, locked for this transaction; a placeholder is inserted first when the
    projection has never heard of them (an update that overtook the creation).

    INSERT … ON CONFLICT DO NOTHING then SELECT … FOR UPDATE: two consumers handling events of
    the same person concurrently serialise on the row instead of racing a read-then-write.
    The placeholder is a client until told otherwise: the least trusted kind.
    """
    row: dict[str, object] = {
        "id": user_id,
        "workspace_id": workspace_id,
        "email": "",
        "display_name": "",
        "kind": "client",
        "client_organisation_id": None,
        "active": True,
        "field_times": {},
    }
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(postgresql.insert(Person).values(row).on_conflict_do_nothing())
    else:
        await session.execute(sqlite.insert(Person).values(row).on_conflict_do_nothing())
    result = await session.execute(
        select(Person)
        .where(Person.id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.scalar_one()
