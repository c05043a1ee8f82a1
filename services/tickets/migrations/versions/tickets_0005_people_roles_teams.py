"""People carry their workspace role, and teams their members, so that access can be rebuilt
for someone other than the caller (may this person follow the item?) as their token would
state it.

Revision ID: tickets_0005
Revises: tickets_0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "tickets_0005"
down_revision: str | None = "tickets_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows projected before this revision never kept the role: `member` (the lesser power)
    # until identity's next event about them says otherwise.
    with op.batch_alter_table("people") as batch:
        batch.add_column(
            sa.Column(
                "workspace_role", sa.String(length=16), nullable=False, server_default="member"
            )
        )

    op.create_table(
        "teams",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("workspace_id", sa.String(length=36), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
    )
    op.create_table(
        "team_members",
        sa.Column("team_id", sa.String(length=36), nullable=False),
        sa.Column("member_id", sa.String(length=36), nullable=False),
        sa.Column("workspace_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_team_members_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("team_id", "member_id", name=op.f("pk_team_members")),
    )
    with op.batch_alter_table("team_members") as batch:
        batch.create_index("ix_team_members_member", ["workspace_id", "member_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("team_members") as batch:
        batch.drop_index("ix_team_members_member")
    op.drop_table("team_members")
    op.drop_table("teams")
    with op.batch_alter_table("people") as batch:
        batch.drop_column("workspace_role")
