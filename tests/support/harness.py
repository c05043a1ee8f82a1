"""What every in-process service harness shares: HTTP with a token, playing other services
on the bus, and reading what the service published (its outbox is what the bus carries)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from contracts import Envelope, EventData, registry
from kit.bus.base import OutgoingMessage
from kit.db import OUTBOX
from kit.launcher.host import Host
from kit.runtime import ServiceRuntime


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
        async with self.runtime.engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(OUTBOX.c.payload)
                    .where(OUTBOX.c.event_type == event_type)
                    .order_by(OUTBOX.c.seq)
                )
            ).scalars()
            envelopes = [Envelope.from_json(payload) for payload in rows]
        return [e.data for e in envelopes if workspace is None or e.workspace == workspace]
