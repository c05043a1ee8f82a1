"""The integrations service for real: in-process uvicorn on PostgreSQL and RabbitMQ, and real
HTTP receivers on localhost.

Identity and tickets do not run beside it: tests mint access tokens with their own Ed25519
key (reused from the time-tracking tests) and publish the events tickets, time tracking,
automation and identity publish, on the real bus.

The receivers are a small ASGI app served by uvicorn; each path follows a script of
answers (a status, a status with headers, or hanging until released) and records every
request it got.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn

from contracts.identity import ProjectRole
from contracts.tickets import CommentAdded, ItemCreated, ItemSnapshot, ItemUpdated
from kit.settings import Settings
from kit.testing.infra import database_url
from services.integrations.module import module as integrations_module
from services.integrations.settings import get_settings
from tests.conftest import eventually
from tests.integrations.system import System, running_system
from tests.support.buses import delete_namespace
from tests.support.harness import ServiceHarness, free_port, running_service
from tests.support.receiver import Receiver as Receiver  # re-exported to the tests here
from tests.timetracking.conftest import PUBLIC_PEM, item_snapshot, mint, new_id

TEST_ENV = {
    "DESKLINE_INTEGRATIONS_WEBHOOK_ALLOW_NETWORKS": '["127.0.0.1/32"]',
    "DESKLINE_INTEGRATIONS_WEBHOOK_RETRY_SCHEDULE": "[0.3, 0.3, 0.3, 0.3, 0.3]",
    "DESKLINE_INTEGRATIONS_WEBHOOK_TIMEOUT_SECONDS": "40",
    "DESKLINE_INTEGRATIONS_DISPATCHER_POLL_SECONDS": "0.1",
}


@contextlib.asynccontextmanager
async def serving_receiver(host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[Receiver]:
    """A receiver listening on `host` (any address of 127.0.0.0/8 is this machine's)."""
    app = Receiver(port=port or free_port(), host=host)
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=app.port, log_config=None, access_log=False)
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            raise AssertionError("the receiver did not start")
        await asyncio.sleep(0.02)
    try:
        yield app
    finally:
        app.release()
        server.should_exit = True
        await serving


@pytest.fixture(scope="session")
async def receiver() -> AsyncIterator[Receiver]:
    async with serving_receiver() as app:
        yield app


@dataclass(frozen=True)
class Workspace:
    id: str
    admin_id: str
    admin_token: str


@dataclass
class IntegrationsApp(ServiceHarness):
    async def new_workspace(self) -> Workspace:
        workspace_id, admin_id = new_id(), new_id()
        return Workspace(workspace_id, admin_id, mint(workspace_id, admin_id, role="admin"))

    async def grant(
        self, workspace_id: str, project_id: str, user_id: str, role: ProjectRole
    ) -> None:
        await self.give_grant(workspace_id, project_id, user_id, role)

    async def endpoint(self, ws: Workspace, url: str, events: Sequence[str], **extra: Any) -> Any:
        response = await self.post(
            "/v1/webhooks", ws.admin_token, json={"url": url, "events": list(events), **extra}
        )
        assert response.status_code == 201, response.text
        return response.json()

    async def item_created(
        self, workspace_id: str, project_id: str | None = None, **kwargs: Any
    ) -> ItemSnapshot:
        item = item_snapshot(new_id(), project_id or new_id(), **kwargs)
        await self.emit(ItemCreated(item=item), workspace_id, f"item/{item.id}")
        return item

    async def item_updated(
        self, workspace_id: str, item: ItemSnapshot, changes: dict[str, Any]
    ) -> None:
        await self.emit(ItemUpdated(item=item, changes=changes), workspace_id, f"item/{item.id}")

    async def comment(
        self, workspace_id: str, item: ItemSnapshot, body: str, visibility: str
    ) -> str:
        comment_id = uuid.uuid4()
        await self.emit(
            CommentAdded(
                comment_id=comment_id,
                item=item,
                author_id=uuid.uuid4(),
                visibility=visibility,
                channel="app",
                body=body,
            ),
            workspace_id,
            f"item/{item.id}",
        )
        return str(comment_id)

    async def deliveries(self, ws: Workspace, endpoint_id: str) -> list[dict[str, Any]]:
        response = await self.get(f"/v1/webhooks/{endpoint_id}/deliveries", ws.admin_token)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items


async def received(receiver: Receiver, path: str, count: int = 1, timeout: float = 20) -> None:
    async def enough() -> bool:
        return len(receiver.at(path)) >= count

    await eventually(enough, timeout=timeout)


def integrations_settings(
    amqp_url: str, pg_server_url: str, database: str, namespace: str, port: int
) -> Settings:
    return Settings(
        database_url=database_url(pg_server_url, database),
        bus_url=amqp_url,
        redis_url=None,
        namespace=namespace,
        host="127.0.0.1",
        port=port,
        retry_delays=[0.1, 0.2, 0.5],
        outbox_poll_interval=0.1,
        consumer_watchdog_interval=0.5,
        bus_connect_backoff_max=1.0,
        jwt_public_key=PUBLIC_PEM,
    )


@pytest.fixture(scope="session")
async def integrations(
    pg_server_url: str, amqp_url: str, session_tag: str, receiver: Receiver
) -> AsyncIterator[IntegrationsApp]:
    saved = {name: os.environ.get(name) for name in TEST_ENV}
    os.environ.update(TEST_ENV)
    get_settings.cache_clear()
    namespace = f"t{session_tag}-integrations"
    settings = integrations_settings(
        amqp_url, pg_server_url, f"dltest_{session_tag}_integ", namespace, free_port()
    )
    try:
        async with running_service(integrations_module, settings) as (base, host, client):
            app = IntegrationsApp(base, host, client)
            await eventually(_ready(app), timeout=30)
            yield app
    finally:
        receiver.release()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()
        await delete_namespace(amqp_url, namespace)


def _ready(app: IntegrationsApp) -> Any:
    async def ready() -> bool:
        return (await app.client.get(f"{app.base}/readyz")).status_code == 200

    return ready


@pytest.fixture(scope="session")
async def system(
    pg_server_url: str,
    amqp_url: str,
    session_tag: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[System]:
    """Identity, tickets, time tracking and integrations together (see `system.py`)."""
    async with running_system(
        pg_server_url, amqp_url, f"{session_tag}gw", tmp_path_factory.mktemp("gateway")
    ) as running:
        yield running
