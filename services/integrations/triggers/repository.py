"""Queries of the trigger store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kit.db.tables import table_of
from services.integrations.models import TriggerEvent

_STORE = insert(table_of(TriggerEvent))


async def store(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Trigger records as rows in one statement (no ORM objects: one or more per event)."""
    if rows:
        await session.execute(_STORE, list(rows))


async def project_of_item(session: AsyncSession, workspace_id: str, item_id: str) -> str | None:
    """The item's project as the newest stored item event tells it (for time logged, whose
    event names only the item)."""
    result = await session.execute(
        select(TriggerEvent.project_id)
        .where(
            TriggerEvent.workspace_id == workspace_id,
            TriggerEvent.item_id == item_id,
            TriggerEvent.project_id.is_not(None),
        )
        .order_by(TriggerEvent.seq.desc())
        .limit(1)
    )
    return result.scalar_one_or_none()


async def newest(
    session: AsyncSession,
    workspace_id: str,
    trigger: str,
    *,
    visible: ColumnElement[bool],
    project_id: str | None,
    type_id: str | None,
    before: int | None,
    limit: int,
) -> list[TriggerEvent]:
    statement = select(TriggerEvent).where(
        TriggerEvent.workspace_id == workspace_id, TriggerEvent.trigger == trigger, visible
    )
    if project_id is not None:
        statement = statement.where(TriggerEvent.project_id == project_id)
    if type_id is not None:
        statement = statement.where(TriggerEvent.type_id == type_id)
    if before is not None:
        statement = statement.where(TriggerEvent.seq < before)
    result = await session.execute(statement.order_by(TriggerEvent.seq.desc()).limit(limit))
    return list(result.scalars())
