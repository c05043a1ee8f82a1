"""Queries on preferences: one row per person, holding only what differs from the defaults."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.models import NotificationPreference


async def of(
    session: AsyncSession, workspace_id: str, user_id: str, *, lock: bool = False
) -> NotificationPreference | None:
    statement = select(NotificationPreference).where(
        NotificationPreference.workspace_id == workspace_id,
        NotificationPreference.user_id == user_id,
    )
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(statement)


async def of_many(
    session: AsyncSession, workspace_id: str, user_ids: Collection[str]
) -> dict[str, NotificationPreference]:
    if not user_ids:
        return {}
    rows = await session.scalars(
        select(NotificationPreference).where(
            NotificationPreference.workspace_id == workspace_id,
            NotificationPreference.user_id.in_(sorted(set(user_ids))),
        )
    )
    return {row.user_id: row for row in rows}


async def locked(
    session: AsyncSession, workspace_id: str, user_id: str, now: datetime
) -> NotificationPreference:
    """The person's row, created empty if missing, locked until the transaction ends: two
    updates at once apply one after the other instead of one losing the other's kinds."""
    row: dict[str, object] = {
        "workspace_id": workspace_id,
        "user_id": user_id,
        "channels": {},
        "forward_after_minutes": None,
        "updated_at": now,
    }
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            postgresql.insert(NotificationPreference).values(row).on_conflict_do_nothing()
        )
    else:
        await session.execute(
            sqlite.insert(NotificationPreference).values(row).on_conflict_do_nothing()
        )
    found = await of(session, workspace_id, user_id, lock=True)
    assert found is not None
    return found
