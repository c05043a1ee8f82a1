"""Pooled PostgreSQL connections: one the server has closed is replaced at checkout, so the
next unit of work runs on a live connection without the caller seeing an error."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
from sqlalchemy import text

from kit.db import create_engine
from tests.conftest import eventually


async def test_a_connection_the_server_closed_is_replaced_at_checkout(
    make_database: Callable[[str], Awaitable[str]],
) -> None:
    url = await make_database("engine")
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        # the server ends that backend while the connection sits in the pool
        admin = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await admin.close()

        async def closed() -> bool:
            return bool(driver.is_closed())

        await eventually(closed, timeout=10)
        async with engine.connect() as connection:
            again = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert again != pid
    finally:
        await engine.dispose()
