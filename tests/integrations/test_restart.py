"""The integrations process killed (SIGKILL) in the middle of a retry schedule resumes it
after a restart: the schedule is in the database, not in the process."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from contracts import registry
from contracts.tickets import ItemCreated
from kit.bus.base import OutgoingMessage
from kit.bus.rabbit import RabbitBus
from kit.db.engine import create_engine, drop_database
from kit.db.migrations import upgrade
from kit.testing.infra import database_url
from services.integrations.models import WebhookAttempt
from services.integrations.module import module as integrations_module
from tests.conftest import eventually
from tests.integrations.conftest import Receiver, received
from tests.support.buses import delete_namespace
from tests.support.harness import free_port
from tests.timetracking.conftest import PUBLIC_PEM, item_snapshot, mint, new_id


@pytest.fixture
async def database(pg_server_url: str, session_tag: str, namespace: str) -> AsyncIterator[str]:
    url = database_url(pg_server_url, f"dltest_{session_tag}_{namespace[-8:]}_integrations")
    await drop_database(url)
    await asyncio.to_thread(upgrade, integrations_module.migrations, url)
    yield url
    await drop_database(url)


async def _start(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kit.launcher.cli",
        "serve",
        "integrations",
        "--port",
        env["DESKLINE_PORT"],
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def _up(base: str) -> None:
    async with httpx.AsyncClient() as client:

        async def ready() -> bool:
            try:
                return (await client.get(f"{base}/readyz")).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(ready, timeout=60)


async def test_a_killed_process_resumes_the_retry_schedule(
    amqp_url: str, namespace: str, database: str, receiver: Receiver
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DESKLINE_BUS_URL": amqp_url,
        "DESKLINE_INTEGRATIONS_DATABASE_URL": database,
        "DESKLINE_NAMESPACE": namespace,
        "DESKLINE_JWT_PUBLIC_KEY": PUBLIC_PEM,
        "DESKLINE_PORT": str(port),
        "DESKLINE_OUTBOX_POLL_INTERVAL": "0.1",
        "DESKLINE_INTEGRATIONS_WEBHOOK_ALLOW_NETWORKS": '["127.0.0.1/32"]',
        # Long enough to kill the process while the retry waits, short enough for a test.
        "DESKLINE_INTEGRATIONS_WEBHOOK_RETRY_SCHEDULE": "[4.0, 0.5]",
        "DESKLINE_INTEGRATIONS_WEBHOOK_RETRY_JITTER": "0",
        "DESKLINE_INTEGRATIONS_DISPATCHER_POLL_SECONDS": "0.2",
    }
    base = f"http://127.0.0.1:{port}/api/integrations"
    workspace_id = new_id()
    admin = mint(workspace_id, new_id(), role="admin")
    path = receiver.new_path()
    receiver.script(path, 503, 200)

    first = await _start(env)
    try:
        await _up(base)
        async with httpx.AsyncClient(headers={"authorization": f"Bearer {admin}"}) as client:
            created = await client.post(
                f"{base}/v1/webhooks", json={"url": receiver.url(path), "events": ["item_created"]}
            )
            assert created.status_code == 201, created.text
            secret = created.json()["secret"]
        await _publish_item(amqp_url, namespace, workspace_id)
        await received(receiver, path, 1, timeout=30)
        await eventually(lambda: _attempts_logged(database, 1), timeout=10)
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    assert len(receiver.at(path)) == 1

    second = await _start(env)
    try:
        await received(receiver, path, 2, timeout=60)
    finally:
        second.send_signal(signal.SIGTERM)
        await asyncio.wait_for(second.wait(), 30)
        await delete_namespace(amqp_url, namespace)
    before, after = receiver.at(path)
    assert before.headers["webhook-id"] == after.headers["webhook-id"]
    assert after.verified(secret)["type"] == "item_created"


async def _attempts_logged(url: str, n: int) -> bool:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(select(WebhookAttempt.seq))).all()
        return len(rows) >= n
    finally:
        await engine.dispose()


async def _publish_item(amqp_url: str, namespace: str, workspace_id: str) -> None:
    """Tickets' part: one item created, on the real bus."""
    bus = RabbitBus(amqp_url, namespace=namespace)
    item = item_snapshot(new_id(), new_id())
    envelope = registry.envelope(
        ItemCreated(item=item), workspace=workspace_id, subject=f"item/{item.id}"
    )
    await bus.start()
    try:

        async def connected() -> bool:
            return bus.is_connected()

        await eventually(connected, timeout=30)
        await bus.publish([OutgoingMessage.of(envelope)])
    finally:
        await bus.close()
