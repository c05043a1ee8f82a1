"""Queries of calendars, SLA policies and the items' SLA clocks."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.automation.models import Calendar, Clock, Policy


async def calendar(session: AsyncSession, workspace_id: str, calendar_id: str) -> Calendar | None:
    row = await session.get(Calendar, calendar_id)
    return row if row is not None and row.workspace_id == workspace_id else None


async def calendars(session: AsyncSession, workspace_id: str) -> list[Calendar]:
    return list(
        await session.scalars(
            select(Calendar).where(Calendar.workspace_id == workspace_id).order_by(Calendar.name)
        )
    )


async def policy(session: AsyncSession, workspace_id: str, policy_id: str) -> Policy | None:
    row = await session.get(Policy, policy_id)
    return row if row is not None and row.workspace_id == workspace_id else None


async def policies(session: AsyncSession, workspace_id: str, *, enabled_only: bool) -> list[Policy]:
    query = select(Policy).where(Policy.workspace_id == workspace_id)
    if enabled_only:
        query = query.where(Policy.enabled.is_(True))
    return list(await session.scalars(query.order_by(Policy.position, Policy.id)))


async def policies_on(session: AsyncSession, workspace_id: str, calendar_id: str) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Policy)
            .where(Policy.workspace_id == workspace_id, Policy.calendar_id == calendar_id)
        )
        or 0
    )


async def next_position(session: AsyncSession, workspace_id: str) -> int:
    highest = await session.scalar(
        select(func.max(Policy.position)).where(Policy.workspace_id == workspace_id)
    )
    return 0 if highest is None else int(highest) + 1


async def clocks(session: AsyncSession, workspace_id: str, item_id: str) -> list[Clock]:
    return list(
        await session.scalars(
            select(Clock)
            .where(Clock.workspace_id == workspace_id, Clock.item_id == item_id)
            .order_by(Clock.target)
        )
    )


async def clock(session: AsyncSession, item_id: str, target: str) -> Clock | None:
    return await session.get(Clock, (item_id, target))


async def drop_clocks(session: AsyncSession, item_id: str, keep: list[str]) -> None:
    statement = delete(Clock).where(Clock.item_id == item_id)
    if keep:
        statement = statement.where(Clock.target.not_in(keep))
    await session.execute(statement)
