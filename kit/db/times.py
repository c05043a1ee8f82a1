"""Times read back from the database: stored as UTC everywhere, but SQLite (the embedded
mode) hands them back without their zone while PostgreSQL keeps it."""

from __future__ import annotations

from datetime import UTC, datetime


def in_utc(moment: datetime) -> datetime:
    """`moment` as an aware UTC time, whichever database it came from."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
