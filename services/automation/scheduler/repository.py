"""Queries of the scheduler's jobs."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.automation.models import Job


async def schedule(
    session: AsyncSession,
    *,
    workspace_id: str,
    kind: str,
    key: str,
    subject_id: str,
    due_at: datetime,
    payload: dict[str, Any],
) -> None:
    """Idempotent by `key`: scheduling what is already scheduled (or fired) changes nothing."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert(Job)
        .values(
            workspace_id=workspace_id,
            kind=kind,
            key=key,
            subject_id=subject_id,
            due_at=due_at,
            payload=payload,
            attempts=0,
        )
        .on_conflict_do_nothing(index_elements=["key"])
    )


async def drop_pending(
    session: AsyncSession, subject_id: str, kinds: Collection[str], keep: Collection[str] = ()
) -> None:
    """Unschedule the subject's jobs of these kinds that have not fired, but those in `keep`."""
    statement = delete(Job).where(
        Job.subject_id == subject_id, Job.kind.in_(list(kinds)), Job.fired_at.is_(None)
    )
    if keep:
        statement = statement.where(Job.key.not_in(list(keep)))
    await session.execute(statement)


async def due_ids(session: AsyncSession, now: datetime, limit: int) -> list[int]:
    return list(
        await session.scalars(
            select(Job.id)
            .where(Job.fired_at.is_(None), Job.due_at <= now)
            .order_by(Job.due_at, Job.id)
            .limit(limit)
        )
    )


async def lock_due(session: AsyncSession, job_id: int, now: datetime) -> Job | None:
    """The job if it is still due and unfired; on PostgreSQL None as well while another
    process holds it (skipped, not waited for)."""
    query = select(Job).where(Job.id == job_id, Job.fired_at.is_(None), Job.due_at <= now)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return await session.scalar(query)


async def claim(session: AsyncSession, job_id: int, now: datetime, worker: str) -> bool:
    """Mark the job fired unless someone already did; the claim and the job's effects commit
    together, so it fires exactly once."""
    claimed = await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.fired_at.is_(None))
        .values(fired_at=now, fired_by=worker)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(claimed, "rowcount", 0) == 1)


async def postpone(
    session: AsyncSession, job_id: int, due_at: datetime, attempts: int, error: str
) -> None:
    await session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(due_at=due_at, attempts=attempts, error=error[:2000], fired_at=None, fired_by=None)
        .execution_options(synchronize_session=False)
    )


async def give_up(session: AsyncSession, job_id: int, now: datetime, error: str) -> None:
    await session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(fired_at=now, fired_by="gave-up", error=error[:2000])
        .execution_options(synchronize_session=False)
    )


async def jobs_of(session: AsyncSession, subject_id: str) -> list[Job]:
    return list(await session.scalars(select(Job).where(Job.subject_id == subject_id)))
