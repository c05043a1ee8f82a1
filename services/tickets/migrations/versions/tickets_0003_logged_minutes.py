"""Items remember the time logged on them, to derive percent complete.

Revision ID: tickets_0003
Revises: tickets_0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "tickets_0003"
down_revision: str | None = "tickets_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.add_column(
            sa.Column("logged_minutes", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.drop_column("logged_minutes")
