"""Writing new items: numbers stay unique and gapless per workspace under concurrent creation
(its first items included, which create the workspace's counter), and every item comes with
its followers, its "created" history entry and its event — on PostgreSQL, where one statement
writes them, and on SQLite (the embedded mode), where one statement per table does."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.support.harness import running_service
from tests.tickets.conftest import TICKETS, TicketsApp, tickets_settings


async def create_many(app: TicketsApp, token: str, project_id: str, count: int) -> list[Any]:
    responses = await asyncio.gather(
        *(
            app.post("/items", token, json={"project_id": project_id, "title": f"Request {n}"})
            for n in range(count)
        )
    )
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    return [r.json() for r in responses]


async def check_concurrent_creation(app: TicketsApp, count: int) -> None:
    ws = await app.new_workspace()
    designer = await app.add_user(ws.id, name="Dee")
    items = await create_many(app, ws.admin_token, ws.support_project_id, count)
    assert sorted(i["number"] for i in items) == list(range(1000, 1000 + count))
    assert all(i["follower_ids"] == [ws.admin.id] for i in items)
    for item in items[:3]:
        history = (await app.get(f"/items/{item['id']}/activity", ws.admin_token)).json()
        assert [(e["kind"], e["changes"]["status"]) for e in history] == [("created", "New")]
        read = (await app.get(f"/items/{item['id']}", ws.admin_token)).json()
        assert read["follower_ids"] == [ws.admin.id] and read["number"] == item["number"]
    created = await app.published("tickets.item.created.v1", ws.id)
    assert sorted(e["item"]["number"] for e in created) == list(range(1000, 1000 + count))
    assert {tuple(e["item"]["follower_ids"]) for e in created} == {(ws.admin.id,)}

    # assignees and a named requester follow as well, on the same write
    client = await app.add_user(ws.id, kind="client", name="Cleo")
    response = await app.post(
        "/items",
        ws.admin_token,
        json={
            "project_id": ws.support_project_id,
            "title": "On behalf of a client",
            "requester_id": client.id,
            "assignees": [{"type": "user", "id": designer.id}],
        },
    )
    assert response.status_code == 201, response.text
    item = response.json()
    assert item["number"] == 1000 + count
    assert item["assignees"] == [{"type": "user", "id": designer.id}]
    assert sorted(item["follower_ids"]) == sorted([ws.admin.id, designer.id, client.id])
    read = (await app.get(f"/items/{item['id']}", ws.admin_token)).json()
    assert sorted(read["follower_ids"]) == sorted(item["follower_ids"])
    assert read["assignees"] == item["assignees"]


async def test_concurrent_creates_get_unique_consecutive_numbers(tickets: TicketsApp) -> None:
    await check_concurrent_creation(tickets, 24)


@pytest.fixture
async def embedded(tmp_path: Path, session_tag: str) -> Any:
    """The tickets service on SQLite, as `deskline run` keeps it."""
    settings = tickets_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'deskline.sqlite3'}",
        f"t{session_tag}-tickets-sqlite",
        tmp_path,
    )
    async with running_service(TICKETS, settings) as (base, host, client):
        yield TicketsApp(base, host, client)


async def test_items_are_written_alike_on_sqlite(embedded: TicketsApp) -> None:
    await check_concurrent_creation(embedded, 8)
    # a workflow edit reaches the next item at once there too
    ws = await embedded.new_workspace()
    type_url = f"/types/{ws.ticket_type_id}"
    before = (await embedded.get(type_url, ws.admin_token)).json()
    first = (
        await embedded.post(
            "/items", ws.admin_token, json={"project_id": ws.support_project_id, "title": "A"}
        )
    ).json()
    assert first["status_name"] == "New"
    renamed = [
        {"id": s["id"], "name": "Triage" if s["name"] == "New" else s["name"]}
        | {"category": s["category"]}
        for s in before["statuses"]
    ]
    edited = await embedded.put(f"{type_url}/workflow", ws.admin_token, json={"statuses": renamed})
    assert edited.status_code == 200, edited.text
    second = await embedded.post(
        "/items", ws.admin_token, json={"project_id": ws.support_project_id, "title": "B"}
    )
    assert second.json()["status_name"] == "Triage"
