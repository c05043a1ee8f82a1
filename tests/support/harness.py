"""What every in-process service harness shares: HTTP with a token, playing other services
on the bus, and reading what the service published (its outbox is what the bus carries)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import uuid6
from sqlalchemy import select

from contracts import Envelope, EventData, registry
from contracts.identity import GrantGiven, ProjectRole
from kit.bus.base import OutgoingMessage
from kit.db import OUTBOX
from kit.db.engine import drop_database
from kit.db.migrations import upgrade
from kit.db.tables import ACCESS_GRANTS, ACCESS_WORKSPACES
from kit.launcher.host import Host
from kit.module import ServiceModule
from kit.runtime import ServiceRuntime
from kit.settings import Settings
from tests.conftest import eventually


@dataclass
class ServiceHarness:
    base: str
    host: Host
    client: httpx.AsyncClient

    @property
    def runtime(self) -> ServiceRuntime:
        return self.host.runtimes[0]

    async def request(
        self, method: str, path: str, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return await self.client.request(method, f"{self.base}{path}", headers=headers, **kwargs)

    async def get(self, path: str, token: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, token, **kwargs)

    async def post(self, path: str, token: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, token, **kwargs)

    async def patch(self, path: str, token: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", path, token, **kwargs)

    async def put(self, path: str, token: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PUT", path, token, **kwargs)

    async def delete(self, path: str, token: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", path, token, **kwargs)

    async def publish(self, envelope: Envelope) -> None:
        await self.host.bus.publish([OutgoingMessage.of(envelope)])

    async def emit(self, data: EventData, workspace_id: str, subject: str) -> Envelope:
        """Publish an event as its producer would (registered type and source, tenant)."""
        envelope = registry.envelope(data, workspace=workspace_id, subject=subject)
        await self.publish(envelope)
        return envelope

    async def published(
        self, event_type: str, workspace: str | None = None
    ) -> list[dict[str, Any]]:
        """The data of every `event_type` event the service recorded, oldest first; only one
        workspace's when given."""
        return await published_by(self.runtime, event_type, workspace)

    async def knows_workspace(self, workspace_id: str) -> bool:
        """Whether the service's access projection holds the workspace."""
        async with self.runtime.engine.connect() as connection:
            row = (
                await connection.execute(
                    select(ACCESS_WORKSPACES.c.workspace_id).where(
                        ACCESS_WORKSPACES.c.workspace_id == workspace_id
                    )
                )
            ).first()
        return row is not None

    async def grant_role(self, grant_id: str) -> str | None:
        """The role the service's access projection holds for the grant (None: unknown or
        revoked)."""
        async with self.runtime.engine.connect() as connection:
            row = (
                await connection.execute(
                    select(ACCESS_GRANTS.c.role).where(ACCESS_GRANTS.c.grant_id == grant_id)
                )
            ).first()
        return None if row is None else row.role

    async def grant_projected(self, grant_id: str) -> bool:
        """Whether the service's access projection holds the grant, live (not revoked)."""
        return await self.grant_role(grant_id) is not None

    async def give_grant(
        self,
        workspace_id: str,
        project_id: str,
        subject_id: str,
        role: ProjectRole,
        *,
        subject_type: Literal["user", "team"] = "user",
        silent: bool = False,
        granted_by: str | None = None,
    ) -> tuple[str, Envelope]:
        """Share a project as identity would; returns the grant id and its event once the
        service's access projection holds it."""
        grant_id = str(uuid6.uuid7())
        envelope = await self.emit(
            GrantGiven(
                grant_id=uuid.UUID(grant_id),
                workspace_id=uuid.UUID(workspace_id),
                project_id=uuid.UUID(project_id),
                subject_type=subject_type,
                subject_id=uuid.UUID(subject_id),
                role=role,
                silent=silent,
                granted_by=uuid.UUID(granted_by) if granted_by else None,
            ),
            workspace_id,
            f"project/{project_id}",
        )
        await eventually(lambda: self.grant_projected(grant_id), timeout=10)
        return grant_id, envelope


async def published_by(
    runtime: ServiceRuntime, event_type: str, workspace: str | None = None
) -> list[dict[str, Any]]:
    """The data of every `event_type` event a service recorded in its outbox, oldest first;
    only one workspace's when given."""
    async with runtime.engine.connect() as connection:
        rows = (
            await connection.execute(
                select(OUTBOX.c.payload)
                .where(OUTBOX.c.event_type == event_type)
                .order_by(OUTBOX.c.seq)
            )
        ).scalars()
        envelopes = [Envelope.from_json(payload) for payload in rows]
    return [e.data for e in envelopes if workspace is None or e.workspace == workspace]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def running_service(
    module: ServiceModule, settings: Settings
) -> AsyncIterator[tuple[str, Host, httpx.AsyncClient]]:
    """One service on a fresh, migrated PostgreSQL database, served on `settings.port` until
    the block ends; yields its base URL, the host and a client. The database is dropped after."""
    url = settings.database_url_for(module.name)
    await drop_database(url)
    await asyncio.to_thread(upgrade, module.migrations, url)
    try:
        async with serving(module, settings) as running:
            yield running
    finally:
        await drop_database(url)


@asynccontextmanager
async def serving(
    module: ServiceModule, settings: Settings
) -> AsyncIterator[tuple[str, Host, httpx.AsyncClient]]:
    """One more process of a service whose database is already migrated (e.g. a second
    replica on the same database), served on `settings.port` until the block ends."""
    host = Host(settings, [module])
    task = asyncio.create_task(host.serve("127.0.0.1", settings.port))
    base = f"http://127.0.0.1:{settings.port}/api/{module.name}"
    try:
        async with httpx.AsyncClient(timeout=30) as client:

            async def up() -> bool:
                if task.done():
                    raise AssertionError(f"the {module.name} service stopped: {task.result()}")
                try:
                    return (await client.get(f"{base}/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(up, timeout=30)
            yield base, host, client
    finally:
        host.request_stop()
        await asyncio.wait_for(task, 30)
