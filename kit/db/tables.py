"""The outbox and inbox tables every service database carries.

They live on a kit-owned MetaData: Core statements on these Table objects run
against any service's connection, and each service's first migration creates
them (`kit.db.migrations.create_kit_tables`).
"""

from __future__ import annotations

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
