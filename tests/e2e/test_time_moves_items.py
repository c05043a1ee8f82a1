"""Logging time moves the work (T3) through the real bus: tickets and time tracking run in one
host, each with its own database, and know of each other only through events.

Tickets announces the item; time tracking projects it and lets a contributor log time on it;
tickets hears `timetracking.time.logged.v1`, moves the New item to in progress and updates
its percent complete; time tracking hears that move in turn. Identity is played by the test
(its events on the bus, its tokens minted with a test key)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts import EventData, registry
from contracts.identity import GrantGiven, UserCreated, WorkspaceCreated
from kit.bus.base import OutgoingMessage
from kit.db.engine import drop_database
from kit.db.migrations import upgrade
from kit.launcher.host import Host
from kit.settings import Settings
from kit.testing.infra import database_url
from services.tickets.module import module as tickets_module
from services.timetracking.models import ItemRef
from services.timetracking.module import module as timetracking_module
from tests.conftest import eventually
from tests.support.buses import delete_namespace
from tests.support.harness import free_port
from tests.timetracking.conftest import PUBLIC_PEM, mint


@pytest.fixture(params=["embedded", "memory-bus-postgres", "rabbitmq-postgres"])
async def system(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    namespace: str,
    session_tag: str,
    pg_server_url: str,
) -> AsyncIterator[tuple[Host, str]]:
    port = free_port()
    common: dict[str, Any] = {
        "var_dir": tmp_path,
        "host": "127.0.0.1",
        "port": port,
        "namespace": namespace,
        "retry_delays": [0.1, 0.2],
        "outbox_poll_interval": 0.1,
        "jwt_public_key": PUBLIC_PEM,
    }
    if request.param != "embedded":
        name = f"dltest_{session_tag}_{namespace[-8:]}"
        common["database_url"] = database_url(pg_server_url, name)
    amqp_url = ""
    if request.param == "rabbitmq-postgres":
        amqp_url = request.getfixturevalue("amqp_url")
        common["bus_url"] = amqp_url
    settings = Settings(**common)
    modules = [tickets_module, timetracking_module]
    for module in modules:
        await drop_database(settings.database_url_for(module.name))
        await asyncio.to_thread(upgrade, module.migrations, settings.database_url_for(module.name))
    host = Host(settings, modules)
    serving = asyncio.create_task(host.serve("127.0.0.1", port))
    base = f"http://127.0.0.1:{port}/api"
    async with httpx.AsyncClient() as client:

        async def ready() -> bool:
            if serving.done():
                raise AssertionError(f"the host stopped: {serving.result()}")
            try:
                responses = [
                    await client.get(f"{base}/{name}/readyz")
                    for name in ("tickets", "timetracking")
                ]
            except httpx.TransportError:
                return False
            return all(r.status_code == 200 for r in responses)

        await eventually(ready, timeout=30)
    yield host, base
    host.request_stop()
    await asyncio.wait_for(serving, 30)
    if amqp_url:
        await delete_namespace(amqp_url, namespace)
    for module in modules:
        await drop_database(settings.database_url_for(module.name))


async def test_logging_time_on_a_new_item_moves_it_to_in_progress(
    system: tuple[Host, str],
) -> None:
    host, base = system
    workspace_id, admin_id, person_id = (str(uuid.uuid4()) for _ in range(3))

    async def identity_says(data: EventData, subject: str) -> None:
        envelope = registry.envelope(data, workspace=workspace_id, subject=subject)
        await host.bus.publish([OutgoingMessage.of(envelope)])

    for user_id, role in ((admin_id, "admin"), (person_id, "member")):
        await identity_says(
            UserCreated(
                user_id=uuid.UUID(user_id),
                workspace_id=uuid.UUID(workspace_id),
                email=f"{user_id[:8]}@acme.test",
                display_name="Someone",
                kind="staff",
                workspace_role="admin" if role == "admin" else "member",
            ),
            f"user/{user_id}",
        )
    await identity_says(
        WorkspaceCreated(
            workspace_id=uuid.UUID(workspace_id),
            name="Acme",
            slug=f"acme-{workspace_id[:8]}",
            time_zone="Europe/Paris",
            created_by=uuid.UUID(admin_id),
        ),
        f"workspace/{workspace_id}",
    )
    admin = {"Authorization": f"Bearer {mint(workspace_id, admin_id, role='admin')}"}
    person = {"Authorization": f"Bearer {mint(workspace_id, person_id)}"}

    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def support_project() -> str | None:
            response = await client.get("/tickets/projects", headers=admin)
            projects = response.json()["items"] if response.status_code == 200 else []
            return projects[0]["id"] if projects else None

        async def has_defaults() -> bool:
            return await support_project() is not None

        await eventually(has_defaults, timeout=30)
        project_id = await support_project()
        assert project_id is not None
        await identity_says(
            GrantGiven(
                grant_id=uuid.uuid4(),
                workspace_id=uuid.UUID(workspace_id),
                project_id=uuid.UUID(project_id),
                subject_type="user",
                subject_id=uuid.UUID(person_id),
                role="contributor",
            ),
            f"project/{project_id}",
        )
        created = await client.post(
            "/tickets/items",
            headers=admin,
            json={"project_id": project_id, "title": "Spring banner", "estimate_minutes": 240},
        )
        assert created.status_code == 201, created.text
        item = created.json()
        assert item["status_category"] == "new"

        logged: list[httpx.Response] = []

        async def log_an_hour() -> bool:
            """Refused (unknown item) until the item and the grant reach time tracking."""
            response = await client.post(
                "/timetracking/entries",
                headers=person,
                json={
                    "item_id": item["id"],
                    "worked_on": datetime.now(UTC).date().isoformat(),
                    "minutes": 60,
                },
            )
            assert response.status_code in (201, 422), response.text
            logged.append(response)
            return response.status_code == 201

        await eventually(log_an_hour, timeout=30, interval=0.2)

        async def ticket() -> dict[str, Any]:
            found: dict[str, Any] = (
                await client.get(f"/tickets/items/{item['id']}", headers=admin)
            ).json()
            return found

        async def started() -> bool:
            now = await ticket()
            return bool(now["status_category"] == "in_progress" and now["percent_complete"] == 25)

        await eventually(started, timeout=30)

        timer = await client.post(
            "/timetracking/timers", headers=person, json={"item_id": item["id"]}
        )
        assert timer.status_code == 201, timer.text
        stopped = await client.post(
            "/timetracking/timers/current/stop", headers=person, json={"percent_complete": 70}
        )
        assert stopped.status_code == 200, stopped.text

        async def reported() -> bool:
            return bool((await ticket())["percent_complete"] == 70)

        await eventually(reported, timeout=30)

    timetracking = next(r for r in host.runtimes if r.name == "timetracking")

    async def projected_back() -> bool:
        async with timetracking.session_factory() as session:
            row = await session.get(ItemRef, item["id"])
        return row is not None and row.status_category == "in_progress"

    await eventually(projected_back, timeout=30)
