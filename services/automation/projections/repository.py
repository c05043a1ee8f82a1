"""Reads and writes of the automation service's projections of items, types, people, teams."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.automation.models import ItemHistory, ItemView, Person, Team, TypeView

OPEN = ("new", "open", "in_progress", "waiting")


async def item(session: AsyncSession, workspace_id: str, item_id: str) -> ItemView | None:
    row = await session.get(ItemView, item_id)
    return row if row is not None and row.workspace_id == workspace_id else None


def open_items_query(workspace_id: str) -> Select[ItemView]:
    return select(ItemView).where(
        ItemView.workspace_id == workspace_id,
        ItemView.deleted.is_(False),
        ItemView.status_category.in_(OPEN),
    )


async def open_items(
    session: AsyncSession,
    workspace_id: str,
    *,
    due_on: str | None = None,
    item_ids: Sequence[str] = (),
    after_id: str | None = None,
    limit: int = 500,
) -> list[ItemView]:
    query = open_items_query(workspace_id)
    if due_on is not None:
        query = query.where(ItemView.due_on == due_on)
    if item_ids:
        query = query.where(ItemView.id.in_(list(item_ids)))
    if after_id is not None:
        query = query.where(ItemView.id > after_id)
    return list(await session.scalars(query.order_by(ItemView.id).limit(limit)))


async def add_history(session: AsyncSession, row: dict[str, Any]) -> None:
    """Once per event: a redelivered or replayed event adds nothing."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(insert(ItemHistory).values(**row).on_conflict_do_nothing())


async def history(session: AsyncSession, workspace_id: str, item_id: str) -> list[ItemHistory]:
    return list(
        await session.scalars(
            select(ItemHistory)
            .where(ItemHistory.workspace_id == workspace_id, ItemHistory.item_id == item_id)
            .order_by(ItemHistory.at, ItemHistory.event_id)
        )
    )


async def item_type(session: AsyncSession, workspace_id: str, type_id: str) -> TypeView | None:
    row = await session.get(TypeView, type_id)
    return row if row is not None and row.workspace_id == workspace_id else None


async def person(session: AsyncSession, workspace_id: str, user_id: str) -> Person | None:
    row = await session.get(Person, user_id)
    return row if row is not None and row.workspace_id == workspace_id else None


async def team(session: AsyncSession, workspace_id: str, team_id: str) -> Team | None:
    row = await session.get(Team, team_id)
    return row if row is not None and row.workspace_id == workspace_id else None


async def teams_of(session: AsyncSession, workspace_id: str, user_id: str) -> frozenset[str]:
    """A workspace has tens of teams: reading them beats a JSON containment query that only
    PostgreSQL could index."""
    rows = await session.scalars(
        select(Team).where(Team.workspace_id == workspace_id, Team.deleted.is_(False))
    )
    return frozenset(t.id for t in rows if user_id in t.member_ids)


async def count_items(session: AsyncSession, workspace_id: str) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(ItemView).where(ItemView.workspace_id == workspace_id)
        )
        or 0
    )
