"""Outbox and inbox: reliable publishing and idempotent consuming, in every service's database.

This revision lives in the kit and is on every service's version path; a
service's own first revision names it as `down_revision`.

Revision ID: kit_0001
Revises:
"""

from kit.db.migrations import create_kit_tables, drop_kit_tables

revision = "kit_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_kit_tables()


def downgrade() -> None:
    drop_kit_tables()
