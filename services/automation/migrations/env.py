"""Alembic environment of the automation service."""

from kit.db.migrations import run_env
from services.automation.models import Base

run_env(Base.metadata)
