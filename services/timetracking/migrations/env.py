"""Alembic environment of the timetracking service."""

from kit.db.migrations import run_env
from services.timetracking.models import Base

run_env(Base.metadata)
