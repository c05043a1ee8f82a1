"""Session-wide fixtures: real servers, and an isolated namespace for this test session."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from kit.db.engine import drop_database, ensure_database
from kit.testing import infra


@pytest.fixture(scope="session")
def session_tag() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    try:
        yield infra.resolve(infra.POSTGRES)
    except infra.MissingInfrastructure as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def amqp_url() -> str:
    try:
        return infra.resolve(infra.RABBITMQ)
    except infra.MissingInfrastructure as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        return infra.resolve(infra.REDIS)
    except infra.MissingInfrastructure as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture
def namespace(session_tag: str) -> str:
    """A bus namespace per test: queues of one test never receive another's messages."""
    return f"t{session_tag}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
async def make_database(
    pg_server_url: str, session_tag: str
) -> AsyncIterator[Callable[[str], Awaitable[str]]]:
    """Creates `dltest_<session>_<name>` databases; all are dropped when the session ends."""
    created: list[str] = []

    async def make(name: str) -> str:
        url = infra.database_url(pg_server_url, f"dltest_{session_tag}_{name}")
        await drop_database(url)
        await ensure_database(url)
        created.append(url)
        return url

    yield make
    for url in created:
        await drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_database_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    namespace: str,
    make_database: Callable[[str], Awaitable[str]],
) -> str:
    """A fresh, empty database for one test, once on SQLite (the embedded default) and once
    on PostgreSQL: for what must work the same on both (migrations, kit tables)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.sqlite3'}"
    return await make_database(namespace.replace("-", "_"))


@pytest.fixture
def redis_prefix(session_tag: str) -> str:
    """Every key a test writes starts with this; the session's keys are removed at its end."""
    return f"dltest:{session_tag}:{uuid.uuid4().hex[:8]}:"


@pytest.fixture
async def redis(redis_url: str, redis_prefix: str) -> AsyncIterator[Redis]:
    client: Redis = Redis.from_url(redis_url)
    yield client
    keys = [key async for key in client.scan_iter(match=f"{redis_prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    infra.stop_containers()


async def eventually(
    check: Callable[[], Awaitable[bool]], *, timeout: float = 30.0, interval: float = 0.05
) -> None:
    """Wait until `check` holds; fail with a timeout otherwise (bounded, never a sleep-and-hope)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)
