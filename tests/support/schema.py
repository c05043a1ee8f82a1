"""Does a migrated database match the models? Alembic's comparison, limited to the tables
a test is about (every service database also holds the kit's tables, and the kit's
metadata tables of its own revisions)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection


def drift(connection: Connection, metadata: MetaData, tables: Collection[str]) -> list[Any]:
    """Differences between the database and `metadata` (types included) in `tables` only;
    run it with `AsyncConnection.run_sync`."""
    wanted = set(tables)

    def named(name: str | None, kind: str, _parents: Any) -> bool:  # what is reflected
        return kind != "table" or name in wanted

    def declared(_object: Any, name: str | None, kind: str, *_: Any) -> bool:  # the models
        return kind != "table" or name in wanted

    context = MigrationContext.configure(
        connection,
        opts={"compare_type": True, "include_name": named, "include_object": declared},
    )
    return list(compare_metadata(context, metadata))
