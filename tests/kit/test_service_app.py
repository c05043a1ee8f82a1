"""The edge every service shares: health, readiness, problem+json, limits, tokens, fatal tasks."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Coroutine, Sequence
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, FastAPI
from pydantic import BaseModel
from sqlalchemy import text

from kit import context
from kit.auth import Principal, authenticated
from kit.http import Problem, create_service_app
from kit.http.deps import unit_of_work
from kit.launcher.host import Host
from kit.module import ServiceModule
from kit.runtime import ServiceRuntime
from kit.settings import Settings
from kit.uow import UnitOfWork
from tests.conftest import eventually
from tests.support.harness import free_port

SIGNING_KEY = Ed25519PrivateKey.generate()
PUBLIC_PEM = (
    SIGNING_KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


class ThingCreate(BaseModel):
    title: str
    size: int


OPENED: list[UnitOfWork] = []
"""The units of work the probe's `/work` endpoint was given."""


def closed(uow: UnitOfWork) -> bool:
    try:
        uow.session  # noqa: B018 - raises once the unit of work is closed
    except RuntimeError:
        return True
    return False


def probe_app(runtime: ServiceRuntime) -> FastAPI:
    app = create_service_app(runtime, title="probe")

    @app.post("/things", status_code=201)
    async def create_thing(body: ThingCreate) -> ThingCreate:
        return body

    @app.get("/conflict")
    async def conflict() -> None:
        raise Problem(409, "thing-exists", "A thing with that title exists.", thing="t1")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("bug")

    @app.get("/work/{outcome}")
    async def work(outcome: str, uow: UnitOfWork = Depends(unit_of_work)) -> dict[str, bool]:
        await uow.session.execute(text("SELECT 1"))  # checks a connection out, in a transaction
        OPENED.append(uow)
        if outcome == "fails":
            raise Problem(409, "thing-exists", "A thing with that title exists.")
        return {"in_transaction": uow.session.in_transaction()}

    @app.get("/whoami")
    async def whoami(principal: Principal = Depends(authenticated)) -> dict[str, Any]:
        work = context.current()
        return {
            "subject": principal.subject,
            "workspace": principal.workspace_id,
            "kind": principal.kind,
            "teams": list(principal.teams),
            "work": [work.actor, work.workspace, work.service],
        }

    return app


async def serve(module: ServiceModule, settings: Settings) -> tuple[Host, asyncio.Task[int], str]:
    host = Host(settings, [module])
    port = free_port()
    task = asyncio.create_task(host.serve("127.0.0.1", port))
    base = f"http://127.0.0.1:{port}/api/{module.name}"
    async with httpx.AsyncClient() as client:
        for _ in range(200):
            try:
                if (await client.get(f"{base}/healthz")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if task.done():
                break
            await asyncio.sleep(0.05)
    return host, task, base


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(var_dir=tmp_path, jwt_public_key=PUBLIC_PEM, max_body_bytes=1024)


PROBE = ServiceModule(name="probe", title="Probe", create_app=probe_app, migrations=Path("."))


@pytest.fixture
async def base_url(settings: Settings) -> AsyncIterator[str]:
    host, task, base = await serve(PROBE, settings)
    yield base
    host.request_stop()
    assert await asyncio.wait_for(task, 30) == 0


async def test_health_and_readiness(base_url: str) -> None:
    async with httpx.AsyncClient() as client:
        health = await client.get(f"{base_url}/healthz")
        ready = await client.get(f"{base_url}/readyz")
        metrics = await client.get(f"{base_url}/metrics")
    assert health.json() == {"status": "ok", "service": "probe"}
    assert ready.status_code == 200
    assert ready.json()["checks"] == {
        "bus": True,
        "consumers": True,
        "background": True,
        "database": True,
    }
    assert "deskline_http_request_duration_seconds" in metrics.text


async def test_errors_are_problem_json(base_url: str) -> None:
    async with httpx.AsyncClient(headers={"X-Request-ID": "req-123"}) as client:
        missing = await client.get(f"{base_url}/nothing-here")
        invalid = await client.post(f"{base_url}/things", json={"title": 3})
        conflict = await client.get(f"{base_url}/conflict")
        crash = await client.get(f"{base_url}/boom")
    for response in (missing, invalid, conflict, crash):
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["x-request-id"] == "req-123"
        assert response.json()["request_id"] == "req-123"
    assert missing.json()["status"] == 404
    body = invalid.json()
    assert body["type"] == "https://deskline.dev/problems/validation-error"
    assert {tuple(e["location"]) for e in body["errors"]} == {("body", "title"), ("body", "size")}
    assert conflict.json() == {
        "type": "https://deskline.dev/problems/thing-exists",
        "title": "Conflict",
        "status": 409,
        "detail": "A thing with that title exists.",
        "instance": "/api/probe/conflict",
        "request_id": "req-123",
        "thing": "t1",
    }
    assert crash.status_code == 500
    assert "bug" not in crash.text, "internals are logged, not returned"


async def test_units_of_work_a_request_left_open_are_closed_after_it(
    settings: Settings,
) -> None:
    """Uncommitted work is rolled back and its connection returned, whether the endpoint
    answered or failed; the process's own paths answer outside any service."""
    host, task, base = await serve(PROBE, settings)
    pool: Any = host.runtimes[0].engine.pool
    root = base.removesuffix("/api/probe")
    try:
        async with httpx.AsyncClient() as client:
            answered = await client.get(f"{base}/work/answers")
            failed = await client.get(f"{base}/work/fails")
            health = await client.get(f"{root}/healthz")
            elsewhere = await client.get(f"{root}/api/nowhere/things")
            index = await client.get(f"{root}/")
            docs = await client.get(f"{root}/api/probe/docs")

        async def returned() -> bool:
            return len(OPENED) == 2 and all(map(closed, OPENED)) and pool.checkedout() == 0

        await eventually(returned)
    finally:
        host.request_stop()
        assert await asyncio.wait_for(task, 30) == 0
    assert answered.json() == {"in_transaction": True}
    assert failed.status_code == 409
    assert health.json() == {"status": "ok", "services": ["probe"]}
    assert elsewhere.status_code == 404
    assert elsewhere.headers["content-type"] == "application/problem+json"
    assert elsewhere.json()["instance"] == "/api/nowhere/things"
    # The page `deskline run` prints links each service's documentation, which answers.
    assert index.status_code == 200
    assert index.headers["content-type"].startswith("text/html")
    assert 'href="api/probe/docs"' in index.text
    assert docs.status_code == 200


async def test_request_bodies_over_the_limit_are_refused(base_url: str) -> None:
    big = json.dumps({"title": "x" * 2000, "size": 1}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 256):
            yield big[start : start + 256]

    async with httpx.AsyncClient() as client:
        declared = await client.post(
            f"{base_url}/things", content=big, headers={"content-type": "application/json"}
        )
        streamed = await client.post(
            f"{base_url}/things", content=chunks(), headers={"content-type": "application/json"}
        )
        small = await client.post(f"{base_url}/things", json={"title": "ok", "size": 1})
    assert declared.status_code == 413
    assert streamed.status_code == 413
    assert declared.json()["type"] == "https://deskline.dev/problems/payload-too-large"
    assert small.status_code == 201


def token(key: Ed25519PrivateKey = SIGNING_KEY, **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "sub": "user-1",
        "wid": "ws-1",
        "kind": "collaborator",
        "role": "member",
        "teams": ["design"],
        "iss": "deskline-identity",
        "aud": "deskline",
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return jwt.encode(claims, key, algorithm="EdDSA")


async def test_access_tokens_are_verified_with_identitys_public_key(base_url: str) -> None:
    async with httpx.AsyncClient() as client:
        good = await client.get(
            f"{base_url}/whoami", headers={"Authorization": f"Bearer {token()}"}
        )
        none = await client.get(f"{base_url}/whoami")
        expired = await client.get(
            f"{base_url}/whoami",
            headers={"Authorization": f"Bearer {token(exp=int(time.time()) - 5)}"},
        )
        forged = await client.get(
            f"{base_url}/whoami",
            headers={"Authorization": f"Bearer {token(Ed25519PrivateKey.generate())}"},
        )
        wrong_audience = await client.get(
            f"{base_url}/whoami", headers={"Authorization": f"Bearer {token(aud='other')}"}
        )
    assert good.json() == {
        "subject": "user-1",
        "workspace": "ws-1",
        "kind": "collaborator",
        "teams": ["design"],
        "work": ["user-1", "ws-1", "probe"],
    }
    for refused in (none, expired, forged, wrong_audience):
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"


async def test_a_dead_background_task_stops_the_process_non_zero(settings: Settings) -> None:
    async def broken() -> None:
        await asyncio.sleep(0.2)
        raise RuntimeError("consumer crashed")

    def background(_runtime: ServiceRuntime) -> Sequence[tuple[str, Coroutine[Any, Any, Any]]]:
        return [("broken-loop", broken())]

    module = ServiceModule(
        name="fragile",
        title="Fragile",
        create_app=probe_app,
        migrations=Path("."),
        background=background,
    )
    _host, task, _base = await serve(module, settings)
    assert await asyncio.wait_for(task, 30) == 1


def test_each_service_gets_its_own_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedded = Settings(var_dir=tmp_path)
    assert embedded.database_url_for("tickets") == (
        f"sqlite+aiosqlite:///{tmp_path.resolve()}/tickets.sqlite3"
    )
    server = Settings(database_url="postgresql+asyncpg://dl:secret@db:5432/deskline")
    assert server.database_url_for("identity") == (
        "postgresql+asyncpg://dl:secret@db:5432/deskline_identity"
    )
    monkeypatch.setenv("DESKLINE_TICKETS_DATABASE_URL", "postgresql+asyncpg://other/tix")
    assert server.database_url_for("tickets") == "postgresql+asyncpg://other/tix"
