"""Fixtures for tests that break the real broker and processes on purpose."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kit.settings import Settings
from tests.support.buses import delete_namespace, ensure_broker_running
from tests.support.pair import drop_databases, pair_settings, prepare_databases


@pytest.fixture
async def settings(
    amqp_url: str, pg_server_url: str, namespace: str, session_tag: str
) -> AsyncIterator[Settings]:
    built = pair_settings(
        amqp_url=amqp_url,
        pg_server_url=pg_server_url,
        database=f"dltest_{session_tag}_{namespace.split('-')[-1]}",
        namespace=namespace,
    )
    await prepare_databases(built)
    yield built
    await ensure_broker_running()
    await delete_namespace(amqp_url, namespace)
    await drop_databases(built)
