"""Tickets on PostgreSQL with 100,000 items in 200 projects: create-item throughput through the
API against a raw FastAPI + asyncpg insert-with-outbox endpoint, and filtered-list latency
against the same query sent raw — both baselines served the same way in the same run.

Targets: create throughput ≥ 0.5 of the baseline; filtered list p95 < 50 ms.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from sqlalchemy import insert, select

from kit.db.engine import drop_database
from kit.db.migrations import upgrade
from kit.launcher.host import Host
from kit.settings import Settings
from kit.testing import infra
from services.tickets.defaults import create_defaults
from services.tickets.models import Item, ItemCounter, Project, Status
from services.tickets.module import module as tickets_module
from services.tickets.types import repository as types_repository
from tests.support.harness import free_port

ITEMS = int(os.environ.get("BENCH_ITEMS", "100000"))
PROJECTS = 200
CREATES = int(os.environ.get("BENCH_CREATES", "1000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
WARM_UP = 50
CONCURRENCY = 16
LIST_REQUESTS = 300
KEY = Ed25519PrivateKey.generate()


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


async def seed(host: Host, workspace_id: str, admin_id: str) -> tuple[list[str], str, str]:
    """Defaults, 199 more projects and the items, written in bulk (not what is measured)."""
    runtime = host.runtimes[0]
    async with runtime.unit_of_work() as uow:
        await create_defaults(uow, workspace_id, uuid.UUID(admin_id))
        await uow.commit()
    async with runtime.unit_of_work() as uow:
        session = uow.session
        ticket_type = next(
            t
            for t in await types_repository.item_types(
                session, workspace_id, include_archived=False
            )
            if t.kind == "ticket"
        )
        statuses = list(
            (
                await session.execute(select(Status).where(Status.type_id == ticket_type.id))
            ).scalars()
        )
        moment = datetime.now(UTC)
        for index in range(PROJECTS - 1):
            session.add(
                Project(
                    id=str(uuid.uuid4()),
                    workspace_id=workspace_id,
                    name=f"Campaign {index}",
                    description="",
                    created_at=moment,
                )
            )
        await session.flush()
        projects = list(
            (
                await session.execute(
                    select(Project.id).where(Project.workspace_id == workspace_id)
                )
            ).scalars()
        )
        rng = random.Random(7)
        for start in range(0, ITEMS, 5000):
            rows = []
            for number in range(start, min(ITEMS, start + 5000)):
                status = rng.choice(statuses)
                rows.append(
                    {
                        "id": str(uuid.uuid4()),
                        "workspace_id": workspace_id,
                        "number": number + 1,
                        "project_id": rng.choice(projects),
                        "type_id": ticket_type.id,
                        "status_id": status.id,
                        "status_category": status.category,
                        "title": f"Request {number}",
                        "description": "",
                        "description_format": "html",
                        "priority": rng.choice(["low", "normal", "high", "urgent"]),
                        "due_date": date(2026, 12, 1) + timedelta(days=rng.randrange(60)),
                        "percent_complete": 0,
                        "logged_minutes": 0,
                        "custom_values": {},
                        "created_at": moment,
                        "updated_at": moment,
                    }
                )
            await session.execute(insert(Item), rows)
        session.add(ItemCounter(workspace_id=workspace_id, next_number=ITEMS + 1))
        await uow.commit()
    return projects, ticket_type.id, statuses[0].id


def raw_app(dsn: str, workspace_id: str, type_id: str, status_id: str) -> FastAPI:
    """The baseline: one handwritten transaction per request — counter, item, outbox row."""
    state: dict[str, Any] = {}
    app = FastAPI()

    @app.on_event("startup")
    async def start() -> None:
        state["pool"] = await asyncpg.create_pool(dsn, min_size=4, max_size=10)

    @app.on_event("shutdown")
    async def stop() -> None:
        await state["pool"].close()

    @app.post("/raw/items", status_code=201)
    async def create(body: dict[str, Any]) -> dict[str, Any]:
        item_id, moment = str(uuid.uuid4()), datetime.now(UTC)
        async with state["pool"].acquire() as connection, connection.transaction():
            number = await connection.fetchval(
                "UPDATE item_counters SET next_number = next_number + 1 "
                "WHERE workspace_id = $1 RETURNING next_number - 1",
                workspace_id,
            )
            await connection.execute(
                "INSERT INTO items (id, workspace_id, number, project_id, type_id, status_id, "
                "status_category, title, description, description_format, priority, "
                "percent_complete, logged_minutes, custom_values, created_at, updated_at) "
                "VALUES ($1,$2,$3,$4,$5,$6,'new',$7,'','html','normal',0,0,'{}',$8,$8)",
                item_id,
                workspace_id,
                number,
                body["project_id"],
                type_id,
                status_id,
                body["title"],
                moment,
            )
            event = json.dumps({"id": item_id, "type": "tickets.item.created.v1"})
            await connection.execute(
                "INSERT INTO outbox (event_id, event_type, payload, created_at) "
                "VALUES ($1, 'tickets.item.created.v1', $2, $3)",
                str(uuid.uuid4()),
                event,
                moment,
            )
        return {"id": item_id, "number": number}

    @app.get("/raw/items")
    async def listing(project_id: str, status_category: str) -> dict[str, Any]:
        async with state["pool"].acquire() as connection:
            rows = await connection.fetch(
                "SELECT * FROM items WHERE workspace_id = $1 AND deleted_at IS NULL "
                "AND project_id = $2 AND status_category = $3 ORDER BY number DESC, id DESC "
                "LIMIT 51",
                workspace_id,
                project_id,
                status_category,
            )
        return {"items": [dict(r) | {"custom_values": r["custom_values"]} for r in rows][:50]}

    return app


async def serve(app: Any, port: int) -> tuple[Any, asyncio.Task[None]]:
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
        await asyncio.sleep(0.05)
    return server, task


async def timed(send: Callable[[int], Awaitable[httpx.Response]], count: int) -> float:
    """Seconds to send `count` creates, CONCURRENCY at a time."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)

    async def worker() -> None:
        while not queue.empty():
            response = await send(queue.get_nowait())
            assert response.status_code == 201, response.text

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.perf_counter() - started


async def throughputs(
    raw: Callable[[int], Awaitable[httpx.Response]],
    api: Callable[[int], Awaitable[httpx.Response]],
) -> tuple[float, float, list[float]]:
    """Items/s of the baseline and of the API, and the ratio of each round.

    Both are warmed up first (connections opened, statements prepared), then measured in
    alternating rounds, so a change in the load of the (shared) machine falls on both alike
    rather than on whichever happened to run at that moment.
    """
    await timed(raw, WARM_UP)
    await timed(api, WARM_UP)
    per_round = max(1, CREATES // ROUNDS)
    raw_seconds = api_seconds = 0.0
    ratios = []
    for _ in range(ROUNDS):
        raw_round, api_round = await timed(raw, per_round), await timed(api, per_round)
        raw_seconds, api_seconds = raw_seconds + raw_round, api_seconds + api_round
        ratios.append(raw_round / api_round)
    total = per_round * ROUNDS
    return total / raw_seconds, total / api_seconds, ratios


async def p95(fetch: Callable[[int], Awaitable[httpx.Response]]) -> float:
    timings = []
    for n in range(LIST_REQUESTS):
        started = time.perf_counter()
        response = await fetch(n)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    return statistics.quantiles(timings, n=20)[18]


async def run() -> None:
    pg = infra.resolve(infra.POSTGRES)
    tag = uuid.uuid4().hex[:8]
    workspace_id, admin_id = str(uuid.uuid4()), str(uuid.uuid4())
    public_pem = (
        KEY.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    settings = Settings(
        database_url=infra.database_url(pg, f"dlbench_{tag}"),
        jwt_public_key=public_pem,
        namespace=f"bench-{tag}",
    )
    url = settings.database_url_for("tickets")
    await asyncio.to_thread(upgrade, tickets_module.migrations, url)
    host = Host(settings, [tickets_module])
    port, raw_port = free_port(), free_port()
    serving = asyncio.create_task(host.serve("127.0.0.1", port))
    try:
        async with httpx.AsyncClient(timeout=60) as client:
            while True:
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/healthz")).is_success:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            started = time.perf_counter()
            projects, type_id, status_id = await seed(host, workspace_id, admin_id)
            seeded = time.perf_counter() - started
            dsn = url.replace("postgresql+asyncpg://", "postgresql://")
            raw_server, raw_task = await serve(
                raw_app(dsn, workspace_id, type_id, status_id), raw_port
            )
            auth = {"Authorization": f"Bearer {token(workspace_id, admin_id)}"}
            api, raw = f"http://127.0.0.1:{port}/api/tickets", f"http://127.0.0.1:{raw_port}"
            rng = random.Random(11)

            def body(n: int) -> dict[str, Any]:
                return {"project_id": rng.choice(projects), "title": f"Created {n}"}

            raw_rate, api_rate, ratios = await throughputs(
                lambda n: client.post(f"{raw}/raw/items", json=body(n)),
                lambda n: client.post(f"{api}/items", json=body(n), headers=auth),
            )
            raw_p95 = await p95(
                lambda n: client.get(
                    f"{raw}/raw/items",
                    params={"project_id": projects[n % PROJECTS], "status_category": "open"},
                )
            )
            api_p95 = await p95(
                lambda n: client.get(
                    f"{api}/items",
                    headers=auth,
                    params={"project_id": projects[n % PROJECTS], "status_category": "open"},
                )
            )
            raw_server.should_exit = True
            await raw_task
    finally:
        host.request_stop()
        await serving
        await drop_database(url)
    print(
        f"tickets, {ITEMS} items in {PROJECTS} projects (seeded in {seeded:.0f} s), "
        f"{CREATES} creates each with {CONCURRENCY} in flight, in {ROUNDS} alternating rounds:"
    )
    print(f"  raw FastAPI + asyncpg insert with outbox : {raw_rate:8.0f} items/s")
    print(f"  POST /api/tickets/items                  : {api_rate:8.0f} items/s")
    print(f"  ratio (target >= 0.5)                    : {api_rate / raw_rate:8.2f}")
    print(
        f"  ratio per round (min / median / max)     : {min(ratios):8.2f} / "
        f"{statistics.median(ratios):.2f} / {max(ratios):.2f}"
    )
    print(f"  filtered list p95, raw SQL               : {raw_p95:8.1f} ms")
    print(f"  filtered list p95, GET /items            : {api_p95:8.1f} ms (target < 50 ms)")
