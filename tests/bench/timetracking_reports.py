"""Time reports on PostgreSQL over a month of an agency's time: 50 people logging 20 entries a
day for 30 days (30,000 entries, bulk-inserted) on 400 items in 40 projects of 10 clients.

Measured: the hours-per-client-per-week report, ~100 calls each, through the service
function (as an admin, and as a member who may view half the projects) and through HTTP
in-process (token check, JSON) — against the same aggregate sent as raw SQL with asyncpg in
the same run, which is the floor any implementation pays.

Target: p95 < 200 ms.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from sqlalchemy import insert, text

import services.timetracking
from kit.auth import Principal
from kit.db.engine import drop_database
from kit.db.migrations import upgrade
from kit.db.tables import ACCESS_GRANTS
from kit.http import create_service_app
from kit.launcher.host import Host
from kit.module import ServiceModule
from kit.runtime import ServiceRuntime
from kit.settings import Settings
from kit.testing import infra
from services.timetracking.models import (
    ItemRef,
    OrganisationRef,
    PersonRef,
    ProjectRef,
    TimeEntry,
)
from services.timetracking.reports import service
from services.timetracking.reports.endpoints import router as reports_router

PEOPLE = 50
ENTRIES_PER_DAY = int(os.environ.get("BENCH_ENTRIES_PER_DAY", "20"))
DAYS = 30
CLIENTS, PROJECTS, ITEMS = 10, 40, 400
CALLS = int(os.environ.get("BENCH_CALLS", "100"))
FIRST_DAY = date(2026, 3, 1)
LAST_DAY = FIRST_DAY + timedelta(days=DAYS - 1)
MIGRATIONS = Path(services.timetracking.__file__).parent / "migrations"
KEY = Ed25519PrivateKey.generate()

RAW_SQL = """
SELECT CAST(date_trunc('week', CAST(worked_on AS TIMESTAMP)) AS DATE) AS week,
       organisation_id,
       sum(minutes) AS minutes,
       sum(CASE WHEN billable THEN minutes ELSE 0 END) AS billable_minutes
FROM time_entries
WHERE workspace_id = $1 AND worked_on >= $2 AND worked_on <= $3
  AND deleted_at IS NULL AND status <> 'rejected'
GROUP BY 1, 2
ORDER BY 1, 2
"""


def token(workspace_id: str, user_id: str) -> str:
    now = int(time.time())
    return jwt.encode(
        {
            "sub": user_id,
            "wid": workspace_id,
            "kind": "staff",
            "role": "admin",
            "iss": "deskline-identity",
            "aud": "deskline",
            "iat": now,
            "exp": now + 3600,
        },
        KEY,
        algorithm="EdDSA",
    )


def reports_app(runtime: ServiceRuntime) -> FastAPI:
    app = create_service_app(runtime, title="timetracking reports (bench)")
    app.include_router(reports_router)
    return app


async def seed(runtime: ServiceRuntime, workspace_id: str, member_id: str) -> list[str]:
    """Projections and a month of entries, in bulk (not what is measured); returns the
    projects the member may view."""
    rng = random.Random(7)
    moment = datetime.now(UTC)
    clients = [str(uuid.uuid4()) for _ in range(CLIENTS)]
    projects = [(str(uuid.uuid4()), clients[n % CLIENTS]) for n in range(PROJECTS)]
    items = [(str(uuid.uuid4()), rng.choice(projects)) for _ in range(ITEMS)]
    people = [str(uuid.uuid4()) for _ in range(PEOPLE)]
    async with runtime.session_factory() as session:
        await session.execute(
            insert(OrganisationRef),
            [
                {"id": c, "workspace_id": workspace_id, "name": f"Client {n}"}
                for n, c in enumerate(clients)
            ],
        )
        await session.execute(
            insert(ProjectRef),
            [
                {
                    "id": p,
                    "workspace_id": workspace_id,
                    "name": f"Project {n}",
                    "client_organisation_id": c,
                    "archived": False,
                }
                for n, (p, c) in enumerate(projects)
            ],
        )
        await session.execute(
            insert(PersonRef),
            [
                {
                    "id": p,
                    "workspace_id": workspace_id,
                    "email": f"p{n}@example.test",
                    "display_name": f"Person {n}",
                    "kind": "staff",
                    "active": True,
                }
                for n, p in enumerate(people)
            ],
        )
        await session.execute(
            insert(ItemRef),
            [
                {
                    "id": i,
                    "workspace_id": workspace_id,
                    "number": n + 1,
                    "title": f"Item {n}",
                    "project_id": p,
                    "type_id": "type",
                    "kind": "task",
                    "status_category": "open",
                    "estimate_minutes": 600,
                    "deleted": False,
                }
                for n, (i, (p, _)) in enumerate(items)
            ],
        )
        rows: list[dict[str, Any]] = []
        for day_index in range(DAYS):
            day = FIRST_DAY + timedelta(days=day_index)
            for person in people:
                for _ in range(ENTRIES_PER_DAY):
                    item, (project, client) = rng.choice(items)
                    rows.append(
                        {
                            "id": str(uuid.uuid4()),
                            "workspace_id": workspace_id,
                            "user_id": person,
                            "item_id": item,
                            "project_id": project,
                            "organisation_id": client,
                            "worked_on": day,
                            "minutes": rng.choice((15, 20, 30, 45)),
                            "note": "",
                            "billable": rng.random() < 0.8,
                            "activity_type": "",
                            "status": "approved",
                            "source": "manual",
                            "flagged": False,
                            "decision_note": "",
                            "created_at": moment,
                            "updated_at": moment,
                        }
                    )
        for start in range(0, len(rows), 5000):
            await session.execute(insert(TimeEntry), rows[start : start + 5000])
        visible = [p for p, _ in projects[: PROJECTS // 2]]
        await session.execute(
            insert(ACCESS_GRANTS),
            [
                {
                    "grant_id": str(uuid.uuid4()),
                    "workspace_id": workspace_id,
                    "project_id": p,
                    "subject_type": "user",
                    "subject_id": member_id,
                    "role": "viewer",
                    "as_of": moment,
                }
                for p in visible
            ],
        )
        await session.commit()
    async with runtime.engine.connect() as connection:
        await connection.execute(text("ANALYZE"))
    return visible


async def p95(call: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    """(p95, median) in ms over CALLS calls, after a few to warm caches and pools."""
    for _ in range(5):
        await call()
    timings = []
    for _ in range(CALLS):
        started = time.perf_counter()
        await call()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.quantiles(timings, n=20)[18], statistics.median(timings)


async def run() -> None:
    pg = infra.resolve(infra.POSTGRES)
    tag = uuid.uuid4().hex[:8]
    workspace_id, admin_id, member_id = (str(uuid.uuid4()) for _ in range(3))
    public_pem = (
        KEY.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    settings = Settings(
        database_url=infra.database_url(pg, f"dlbench_{tag}"),
        jwt_public_key=public_pem,
        namespace=f"bench-{tag}",
        redis_url=None,
        bus_url="memory://",
    )
    url = settings.database_url_for("timetracking")
    await asyncio.to_thread(upgrade, MIGRATIONS, url)
    module = ServiceModule(
        name="timetracking", title="Time tracking", create_app=reports_app, migrations=MIGRATIONS
    )
    host = Host(settings, [module])
    runtime = host.runtimes[0]
    try:
        started = time.perf_counter()
        await seed(runtime, workspace_id, member_id)
        seeded = time.perf_counter() - started
        admin = Principal(admin_id, workspace_id, "staff", workspace_role="admin")
        member = Principal(member_id, workspace_id, "staff")

        def report(principal: Principal) -> Callable[[], Awaitable[Any]]:
            async def call() -> Any:
                async with runtime.unit_of_work() as uow:
                    return await service.hours(
                        uow,
                        principal,
                        group_by="client",
                        period="week",
                        start=FIRST_DAY,
                        end=LAST_DAY,
                    )

            return call

        dsn = url.replace("postgresql+asyncpg://", "postgresql://")
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)

        async def raw() -> Any:
            async with pool.acquire() as connection:
                return await connection.fetch(RAW_SQL, workspace_id, FIRST_DAY, LAST_DAY)

        check = await report(admin)()
        raw_rows = await raw()
        assert check.total_minutes == sum(r["minutes"] for r in raw_rows)
        groups = len(raw_rows)
        raw_p95, raw_median = await p95(raw)
        admin_p95, admin_median = await p95(report(admin))
        member_p95, member_median = await p95(report(member))
        transport = httpx.ASGITransport(app=host.apps["timetracking"])
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            auth = {"Authorization": f"Bearer {token(workspace_id, admin_id)}"}
            params = {"from": str(FIRST_DAY), "to": str(LAST_DAY), "group_by": "client"}

            async def http() -> Any:
                response = await client.get("/reports/hours", params=params, headers=auth)
                assert response.status_code == 200, response.text
                return response

            http_p95, http_median = await p95(http)
        await pool.close()
    finally:
        await runtime.stop()
        await host.bus.close()
        await host.redis.aclose()
        await drop_database(url)
    total = PEOPLE * ENTRIES_PER_DAY * DAYS
    print(
        f"timetracking reports, {total} entries ({PEOPLE} people x {ENTRIES_PER_DAY}/day x "
        f"{DAYS} days, seeded in {seeded:.1f} s), hours per client per week "
        f"({groups} rows), {CALLS} calls each:"
    )
    lines = [
        ("raw SQL aggregate (asyncpg)", raw_p95, raw_median),
        ("service.hours, admin", admin_p95, admin_median),
        ("service.hours, member (20 of 40)", member_p95, member_median),
        ("GET /reports/hours in-process", http_p95, http_median),
    ]
    for label, high, middle in lines:
        print(
            f"  {label:34} p95 {high:6.1f} ms  median {middle:6.1f} ms"
            f"  p95 ratio to raw {high / raw_p95:5.2f}"
        )
    print("  target: p95 < 200 ms")
