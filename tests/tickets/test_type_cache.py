"""Type definitions kept in memory are never used once the type has changed: every edit of a
type, its workflow or its fields replaces the revision token on the type's row, and a kept
definition is used only while the row (read anyway, in the same query) still carries its token
— in whichever process or app instance the edit ran."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from kit.auth import Principal
from kit.launcher.host import Host
from services.tickets.types import service as types
from tests.conftest import eventually
from tests.support.harness import ServiceHarness, free_port
from tests.tickets.conftest import TICKETS, TicketsApp, Workspace


@asynccontextmanager
async def second_instance(tickets: TicketsApp) -> AsyncIterator[ServiceHarness]:
    """Another tickets app on the same database (its own engine, pool and kept definitions),
    as a second process behind the gateway would be."""
    settings = tickets.host.settings.model_copy(update={"port": free_port()})
    host = Host(settings, [TICKETS])
    serving = asyncio.create_task(host.serve("127.0.0.1", settings.port))
    other = ServiceHarness(f"http://127.0.0.1:{settings.port}/api/tickets", host, tickets.client)

    async def up() -> bool:
        try:
            return (await tickets.client.get(f"{other.base}/healthz")).status_code == 200
        except Exception:
            return False

    try:
        await eventually(up, timeout=30)
        yield other
    finally:
        host.request_stop()
        await asyncio.wait_for(serving, 30)


async def create(app: ServiceHarness, ws: Workspace, **body: Any) -> Any:
    return await app.post(
        "/items", ws.admin_token, json={"project_id": ws.support_project_id, "title": "A", **body}
    )


async def test_a_workflow_edit_in_one_instance_is_seen_at_once_by_another(
    tickets: TicketsApp,
) -> None:
    ws = await tickets.new_workspace()
    async with second_instance(tickets) as other:
        # both instances have read (and keep) the Ticket type as it is now
        for app in (tickets, other):
            first = await create(app, ws)
            assert first.status_code == 201, first.text
            assert first.json()["status_name"] == "New"
        type_url = f"/types/{ws.ticket_type_id}"
        before = (await tickets.get(type_url, ws.admin_token)).json()
        statuses = [
            {"id": s["id"], "name": "Triage" if s["name"] == "New" else s["name"]}
            | {"category": s["category"]}
            for s in before["statuses"]
        ]

        # the first instance renames the first status and adds a required field...
        renamed = await tickets.put(
            f"{type_url}/workflow", ws.admin_token, json={"statuses": statuses}
        )
        assert renamed.status_code == 200, renamed.text
        added = await tickets.post(
            f"{type_url}/fields",
            ws.admin_token,
            json={"key": "site", "label": "Site", "field_type": "text", "required": True},
        )
        assert added.status_code == 201, added.text

        # ...and the second applies both to its very next request, without any event
        refused = await create(other, ws)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"] == [{"field": "site", "message": "This field is required."}]
        created = await create(other, ws, custom_values={"site": "Lyon"})
        assert created.status_code == 201, created.text
        assert created.json()["status_name"] == "Triage"
        assert created.json()["custom_values"] == {"site": "Lyon"}
        seen = (await other.get(type_url, ws.admin_token)).json()
        assert seen["statuses"][0]["name"] == "Triage"
        assert [f["key"] for f in seen["fields"]] == ["site"]

        # removing the field in the second instance frees creation in the first at once
        field_id = added.json()["fields"][0]["id"]
        removed = await other.delete(f"{type_url}/fields/{field_id}", ws.admin_token)
        assert removed.status_code == 200, removed.text
        again = await create(tickets, ws)
        assert again.status_code == 201, again.text


async def test_a_rolled_back_edit_leaves_the_kept_definition_right(tickets: TicketsApp) -> None:
    """A definition read inside an edit that is then rolled back is kept under a token no
    committed row ever carries: the next reader gets the type as committed."""
    ws = await tickets.new_workspace()
    runtime = tickets.runtime
    async with runtime.unit_of_work() as uow:
        committed = await types.load_type(uow.session, ws.id, ws.ticket_type_id)
    principal = Principal(
        subject=ws.admin.id, workspace_id=ws.id, kind="staff", workspace_role="admin"
    )
    async with runtime.unit_of_work() as uow:
        row = await types.locked_type(uow, principal, ws.ticket_type_id)
        row.name = "Renamed, never committed"
        edited = await types.publish_changes(uow, row)  # read back and kept, then rolled back
        assert edited.name == "Renamed, never committed"
        assert edited.revision != committed.revision
    async with runtime.unit_of_work() as uow:
        now = await types.load_type(uow.session, ws.id, ws.ticket_type_id)
    assert now.name == committed.name == "Ticket"
    assert now.revision == committed.revision
    created = await create(tickets, ws)
    assert created.status_code == 201, created.text


async def test_renaming_or_archiving_a_type_reaches_new_items_at_once(
    tickets: TicketsApp,
) -> None:
    ws = await tickets.new_workspace()
    first = await create(tickets, ws)
    assert first.json()["kind"] == "ticket"
    type_url = f"/types/{ws.ticket_type_id}"
    archived = await tickets.post(f"{type_url}/archive", ws.admin_token)
    assert archived.status_code == 200, archived.text
    refused = await create(tickets, ws, type_id=ws.ticket_type_id)
    assert refused.status_code == 422
    assert refused.json()["type"].endswith("type-archived")
    restored = await tickets.post(f"{type_url}/restore", ws.admin_token)
    assert restored.status_code == 200, restored.text
    made_task = await tickets.patch(type_url, ws.admin_token, json={"kind": "task"})
    assert made_task.status_code == 200, made_task.text
    created = await create(tickets, ws, type_id=ws.ticket_type_id)
    assert created.status_code == 201, created.text
    assert created.json()["kind"] == "task"
