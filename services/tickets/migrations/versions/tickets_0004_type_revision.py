"""Item types carry a revision token, replaced on every edit of the type, its workflow or its
fields: a process may keep a type's definition in memory while the token it read with the
type's row is unchanged.

Revision ID: tickets_0004
Revises: tickets_0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "tickets_0004"
down_revision: str | None = "tickets_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("item_types") as batch:
        batch.add_column(
            sa.Column("revision", sa.String(length=36), nullable=False, server_default="initial")
        )


def downgrade() -> None:
    with op.batch_alter_table("item_types") as batch:
        batch.drop_column("revision")
