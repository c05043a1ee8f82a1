"""Ids and clock of the tickets service, in one place so every row is minted alike."""

from __future__ import annotations

from datetime import UTC, datetime

from uuid6 import uuid7


def new_id() -> str:
    """UUIDv7: time-ordered, so primary keys double as creation order and cursors."""
    return str(uuid7())


def now() -> datetime:
    return datetime.now(UTC)
