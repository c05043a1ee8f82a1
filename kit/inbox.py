"""The inbox: a consumer records each event id in the same transaction as its effect.

A redelivered event then finds its row and is skipped, which turns
at-least-once delivery into exactly-once effects.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from kit.db.tables import INBOX


async def claim(session: AsyncSession, consumer: str, event_id: str) -> bool:
    """True when this consumer has not handled the event before (the row is now written)."""
    values = {"consumer": consumer, "event_id": event_id, "processed_at": datetime.now(UTC)}
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(INBOX).values(values).on_conflict_do_nothing()
    result = await session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]
