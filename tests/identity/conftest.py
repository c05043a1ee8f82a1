"""The identity service running for real: in-process uvicorn on PostgreSQL and Redis, beside a
probe service that verifies tokens the way every other service does (through the JWKS)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI

from contracts import Envelope, registry
from contracts.tickets import InitialGrant, ProjectCreated
from kit.auth import Principal, authenticated
from kit.bus.base import OutgoingMessage
from kit.db import KIT_METADATA, create_engine
from kit.db.engine import drop_database
from kit.db.migrations import upgrade
from kit.http import create_service_app
from kit.launcher.host import Host
from kit.module import ServiceModule
from kit.runtime import ServiceRuntime
from kit.settings import Settings
from kit.testing.infra import database_url
from services.identity.module import module as identity_module
from services.identity.settings import get_settings
from tests.conftest import eventually
from tests.support.harness import free_port

PASSWORD = "correct horse battery staple"


def probe_app(runtime: ServiceRuntime) -> FastAPI:
    app = create_service_app(runtime, title="probe")

    @app.get("/whoami")
    async def whoami(principal: Principal = Depends(authenticated)) -> dict[str, Any]:
        return {"subject": principal.subject, "workspace": principal.workspace_id}

    @app.get("/whoami/in-full")
    async def in_full(principal: Principal = Depends(authenticated)) -> dict[str, Any]:
        """What another service makes of a token, down to the API key it stands for."""
        return {
            "subject": principal.subject,
            "kind": principal.kind,
            "role": principal.workspace_role,
            "api_key": principal.api_key_id,
            "scopes": list(principal.scopes),
            "admin_powers": principal.is_admin,
        }

    return app


PROBE = ServiceModule(name="probe", title="Probe", create_app=probe_app, migrations=Path("."))


@dataclass
class Tenant:
    workspace_id: str
    slug: str
    admin_id: str
    admin_email: str
    token: str
    refresh: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class IdentityApp:
    base: str
    probe: str
    host: Host
    client: httpx.AsyncClient
    slugs: list[str] = field(default_factory=list)

    async def create_tenant(self, name: str = "Acme Agency") -> Tenant:
        slug = f"ws-{uuid.uuid4().hex[:10]}"
        email = f"admin@{slug}.test"
        created = await self.client.post(
            f"{self.base}/workspaces",
            json={
                "name": name,
                "slug": slug,
                "time_zone": "Europe/Paris",
                "admin": {"email": email, "display_name": "Ada Admin", "password": PASSWORD},
            },
        )
        assert created.status_code == 201, created.text
        body = created.json()
        tokens = await self.login(slug, email)
        return Tenant(
            body["workspace"]["id"],
            slug,
            body["admin_user_id"],
            email,
            tokens["access_token"],
            tokens["refresh_token"],
        )

    async def login(self, slug: str, email: str, password: str = PASSWORD) -> dict[str, Any]:
        response = await self.client.post(
            f"{self.base}/auth/login",
            json={"workspace": slug, "email": email, "password": password},
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def invite_and_join(self, tenant: Tenant, email: str, **fields: Any) -> tuple[str, str]:
        """Invite someone, accept the mailed link; returns (user id, access token)."""
        invited = await self.client.post(
            f"{self.base}/users/invitations",
            headers=tenant.auth,
            json={"email": email, "display_name": email, **fields},
        )
        assert invited.status_code == 201, invited.text
        link = await self.mailed_link(invited.json()["id"], "invite")
        accepted = await self.client.post(
            f"{self.base}/invitations/accept", json={"token": link, "password": PASSWORD}
        )
        assert accepted.status_code == 200, accepted.text
        return invited.json()["id"], accepted.json()["access_token"]

    async def mailed_link(self, user_id: str, purpose: str) -> str:
        """The token of the newest link mailed to a user (read from identity's outbox, which is
        what the notifications service would receive)."""
        from sqlalchemy import select

        from kit.db import OUTBOX

        runtime = self.host.runtimes[0]
        async with runtime.engine.connect() as connection:
            rows = (
                (
                    await connection.execute(
                        select(OUTBOX.c.payload)
                        .where(OUTBOX.c.event_type == "identity.invitation.created.v1")
                        .order_by(OUTBOX.c.seq.desc())
                    )
                )
                .scalars()
                .all()
            )
        for payload in rows:
            data = Envelope.from_json(payload).data
            if data["user_id"] == user_id and data["purpose"] == purpose:
                return str(data["accept_url"]).split("token=")[1]
        raise AssertionError(f"no {purpose} link was mailed to {user_id}")

    async def published(
        self, event_type: str | None, workspace: str | None = None
    ) -> list[dict[str, Any]]:
        """The data of every `event_type` event (None: of any type) identity has published,
        oldest first, read from its outbox (what the bus delivers); only one workspace's when
        given."""
        from sqlalchemy import select, true

        from kit.db import OUTBOX

        runtime = self.host.runtimes[0]
        wanted = OUTBOX.c.event_type == event_type if event_type else true()
        async with runtime.engine.connect() as connection:
            rows = (
                (
                    await connection.execute(
                        select(OUTBOX.c.payload).where(wanted).order_by(OUTBOX.c.seq)
                    )
                )
                .scalars()
                .all()
            )
        envelopes = [Envelope.from_json(payload) for payload in rows]
        return [e.data for e in envelopes if workspace is None or e.workspace == workspace]

    async def publish_project(
        self,
        tenant: Tenant,
        *,
        grants: list[InitialGrant] | None = None,
        name: str = "Spring campaign",
    ) -> str:
        """What the tickets service announces when a project is created."""
        project_id = uuid.uuid4()
        event = registry.envelope(
            ProjectCreated(
                project_id=project_id,
                workspace_id=uuid.UUID(tenant.workspace_id),
                name=name,
                created_by=uuid.UUID(tenant.admin_id),
                initial_grants=grants or [],
            ),
            workspace=tenant.workspace_id,
            subject=f"project/{project_id}",
        )
        await self.host.bus.publish([OutgoingMessage.of(event)])

        async def known() -> bool:
            response = await self.client.get(
                f"{self.base}/projects/{project_id}/grants", headers=tenant.auth
            )
            return response.status_code == 200

        await eventually(known, timeout=10)
        return str(project_id)


async def create_kit_tables_at(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(KIT_METADATA.create_all)
    await engine.dispose()


@pytest.fixture(scope="session")
def fast_hashing() -> None:
    """Argon2 at its cheapest: the tests log in hundreds of times."""
    os.environ["DESKLINE_IDENTITY_ARGON2_TIME_COST"] = "1"
    os.environ["DESKLINE_IDENTITY_ARGON2_MEMORY_KIB"] = "64"
    # Every test logs in from 127.0.0.1: the per-address limit would soon lock the suite out.
    # The test of that limit lowers it again, from an address of its own.
    os.environ["DESKLINE_IDENTITY_LOGIN_ATTEMPTS_PER_IP"] = "100000"
    get_settings.cache_clear()


@pytest.fixture(scope="session")
async def identity(
    fast_hashing: None, pg_server_url: str, redis_url: str, session_tag: str, tmp_path_factory: Any
) -> AsyncIterator[IdentityApp]:
    port = free_port()
    settings = Settings(
        database_url=database_url(pg_server_url, f"dltest_{session_tag}_idn"),
        redis_url=redis_url,
        redis_prefix=f"dltest:{session_tag}:identity:",
        namespace=f"t{session_tag}-identity",
        var_dir=tmp_path_factory.mktemp("var"),
        host="127.0.0.1",
        port=port,
        retry_delays=[0.1, 0.2],
    )
    url = settings.database_url_for("identity")
    # The probe keeps its (unused) outbox in a throw-away SQLite file.
    probe_db = settings.var_dir / "probe.sqlite3"
    os.environ["DESKLINE_PROBE_DATABASE_URL"] = f"sqlite+aiosqlite:///{probe_db}"
    await create_kit_tables_at(os.environ["DESKLINE_PROBE_DATABASE_URL"])
    await drop_database(url)
    await asyncio.to_thread(upgrade, identity_module.migrations, url)
    host = Host(settings, [identity_module, PROBE])
    serving = asyncio.create_task(host.serve("127.0.0.1", port))
    base = f"http://127.0.0.1:{port}/api/identity"
    async with httpx.AsyncClient(timeout=30) as client:

        async def up() -> bool:
            try:
                return (await client.get(f"{base}/healthz")).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(up, timeout=30)
        yield IdentityApp(base, f"http://127.0.0.1:{port}/api/probe", host, client)
    host.request_stop()
    await asyncio.wait_for(serving, 30)
    await drop_database(url)
    from redis.asyncio import Redis

    redis: Redis = Redis.from_url(redis_url)
    keys = [key async for key in redis.scan_iter(match=f"dltest:{session_tag}:identity:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


Check = Callable[[], Awaitable[bool]]
