"""The inbox: a consumer records each event id in the same transaction as its effect.

A redelivered event then finds its row and is skipped, which turns
at-least-once delivery into exactly-once effects.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from kit.db.tables import INBOX

_CLAIM = {
    True: postgresql.insert(INBOX).on_conflict_do_nothing().returning(INBOX.c.event_id),
    False: sqlite.insert(INBOX).on_conflict_do_nothing().returning(INBOX.c.event_id),
}


async def claim_all(session: AsyncSession, consumer: str, event_ids: Sequence[str]) -> set[str]:
    """Write inbox rows for these events; returns the ids not handled before."""
    if not event_ids:
        return set()
    now = datetime.now(UTC)
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    rows = [{"consumer": consumer, "event_id": i, "processed_at": now} for i in event_ids]
    # One cached statement whatever the batch size; SQLAlchemy batches the rows
    # into multi-row INSERT ... RETURNING itself.
    result = await session.execute(_CLAIM[dialect == "postgresql"], rows)
    return set(result.scalars())


async def claim(session: AsyncSession, consumer: str, event_id: str) -> bool:
    """True when this consumer has not handled the event before (the row is now written)."""
    return bool(await claim_all(session, consumer, [event_id]))
