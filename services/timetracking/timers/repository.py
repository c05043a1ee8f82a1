"""Queries on running timers. The primary key (workspace, person) is what keeps a person to
one running timer; these queries lock that row, never read-then-write it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.timetracking.models import RunningTimer, TimeEntry, WorkspacePolicy


async def running(
    session: AsyncSession, workspace_id: str, user_id: str, *, lock: bool = False
) -> RunningTimer | None:
    """`lock` holds the person's timer row until the transaction ends, so a concurrent start,
    stop or sweep of the same timer waits for this one and then sees its outcome."""
    statement = select(RunningTimer).where(
        RunningTimer.workspace_id == workspace_id, RunningTimer.user_id == user_id
    )
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(statement)


async def claim(session: AsyncSession, row: Mapping[str, Any]) -> bool:
    """Insert the person's timer unless they already have one: INSERT … ON CONFLICT DO
    NOTHING. When a concurrent transaction holds an uncommitted insert for the same person,
    PostgreSQL waits for it; False means that other timer won (and is committed by now)."""
    if session.get_bind().dialect.name == "postgresql":
        pg = postgresql.insert(RunningTimer).values(dict(row)).on_conflict_do_nothing()
        result = await session.execute(pg.returning(RunningTimer.timer_id))
    else:
        lite = sqlite.insert(RunningTimer).values(dict(row)).on_conflict_do_nothing()
        result = await session.execute(lite.returning(RunningTimer.timer_id))
    return result.scalar_one_or_none() is not None


async def remove(session: AsyncSession, workspace_id: str, user_id: str) -> bool:
    result = await session.execute(
        delete(RunningTimer).where(
            RunningTimer.workspace_id == workspace_id, RunningTimer.user_id == user_id
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def overdue(
    session: AsyncSession, *, moment: datetime, default_minutes: int, limit: int
) -> list[RunningTimer]:
    """Timers of any workspace running longer than their workspace's limit, locked `SKIP
    LOCKED`: several processes sweeping at once each take different timers, and a timer its
    owner is stopping right now is left to that stop.

    Portable SQL (no interval arithmetic on columns): one cutoff per distinct limit in use,
    each matched against the workspace's limit (or the default where none is set).
    """
    limits = set(await session.scalars(select(WorkspacePolicy.timer_flag_after_minutes).distinct()))
    limits.add(default_minutes)
    limit_of_workspace = func.coalesce(
        select(WorkspacePolicy.timer_flag_after_minutes)
        .where(WorkspacePolicy.workspace_id == RunningTimer.workspace_id)
        .scalar_subquery(),
        default_minutes,
    )
    over = or_(
        *(
            and_(
                limit_of_workspace == minutes,
                RunningTimer.started_at < moment - timedelta(minutes=minutes),
            )
            for minutes in sorted(limits)
        )
    )
    statement = (
        select(RunningTimer)
        .where(over)
        .order_by(RunningTimer.started_at)
        .limit(limit)
        .with_for_update(skip_locked=True, of=RunningTimer)
        .execution_options(populate_existing=True)
    )
    return list(await session.scalars(statement))


async def latest_end(session: AsyncSession, workspace_id: str, user_id: str) -> datetime | None:
    """When the person's most recent timed work (an entry with an end) ended."""
    found: datetime | None = await session.scalar(
        select(func.max(TimeEntry.ended_at)).where(
            TimeEntry.workspace_id == workspace_id,
            TimeEntry.user_id == user_id,
            TimeEntry.deleted_at.is_(None),
        )
    )
    return found
