"""The tables every service database carries: outbox, inbox and the access projection.

They live on a kit-owned MetaData: Core statements on these Table objects run
against any service's connection. The kit's own revisions on every service's
version path create them (`kit_0001`: outbox and inbox, `kit_0002`: access).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def table_of(model: type[Any]) -> Table:
    """A mapped class's Table, for Core statements built once (typed: `__table__` is not)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def new_metadata() -> MetaData:
    """A service's MetaData, with constraint names stable across SQLite and PostgreSQL."""
    return MetaData(naming_convention=NAMING_CONVENTION)


KIT_METADATA = new_metadata()

# SQLite only auto-increments an INTEGER PRIMARY KEY, hence the variant.
_SEQUENCE = BigInteger().with_variant(Integer(), "sqlite")

OUTBOX = Table(
    "outbox",
    KIT_METADATA,
    Column("seq", _SEQUENCE, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("event_type", String(200), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Index(
        "ix_outbox_unsent",
        "seq",
        postgresql_where=text("sent_at IS NULL"),
        sqlite_where=text("sent_at IS NULL"),
    ),
)

INBOX = Table(
    "inbox",
    KIT_METADATA,
    Column("consumer", String(200), primary_key=True),
    Column("event_id", String(64), primary_key=True),
    Column("processed_at", DateTime(timezone=True), nullable=False),
)

# The access projection (kit.access): what identity's grant and workspace events say, kept
# in every service's own database so authorisation never calls identity. The tables sit
# on KIT_METADATA so that a service's autogenerate sees them and never proposes dropping
# them; revision kit_0002 creates them.

ACCESS_GRANTS = Table(
    "access_grants",
    KIT_METADATA,
    Column("grant_id", String(64), primary_key=True),
    Column("workspace_id", String(64), nullable=False),
    Column("project_id", String(64), nullable=False),
    Column("subject_type", String(8), nullable=False),  # 'user' | 'team'
    Column("subject_id", String(64), nullable=False),
    # NULL once revoked: the row stays as a tombstone, so a grant.given retried after its
    # grant.revoked cannot bring the grant back.
    Column("role", String(16), nullable=True),
    # Time of the identity event that last wrote the row: an older event never overwrites it.
    Column("as_of", DateTime(timezone=True), nullable=False),
    Index("ix_access_grants_subject", "workspace_id", "subject_type", "subject_id"),
    Index("ix_access_grants_project", "workspace_id", "project_id"),
)

ACCESS_WORKSPACES = Table(
    "access_workspaces",
    KIT_METADATA,
    Column("workspace_id", String(64), primary_key=True),
    Column("client_visibility", String(16), nullable=False, server_default="own"),
    Column("as_of", DateTime(timezone=True), nullable=False),
)
