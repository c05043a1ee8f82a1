"""Queries of the trigger store."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.integrations.models import TriggerEvent


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
