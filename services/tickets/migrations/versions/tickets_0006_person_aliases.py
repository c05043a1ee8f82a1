"""Ids that turned out to be someone else's (a mail's sender minted an id that identity
already knew by address): a request filed after the merge goes to the real person.

Revision ID: tickets_0006
Revises: tickets_0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "tickets_0006"
down_revision: str | None = "tickets_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "person_aliases",
        sa.Column("alias_id", sa.String(length=36), nullable=False),
        sa.Column("workspace_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("alias_id", name=op.f("pk_person_aliases")),
    )


def downgrade() -> None:
    op.drop_table("person_aliases")
