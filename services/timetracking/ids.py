"""Ids and clock of the time-tracking service, so every row is minted alike."""

from __future__ import annotations

from datetime import UTC, datetime

from uuid6 import uuid7


def new_id() -> str:
    return str(uuid7())


def now() -> datetime:
    return datetime.now(UTC)
