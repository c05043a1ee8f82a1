"""Queries on notices. Every read is bound to a workspace and a recipient; the background
claims (push, forward) lock `SKIP LOCKED`, so several processes share the work without
doing any row twice."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from kit.db.tables import ACCESS_GRANTS
from services.notifications.models import DirectoryProject, FeedNotification

N = FeedNotification


async def add_all(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> int:
    """INSERT … ON CONFLICT (source event, recipient) DO NOTHING: a redelivered event adds
    nothing. Returns how many were new."""
    if not rows:
        return 0
    values = [dict(row) for row in rows]
    if session.get_bind().dialect.name == "postgresql":
        pg = postgresql.insert(N).values(values).on_conflict_do_nothing()
        result = await session.execute(pg.returning(N.id))
    else:
        lite = sqlite.insert(N).values(values).on_conflict_do_nothing()
        result = await session.execute(lite.returning(N.id))
    return len(result.scalars().all())


def _mine(workspace_id: str, recipient_id: str) -> ColumnElement[bool]:
    return and_(N.workspace_id == workspace_id, N.recipient_id == recipient_id, N.in_feed)


async def page(
    session: AsyncSession,
    workspace_id: str,
    recipient_id: str,
    *,
    unread_only: bool,
    before: str | None,
    limit: int,
) -> list[FeedNotification]:
    """Newest first (ids are UUIDv7, so id order is creation order)."""
    statement = select(N).where(_mine(workspace_id, recipient_id))
    if unread_only:
        statement = statement.where(N.read_at.is_(None))
    if before is not None:
        statement = statement.where(N.id < before)
    return list(await session.scalars(statement.order_by(N.id.desc()).limit(limit)))


async def after(
    session: AsyncSession, workspace_id: str, recipient_id: str, last_id: str, *, limit: int
) -> list[FeedNotification]:
    """Oldest first: what a live stream resuming after `last_id` has not seen."""
    return list(
        await session.scalars(
            select(N)
            .where(_mine(workspace_id, recipient_id), N.id > last_id)
            .order_by(N.id)
            .limit(limit)
        )
    )


async def newest_id(session: AsyncSession, workspace_id: str, recipient_id: str) -> str | None:
    return await session.scalar(select(func.max(N.id)).where(_mine(workspace_id, recipient_id)))


async def unread_count(session: AsyncSession, workspace_id: str, recipient_id: str) -> int:
    found = await session.scalar(
        select(func.count()).where(_mine(workspace_id, recipient_id), N.read_at.is_(None))
    )
    return int(found or 0)


async def own(
    session: AsyncSession, workspace_id: str, recipient_id: str, notification_id: str
) -> FeedNotification | None:
    return await session.scalar(
        select(N).where(_mine(workspace_id, recipient_id), N.id == notification_id)
    )


async def mark_read(
    session: AsyncSession,
    workspace_id: str,
    recipient_id: str,
    at: datetime,
    *,
    notification_id: str | None = None,
    up_to: str | None = None,
) -> int:
    """Marks unread notices read (one, or all up to and including `up_to`, or all);
    already read ones keep the time they were first read."""
    statement = update(N).where(_mine(workspace_id, recipient_id), N.read_at.is_(None))
    if notification_id is not None:
        statement = statement.where(N.id == notification_id)
    if up_to is not None:
        statement = statement.where(N.id <= up_to)
    # A notice read in time is never mailed; clearing `forward_at` also drops it from the
    # forwarder's partial index.
    result = await session.execute(statement.values(read_at=at, forward_at=None))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def claim_unpushed(session: AsyncSession, *, limit: int) -> list[FeedNotification]:
    return await _claim(session, N.pushed_at.is_(None), order=N.id, limit=limit)


async def claim_due(
    session: AsyncSession, moment: datetime, *, limit: int
) -> list[FeedNotification]:
    """Notices to mail now: due, not yet mailed, and still unread (a notice read in the app
    before its time is never mailed)."""
    due = and_(
        N.forwarded_at.is_(None),
        N.forward_at.is_not(None),
        N.forward_at <= moment,
        N.read_at.is_(None),
    )
    return await _claim(session, due, order=N.forward_at, limit=limit)


async def _claim(
    session: AsyncSession, where: ColumnElement[bool], *, order: Any, limit: int
) -> list[FeedNotification]:
    statement = (
        select(N)
        .where(where)
        .order_by(order)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    return list(await session.scalars(statement))


async def set_times(
    session: AsyncSession,
    ids: Sequence[str],
    *,
    pushed_at: datetime | None = None,
    forwarded_at: datetime | None = None,
) -> None:
    values: dict[str, datetime] = {}
    if pushed_at is not None:
        values["pushed_at"] = pushed_at
    if forwarded_at is not None:
        values["forwarded_at"] = forwarded_at
    if ids and values:
        await session.execute(update(N).where(N.id.in_(list(ids))).values(**values))


async def project_managers(session: AsyncSession, workspace_id: str, project_id: str) -> list[str]:
    """People holding a manager grant of their own on the project (the access projection)."""
    grants = ACCESS_GRANTS.c
    rows = await session.scalars(
        select(grants.subject_id).where(
            grants.workspace_id == workspace_id,
            grants.project_id == project_id,
            grants.subject_type == "user",
            grants.role == "manager",
        )
    )
    return sorted(set(rows))


async def project_name(session: AsyncSession, workspace_id: str, project_id: str) -> str | None:
    return await session.scalar(
        select(DirectoryProject.name).where(
            DirectoryProject.workspace_id == workspace_id, DirectoryProject.id == project_id
        )
    )
