"""The time-tracking service's rates and reports, served in-process on real PostgreSQL.

Only the routers under test are mounted (rates and reports), on the kit's service app, so
these tests depend on neither the rest of the service nor the bus: access tokens are
minted with a test Ed25519 key (the service verifies them with its public half, as it
would identity's), and rows — projections, grants, entries — are written directly through
the runtime's own session, standing in for the events that would have produced them.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from sqlalchemy import insert

import services.timetracking
from kit.db.engine import drop_database
from kit.db.migrations import upgrade
from kit.db.tables import ACCESS_GRANTS
from kit.http import create_service_app
from kit.launcher.host import Host
from kit.module import ServiceModule
from kit.runtime import ServiceRuntime
from kit.settings import Settings
from kit.testing.infra import database_url
from kit.uow import UnitOfWork
from services.timetracking.models import Base, TimeEntry
from services.timetracking.rates.endpoints import router as rates_router
from services.timetracking.reports.endpoints import router as reports_router

MIGRATIONS = Path(services.timetracking.__file__).parent / "migrations"
SIGNING_KEY = Ed25519PrivateKey.generate()
PUBLIC_PEM = (
    SIGNING_KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)
MOMENT = datetime(2026, 3, 1, tzinfo=UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def mint(
    workspace_id: str,
    user_id: str,
    *,
    kind: str = "staff",
    role: str = "member",
    org: str | None = None,
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": user_id,
        "wid": workspace_id,
        "kind": kind,
        "role": role,
        "org": org,
        "iss": "deskline-identity",
        "aud": "deskline",
        "iat": now,
        "exp": now + 3600,
    }
    return jwt.encode(claims, SIGNING_KEY, algorithm="EdDSA")


def reporting_app(runtime: ServiceRuntime) -> FastAPI:
    app = create_service_app(runtime, title="Deskline timetracking (rates and reports)")
    app.include_router(rates_router)
    app.include_router(reports_router)
    return app


MODULE = ServiceModule(
    name="timetracking", title="Time tracking", create_app=reporting_app, migrations=MIGRATIONS
)


def entry(
    workspace_id: str,
    *,
    user_id: str,
    item_id: str,
    project_id: str,
    organisation_id: str | None,
    worked_on: date,
    minutes: int,
    billable: bool = True,
    status: str = "draft",
    flagged: bool = False,
    deleted: bool = False,
    note: str = "",
    activity_type: str = "",
    entry_id: str | None = None,
) -> TimeEntry:
    """A time entry as the entries service stores it (project and client denormalised)."""
    return TimeEntry(
        id=entry_id or new_id(),
        workspace_id=workspace_id,
        user_id=user_id,
        item_id=item_id,
        project_id=project_id,
        organisation_id=organisation_id,
        worked_on=worked_on,
        minutes=minutes,
        note=note,
        billable=billable,
        activity_type=activity_type,
        status=status,
        source="manual",
        flagged=flagged,
        decision_note="",
        created_at=MOMENT,
        updated_at=MOMENT,
        deleted_at=MOMENT if deleted else None,
    )


@dataclass
class Harness:
    host: Host
    client: httpx.AsyncClient

    @property
    def runtime(self) -> ServiceRuntime:
        return self.host.runtimes[0]

    def unit_of_work(self) -> UnitOfWork:
        return self.runtime.unit_of_work()

    async def request(self, method: str, path: str, token: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        headers["Authorization"] = f"Bearer {token}"
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def get(self, path: str, token: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, token, **kwargs)

    async def post(self, path: str, token: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, token, **kwargs)

    async def patch(self, path: str, token: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", path, token, **kwargs)

    async def delete(self, path: str, token: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", path, token, **kwargs)

    async def insert(self, *rows: Base) -> None:
        async with self.runtime.session_factory() as session:
            session.add_all(rows)
            await session.commit()

    async def grant(self, workspace_id: str, project_id: str, user_id: str, role: str) -> None:
        """A project grant as the access projection holds it after identity's event."""
        async with self.runtime.session_factory() as session:
            await session.execute(
                insert(ACCESS_GRANTS).values(
                    grant_id=new_id(),
                    workspace_id=workspace_id,
                    project_id=project_id,
                    subject_type="user",
                    subject_id=user_id,
                    role=role,
                    as_of=datetime.now(UTC),
                )
            )
            await session.commit()


@asynccontextmanager
async def running(pg_server_url: str, database: str) -> AsyncIterator[Harness]:
    settings = Settings(
        database_url=database_url(pg_server_url, database),
        bus_url="memory://",
        redis_url=None,
        namespace=f"{database}-ns",
        jwt_public_key=PUBLIC_PEM,
    )
    url = settings.database_url_for("timetracking")
    await drop_database(url)
    await asyncio.to_thread(upgrade, MIGRATIONS, url)
    host = Host(settings, [MODULE])
    transport = httpx.ASGITransport(app=host.apps["timetracking"])
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://timetracking") as client:
            yield Harness(host, client)
    finally:
        await host.runtimes[0].stop()
        await host.bus.close()
        await host.redis.aclose()
        await drop_database(url)
