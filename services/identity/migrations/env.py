"""Alembic environment of the identity service."""

from kit.db.migrations import run_env
from services.identity.models import Base

run_env(Base.metadata)
