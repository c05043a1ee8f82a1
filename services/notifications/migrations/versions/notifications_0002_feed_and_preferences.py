"""in-app feed and notification preferences

Revision ID: notifications_0002
Revises: notifications_0001
Create Date: 2026-12-01 07:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "notifications_0002"
down_revision: str | None = "notifications_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feed_notifications",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("workspace_id", sa.String(length=36), nullable=False),
        sa.Column("recipient_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("source_event_id", sa.String(length=64), nullable=False),
        sa.Column("actor_id", sa.String(length=36), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("item_id", sa.String(length=36), nullable=True),
        sa.Column("item_number", sa.Integer(), nullable=True),
        sa.Column("project_id", sa.String(length=36), nullable=True),
        sa.Column("in_feed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("forward_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("forwarded_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_notifications")),
        sa.UniqueConstraint("source_event_id", "recipient_id", name="uq_feed_notifications_source"),
    )
    op.create_index(
        "ix_feed_notifications_recipient",
        "feed_notifications",
        ["workspace_id", "recipient_id", "id"],
    )
    op.create_index(
        "ix_feed_notifications_unpushed",
        "feed_notifications",
        ["id"],
        postgresql_where=sa.text("pushed_at IS NULL"),
        sqlite_where=sa.text("pushed_at IS NULL"),
    )
    op.create_index(
        "ix_feed_notifications_forward",
        "feed_notifications",
        ["forward_at"],
        postgresql_where=sa.text("forwarded_at IS NULL AND forward_at IS NOT NULL"),
        sqlite_where=sa.text("forwarded_at IS NULL AND forward_at IS NOT NULL"),
    )
    op.create_table(
        "notification_preferences",
        sa.Column("workspace_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("forward_after_minutes", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "workspace_id", "user_id", name=op.f("pk_notification_preferences")
        ),
    )


def downgrade() -> None:
    op.drop_table("notification_preferences")
    op.drop_index("ix_feed_notifications_forward", table_name="feed_notifications")
    op.drop_index("ix_feed_notifications_unpushed", table_name="feed_notifications")
    op.drop_index("ix_feed_notifications_recipient", table_name="feed_notifications")
    op.drop_table("feed_notifications")
