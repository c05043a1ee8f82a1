"""Alembic environment of the integrations service."""

from kit.db.migrations import run_env
from services.integrations.models import Base

run_env(Base.metadata)
