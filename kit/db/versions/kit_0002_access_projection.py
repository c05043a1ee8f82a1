"""Access projection: identity's project grants and client visibility, kept by every service.

The tables are spelled out here rather than created from KIT_METADATA, so this
revision keeps creating what it created even after the tables evolve in later
revisions. Like `kit_0001`, it is on every service's version path.

Revision ID: kit_0002
Revises: kit_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "kit_0002"
down_revision = "kit_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_grants",
        sa.Column("grant_id", sa.String(64), nullable=False),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("subject_type", sa.String(8), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=True),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("grant_id", name="pk_access_grants"),
    )
    op.create_index(
        "ix_access_grants_subject",
        "access_grants",
        ["workspace_id", "subject_type", "subject_id"],
    )
    op.create_index("ix_access_grants_project", "access_grants", ["workspace_id", "project_id"])
    op.create_table(
        "access_workspaces",
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("client_visibility", sa.String(16), server_default="own", nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", name="pk_access_workspaces"),
    )


def downgrade() -> None:
    op.drop_table("access_workspaces")
    op.drop_index("ix_access_grants_project", table_name="access_grants")
    op.drop_index("ix_access_grants_subject", table_name="access_grants")
    op.drop_table("access_grants")
