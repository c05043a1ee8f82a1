"""Alembic, driven from code.

Every service's migrations run the same way on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path

from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from kit.db.engine import create_engine, ensure_database
from kit.db.tables import INBOX, KIT_METADATA, OUTBOX


def create_kit_tables() -> None:
    """Called from each service's first revision."""
    bind = op.get_bind()
    KIT_METADATA.create_all(bind, tables=[OUTBOX, INBOX])


def drop_kit_tables() -> None:
    bind = op.get_bind()
    KIT_METADATA.drop_all(bind, tables=[INBOX, OUTBOX])


KIT_VERSIONS = Path(__file__).parent / "versions"


def alembic_config(migrations_dir: Path, url: str) -> Config:
    """A service's own revisions plus the kit's (outbox, inbox), which they build on."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("path_separator", "os")
    config.set_main_option(
        "version_locations", os.pathsep.join([str(migrations_dir / "versions"), str(KIT_VERSIONS)])
    )
    config.attributes["database_url"] = url
    return config


def upgrade(migrations_dir: Path, url: str, revision: str = "heads") -> None:
    """Blocking: runs in its own event loop, so call it from a thread inside async code.

    `heads`: the kit's revisions (outbox, inbox, access projection) and the service's own
    form two branches from `kit_0001`; both are applied.
    """
    asyncio.run(ensure_database(url))
    command.upgrade(alembic_config(migrations_dir, url), revision)


def run_env(metadata: MetaData | Sequence[MetaData]) -> None:
    """The body of every service's `migrations/env.py`."""
    targets = [metadata] if isinstance(metadata, MetaData) else list(metadata)
    url = context.config.attributes["database_url"]

    def migrate(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=[*targets, KIT_METADATA],
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(migrate)
                await connection.commit()
        finally:
            await engine.dispose()

    asyncio.run(run())
