"""Revision notifications_0003 on both databases: it gives the people already in the
directory the names mentions use (by the same rule as new ones), leaves existing items with
no team assignees, matches the models exactly, and is undone cleanly."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from kit.db.engine import create_engine
from kit.db.migrations import alembic_config, upgrade
from services.notifications.directory.service import mention_keys
from services.notifications.models import Base
from tests.support.schema import drift

MIGRATIONS = Path("services/notifications/migrations")
PEOPLE = [
    ("Anna.Berg+desk@acme.example", "Anna Berg"),
    ("zq@acme.example", "Zoë  Quinn-Smith (Design)"),
    ("x@acme.example", ""),
]


async def test_revision_0003_derives_mention_names_and_matches_the_models(
    empty_database_url: str,
) -> None:
    url = empty_database_url
    await asyncio.to_thread(upgrade, MIGRATIONS, url, "notifications_0002")
    engine = create_engine(url)
    workspace_id, item_id = str(uuid.uuid4()), str(uuid.uuid4())
    ids = [str(uuid.uuid4()) for _ in PEOPLE]
    try:
        async with engine.begin() as connection:
            for user_id, (email, name) in zip(ids, PEOPLE, strict=True):
                await connection.execute(
                    text(
                        "INSERT INTO directory_people (id, workspace_id, email, display_name, "
                        "kind, active) VALUES (:id, :ws, :email, :name, 'staff', true)"
                    ),
                    {"id": user_id, "ws": workspace_id, "email": email.lower(), "name": name},
                )
            await connection.execute(
                text(
                    "INSERT INTO directory_items (id, workspace_id, number, title, assignee_ids, "
                    "follower_ids, status_name, status_category, deleted) VALUES (:id, :ws, 1, "
                    "'Banner', '[]', '[]', 'Open', 'open', false)"
                ),
                {"id": item_id, "ws": workspace_id},
            )

        await asyncio.to_thread(upgrade, MIGRATIONS, url)
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    text("SELECT id, handle, name_key, first_name FROM directory_people")
                )
            ).all()
            teams = (
                await connection.execute(text("SELECT assignee_team_ids FROM directory_items"))
            ).scalar_one()
            drift_found = await connection.run_sync(
                lambda sync: drift(sync, Base.metadata, Base.metadata.tables)
            )
        derived = {row.id: (row.handle, row.name_key, row.first_name) for row in rows}
        for user_id, (email, name) in zip(ids, PEOPLE, strict=True):
            expected = mention_keys(email=email, display_name=name)
            assert derived[user_id] == (
                expected["handle"],
                expected["name_key"],
                expected["first_name"],
            )
        assert derived[ids[0]] == ("anna.berg", "anna.berg", "anna")
        assert derived[ids[1]] == ("zq", "zoe.quinn-smith.design", "zoe")
        assert teams in ([], "[]")
        assert drift_found == [], "revision notifications_0003 and the models disagree"

        await asyncio.to_thread(
            command.downgrade, alembic_config(MIGRATIONS, url), "notifications_0002"
        )
        async with engine.connect() as connection:

            def shape(sync: Connection) -> tuple[set[str], set[str]]:
                inspector = inspect(sync)
                columns = {c["name"] for c in inspector.get_columns("directory_people")}
                return set(inspector.get_table_names()), columns

            tables, columns = await connection.run_sync(shape)
        assert not {"directory_teams", "directory_team_members"} & tables
        assert not {"handle", "name_key", "first_name"} & columns
    finally:
        await engine.dispose()
