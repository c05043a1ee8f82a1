"""Fixtures of the end-to-end tests: child processes, and the real servers they run on,
isolated per test by database prefix, bus namespace and Redis key prefix."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy.engine import make_url

from tests.support.buses import delete_namespace
from tests.support.processes import Children, RealInfra, base_env, drop_databases, run_async


@pytest.fixture
def children(tmp_path: Path) -> Iterator[Children]:
    started = Children(tmp_path / "logs")
    try:
        yield started
    finally:
        started.stop_all()
        started.report()


@pytest.fixture
def real_infra(
    children: Children,
    tmp_path: Path,
    pg_server_url: str,
    amqp_url: str,
    redis_url: str,
    session_tag: str,
) -> Iterator[RealInfra]:
    """Environment for services on the real servers, isolated by database prefix,
    bus namespace and Redis key prefix; all of it removed afterwards."""
    suffix = uuid.uuid4().hex[:8]
    prefix = f"dltest_{session_tag}_gw{suffix}"
    namespace = f"test-{session_tag}-{suffix}"
    database_url = (
        make_url(pg_server_url)
        .set(drivername="postgresql+asyncpg", database=prefix)
        .render_as_string(hide_password=False)
    )
    env = base_env(tmp_path / "var") | {
        "DESKLINE_DATABASE_URL": database_url,
        "DESKLINE_BUS_URL": amqp_url,
        "DESKLINE_REDIS_URL": redis_url,
        "DESKLINE_NAMESPACE": namespace,
    }
    try:
        yield RealInfra(env, prefix, namespace)
    finally:
        # Processes first, so nothing reconnects or re-declares while we clean.
        children.stop_all()
        run_async(lambda: drop_databases(pg_server_url, prefix))
        if shutil.which("rabbitmqctl"):
            run_async(lambda: delete_namespace(amqp_url, namespace))
        else:
            print(f"note: rabbitmqctl not found; queues of namespace {namespace} remain")
        client = redis.Redis.from_url(redis_url)
        try:
            keys = list(client.scan_iter(match=f"{namespace}:*"))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0, trust_env=False) as client:
        yield client
