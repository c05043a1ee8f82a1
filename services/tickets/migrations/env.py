"""Alembic environment of the tickets service."""

from kit.db.migrations import run_env
from services.tickets.models import Base

run_env(Base.metadata)
