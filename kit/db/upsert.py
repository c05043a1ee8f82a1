"""INSERT … ON CONFLICT on either database: PostgreSQL and SQLite each have their own
`insert` construct (same `on_conflict_do_nothing` / `on_conflict_do_update` / `excluded`),
and the session's database decides which one a statement must be built from."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_for(session: AsyncSession, target: Any) -> Any:
    """`insert(target)` in the session's dialect, so ON CONFLICT clauses can follow
    (typed `Any`: the two dialects' classes share those methods but no base declares them)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(target)
    return sqlite.insert(target)
