"""Rules through the real bus with the tickets service running: tickets and automation run in
one host, each with its own database (PostgreSQL on RabbitMQ, and the embedded SQLite on the
in-memory bus), and know of each other only through events and commands. Identity is
played by the test (its events on the bus, its tokens minted with a test key).

- "when the assignee comments on a ticket in New, move it to In progress": a comment by the
  assignee moves the ticket; a comment by someone else leaves it where it is;
- two rules that undo each other stop at chain depth 10, and the stop is in the log.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from contracts import EventData, registry
from contracts.identity import GrantGiven, UserCreated, WorkspaceCreated
from kit.bus.base import OutgoingMessage
from kit.db.engine import drop_database
from kit.db.migrations import upgrade
from kit.launcher.host import Host
from kit.settings import Settings
from kit.testing.infra import database_url
from services.automation.models import Execution, TypeView
from services.automation.module import module as automation_module
from services.tickets.module import module as tickets_module
from tests.conftest import eventually
from tests.e2e.agency import ASSIGNEE_COMMENTS_STARTS_WORK
from tests.support.buses import delete_namespace
from tests.support.harness import free_port
from tests.timetracking.conftest import PUBLIC_PEM, mint

MODULES = [tickets_module, automation_module]


@dataclass
class System:
    host: Host
    client: httpx.AsyncClient
    workspace_id: str
    admin: dict[str, str]
    admin_id: str

    async def identity_says(self, data: EventData, subject: str) -> None:
        envelope = registry.envelope(data, workspace=self.workspace_id, subject=subject)
        await self.host.bus.publish([OutgoingMessage.of(envelope)])

    async def add_staff(self, name: str) -> tuple[str, dict[str, str]]:
        user_id = str(uuid.uuid4())
        await self.identity_says(
            UserCreated(
                user_id=uuid.UUID(user_id),
                workspace_id=uuid.UUID(self.workspace_id),
                email=f"{user_id[:8]}@acme.test",
                display_name=name,
                kind="staff",
                workspace_role="member",
            ),
            f"user/{user_id}",
        )
        return user_id, {"Authorization": f"Bearer {mint(self.workspace_id, user_id)}"}

    async def executions(self, rule_id: str) -> list[Execution]:
        runtime = next(r for r in self.host.runtimes if r.name == "automation")
        async with runtime.session_factory() as session:
            rows = await session.scalars(
                select(Execution).where(Execution.rule_id == rule_id).order_by(Execution.id)
            )
            return list(rows)

    async def item(self, item_id: str) -> dict[str, Any]:
        found: dict[str, Any] = (
            await self.client.get(f"/tickets/items/{item_id}", headers=self.admin)
        ).json()
        return found

    async def rule(self, body: dict[str, Any]) -> str:
        response = await self.client.post("/automation/rules", headers=self.admin, json=body)
        assert response.status_code == 201, response.text
        rule_id: str = response.json()["id"]
        return rule_id


@pytest.fixture(params=["embedded", "rabbitmq-postgres"])
async def system(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    namespace: str,
    session_tag: str,
    pg_server_url: str,
) -> AsyncIterator[System]:
    """`embedded` is `deskline run` (SQLite files, the in-memory bus); the other the same
    services on PostgreSQL and RabbitMQ."""
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
    amqp_url = ""
    if request.param == "rabbitmq-postgres":
        amqp_url = request.getfixturevalue("amqp_url")
        name = f"dltest_{session_tag}_{namespace[-8:]}"
        common |= {"database_url": database_url(pg_server_url, name), "bus_url": amqp_url}
    settings = Settings(**common)
    for module in MODULES:
        await drop_database(settings.database_url_for(module.name))
        await asyncio.to_thread(upgrade, module.migrations, settings.database_url_for(module.name))
    host = Host(settings, MODULES)
    serving = asyncio.create_task(host.serve("127.0.0.1", port))
    workspace_id, admin_id = str(uuid.uuid4()), str(uuid.uuid4())
    admin = {"Authorization": f"Bearer {mint(workspace_id, admin_id, role='admin')}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/api", timeout=30) as client:

        async def ready() -> bool:
            if serving.done():
                raise AssertionError(f"the host stopped: {serving.result()}")
            try:
                responses = [await client.get(f"/{m.name}/readyz") for m in MODULES]
            except httpx.TransportError:
                return False
            return all(r.status_code == 200 for r in responses)

        await eventually(ready, timeout=30)
        system = System(host, client, workspace_id, admin, admin_id)
        await system.identity_says(
            UserCreated(
                user_id=uuid.UUID(admin_id),
                workspace_id=uuid.UUID(workspace_id),
                email=f"{admin_id[:8]}@acme.test",
                display_name="Ada Admin",
                kind="staff",
                workspace_role="admin",
            ),
            f"user/{admin_id}",
        )
        await system.identity_says(
            WorkspaceCreated(
                workspace_id=uuid.UUID(workspace_id),
                name="Acme",
                slug=f"acme-{workspace_id[:8]}",
                time_zone="Europe/Paris",
                created_by=uuid.UUID(admin_id),
            ),
            f"workspace/{workspace_id}",
        )
        yield system
    host.request_stop()
    await asyncio.wait_for(serving, 30)
    if amqp_url:
        await delete_namespace(amqp_url, namespace)
    for module in MODULES:
        await drop_database(settings.database_url_for(module.name))


async def support_project(system: System) -> str:
    found: list[str] = []

    async def has_project() -> bool:
        response = await system.client.get("/tickets/projects", headers=system.admin)
        projects = response.json()["items"] if response.status_code == 200 else []
        found[:] = [p["id"] for p in projects]
        return bool(found)

    await eventually(has_project, timeout=30)
    return found[0]


async def new_ticket(system: System, project_id: str, assignee_id: str, title: str) -> str:
    created = await system.client.post(
        "/tickets/items",
        headers=system.admin,
        json={
            "project_id": project_id,
            "title": title,
            "assignees": [{"type": "user", "id": assignee_id}],
        },
    )
    assert created.status_code == 201, created.text
    item: dict[str, Any] = created.json()
    assert item["status_category"] == "new"
    return str(item["id"])


async def test_the_assignee_commenting_moves_a_new_ticket_to_in_progress(system: System) -> None:
    project_id = await support_project(system)
    assignee_id, assignee = await system.add_staff("Asha Assignee")
    other_id, other = await system.add_staff("Olaf Other")
    rule_id = await system.rule(ASSIGNEE_COMMENTS_STARTS_WORK)

    async def ticket_for(assignee: str, title: str) -> str:
        """Refused until tickets knows the person (identity's event is on its way)."""
        made: list[str] = []

        async def create() -> bool:
            try:
                made.append(await new_ticket(system, project_id, assignee, title))
            except AssertionError:
                return False
            return True

        await eventually(create, timeout=30, interval=0.2)
        return made[0]

    moved = await ticket_for(assignee_id, "Logo is blurry")
    untouched = await ticket_for(assignee_id, "Footer link broken")
    for person in (assignee_id, other_id):  # both may comment on the support project
        await system.identity_says(
            GrantGiven(
                grant_id=uuid.uuid4(),
                workspace_id=uuid.UUID(system.workspace_id),
                project_id=uuid.UUID(project_id),
                subject_type="user",
                subject_id=uuid.UUID(person),
                role="contributor",
            ),
            f"project/{project_id}",
        )

    async def comment(item_id: str, headers: dict[str, str], body: str) -> None:
        """Refused (404) until tickets has the grant."""

        async def posted() -> bool:
            response = await system.client.post(
                f"/tickets/items/{item_id}/comments", headers=headers, json={"body": body}
            )
            assert response.status_code in (201, 404), response.text
            return response.status_code == 201

        await eventually(posted, timeout=30, interval=0.2)

    await comment(untouched, other, "Any news?")
    await comment(moved, assignee, "Looking into it.")

    async def started() -> bool:
        return bool((await system.item(moved))["status_category"] == "in_progress")

    await eventually(started, timeout=30)
    assert (await system.item(moved))["status_name"] == "In progress"

    async def both_evaluated() -> bool:
        return len(await system.executions(rule_id)) >= 2

    await eventually(both_evaluated, timeout=30)
    runs = {r.item_id: r for r in await system.executions(rule_id)}
    assert runs[moved].outcome == "fired"
    assert runs[moved].actions[0]["command"] == "tickets.command.set_status.v1"
    assert runs[untouched].outcome == "not_matched"
    assert {
        "condition": {"type": "actor", "check": "is_assignee", "team_id": None, "negate": False},
        "result": False,
    } in runs[untouched].conditions
    assert (await system.item(untouched))["status_category"] == "new"


async def test_two_rules_undoing_each_other_stop_at_depth_ten(system: System) -> None:
    project_id = await support_project(system)
    assignee_id, _ = await system.add_staff("Asha Assignee")

    def flip(name: str, when: str, to: str) -> dict[str, Any]:
        return {
            "name": name,
            "trigger": {"kind": "status_changed"},
            "conditions": {
                "conditions": [{"type": "field", "field": "status", "op": "is", "value": when}]
            },
            "actions": [{"type": "set_status", "status_name": to}],
        }

    ping = await system.rule(flip("Open means waiting", "Open", "Waiting on client"))
    pong = await system.rule(flip("Waiting means open", "Waiting on client", "Open"))
    made: list[str] = []

    async def create() -> bool:
        try:
            made.append(await new_ticket(system, project_id, assignee_id, "Ping pong"))
        except AssertionError:
            return False
        return True

    await eventually(create, timeout=30, interval=0.2)
    open_id = await _status_id(system, made[0], "Open")
    moved = await system.client.post(
        f"/tickets/items/{made[0]}/status", headers=system.admin, json={"status_id": open_id}
    )
    assert moved.status_code == 200, moved.text

    async def stopped() -> bool:
        runs = await system.executions(ping) + await system.executions(pong)
        return any(r.outcome == "stopped" for r in runs)

    await eventually(stopped, timeout=60)
    runs = sorted(await system.executions(ping) + await system.executions(pong), key=lambda r: r.id)
    fired = [r for r in runs if r.outcome == "fired"]
    assert [r.depth for r in fired] == list(range(10))
    assert [r.rule_id for r in fired] == [ping, pong] * 5
    stop = next(r for r in runs if r.outcome == "stopped")
    assert stop.depth == 10
    assert "depth 10" in stop.reason
    # Each rule also saw its own change and let it be.
    assert any(r.outcome == "skipped" and "this rule" in r.reason for r in runs)


async def _status_id(system: System, item_id: str, name: str) -> str:
    """From automation's projection of the item's type (tickets announced it)."""
    runtime = next(r for r in system.host.runtimes if r.name == "automation")
    item = await system.item(item_id)

    async def known() -> bool:
        async with runtime.session_factory() as session:
            return await session.get(TypeView, item["type_id"]) is not None

    await eventually(known, timeout=30)
    async with runtime.session_factory() as session:
        row = await session.get(TypeView, item["type_id"])
        assert row is not None
        return str(next(s["id"] for s in row.statuses if s["name"] == name))
