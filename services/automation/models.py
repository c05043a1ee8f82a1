"""Tables owned by the automation service (its outbox and inbox come from the kit)."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from kit.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()
