"""team membership, team assignees, the names mentions use, inbound mail by item

Revision ID: notifications_0003
Revises: notifications_0002
Create Date: 2026-12-01 10:00:00
"""

import re
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "notifications_0003"
down_revision: str | None = "notifications_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "directory_teams",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("workspace_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_teams")),
    )
    op.create_table(
        "directory_team_members",
        sa.Column("team_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("workspace_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "user_id", name=op.f("pk_directory_team_members")),
    )
    op.create_index(
        "ix_directory_team_members_user", "directory_team_members", ["workspace_id", "user_id"]
    )
    with op.batch_alter_table("directory_items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("assignee_team_ids", sa.JSON(), nullable=False, server_default="[]")
        )
    with op.batch_alter_table("directory_people", schema=None) as batch_op:
        for name, length in (("handle", 64), ("name_key", 200), ("first_name", 100)):
            batch_op.add_column(
                sa.Column(name, sa.String(length=length), nullable=False, server_default="")
            )
            batch_op.create_index(f"ix_directory_people_{name}", ["workspace_id", name])
    _derive_mention_names()
    # A mail's thread reads the item's inbound mails from their sender.
    op.create_index("ix_inbound_mails_item", "inbound_mails", ["workspace_id", "item_id"])


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _derive_mention_names() -> None:
    """The same rule as `services.notifications.directory.service.mention_keys`, frozen here
    as it was when this revision was written (a migration must not change with the code)."""
    people = sa.table(
        "directory_people",
        sa.column("id", sa.String),
        sa.column("email", sa.String),
        sa.column("display_name", sa.String),
        sa.column("handle", sa.String),
        sa.column("name_key", sa.String),
        sa.column("first_name", sa.String),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(people.c.id, people.c.email, people.c.display_name))
    for user_id, address, display_name in rows.all():
        local = (address or "").rpartition("@")[0].partition("+")[0]
        words = [
            w for w in (re.sub(r"[^\w-]", "", p) for p in _fold(display_name or "").split()) if w
        ]
        connection.execute(
            people.update()
            .where(people.c.id == user_id)
            .values(
                handle=_fold(local)[:64],
                name_key=".".join(words)[:200],
                first_name=(words[0] if words else "")[:100],
            )
        )


def downgrade() -> None:
    op.drop_index("ix_inbound_mails_item", table_name="inbound_mails")
    with op.batch_alter_table("directory_people", schema=None) as batch_op:
        for name in ("first_name", "name_key", "handle"):
            batch_op.drop_index(f"ix_directory_people_{name}")
            batch_op.drop_column(name)
    with op.batch_alter_table("directory_items", schema=None) as batch_op:
        batch_op.drop_column("assignee_team_ids")
    op.drop_index("ix_directory_team_members_user", table_name="directory_team_members")
    op.drop_table("directory_team_members")
    op.drop_table("directory_teams")
