"""people field times, workspace defaults

Revision ID: tickets_0002
Revises: tickets_0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "tickets_0002"
down_revision: str | None = "tickets_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("field_times", sa.JSON(), nullable=True))

    op.create_table(
        "workspace_defaults",
        sa.Column("workspace_id", sa.String(length=36), nullable=False),
        sa.Column("intake_project_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["intake_project_id"],
            ["projects.id"],
            name=op.f("fk_workspace_defaults_intake_project_id_projects"),
        ),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_workspace_defaults")),
    )


def downgrade() -> None:
    op.drop_table("workspace_defaults")
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("field_times")
