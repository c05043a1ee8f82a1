"""Outbox and inbox: reliable publishing and idempotent consuming for the tickets service.

Revision ID: 0001
Revises:
"""

from kit.db.migrations import create_kit_tables, drop_kit_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_kit_tables()


def downgrade() -> None:
    drop_kit_tables()
