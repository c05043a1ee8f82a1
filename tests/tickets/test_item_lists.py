"""Item lists: filters, sorting, keyset pages, per-status counts, and what each caller sees."""

from __future__ import annotations

from typing import Any

from tests.tickets.conftest import TicketsApp


async def titles(app: TicketsApp, token: str, query: str) -> list[str]:
    response = await app.get(f"/items?{query}", token)
    assert response.status_code == 200, response.text
    return [item["title"] for item in response.json()["items"]]


async def test_filters_sorting_and_pages(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    dev = await tickets.add_user(ws.id, name="Dev")
    client = await tickets.add_user(ws.id, kind="client")
    client_folder = (
        await tickets.post("/folders", ws.admin_token, json={"name": "Acme Furniture"})
    ).json()
    sub_folder = (
        await tickets.post(
            "/folders", ws.admin_token, json={"name": "2027", "parent_id": client_folder["id"]}
        )
    ).json()
    campaign = (
        await tickets.post(
            "/projects",
            ws.admin_token,
            json={"name": "Spring campaign", "folder_ids": [sub_folder["id"]]},
        )
    ).json()
    added = await tickets.post(
        f"/types/{ws.ticket_type_id}/fields",
        ws.admin_token,
        json={
            "key": "channel",
            "label": "Channel",
            "field_type": "single_choice",
            "options": ["print", "web"],
        },
    )
    assert added.status_code == 201
    specs: list[dict[str, Any]] = [
        {
            "title": "Print flyer",
            "priority": "high",
            "due_date": "2026-12-03",
            "custom_values": {"channel": "print"},
        },
        {
            "title": "Web banner",
            "priority": "low",
            "due_date": "2026-12-01",
            "assignees": [{"type": "user", "id": dev.id}],
            "custom_values": {"channel": "web"},
        },
        {"title": "Client wants a new logo", "priority": "urgent", "requester_id": client.id},
        {"title": "Campaign kickoff", "project_id": campaign["id"]},
    ]
    for spec in specs:
        body = {"project_id": ws.support_project_id, **spec}
        assert (await tickets.post("/items", ws.admin_token, json=body)).status_code == 201
    token = ws.admin_token
    assert await titles(tickets, token, "sort=number&order=asc") == [s["title"] for s in specs]
    assert await titles(tickets, token, f"folder_id={client_folder['id']}") == ["Campaign kickoff"]
    assert await titles(tickets, token, f"assignee_id={dev.id}") == ["Web banner"]
    assert await titles(tickets, token, f"requester_id={client.id}") == ["Client wants a new logo"]
    assert await titles(tickets, token, "q=flyer") == ["Print flyer"]
    assert await titles(tickets, token, "cf.channel=web") == ["Web banner"]
    assert await titles(tickets, token, "priority=urgent&priority=high&sort=priority") == [
        "Client wants a new logo",
        "Print flyer",
    ]
    assert await titles(tickets, token, "due_from=2026-12-02&due_to=2026-12-31") == ["Print flyer"]
    by_due = await titles(tickets, token, "sort=due_date&order=asc")
    assert by_due[:2] == [
        "Web banner",
        "Print flyer",
    ]
    number = (await tickets.get("/items?q=banner", token)).json()["items"][0]["number"]
    assert await titles(tickets, token, f"q=%23{number}") == ["Web banner"]

    seen: list[str] = []
    cursor = None
    while True:
        query = "limit=3&sort=number&order=asc" + (f"&cursor={cursor}" if cursor else "")
        page = (await tickets.get(f"/items?{query}", token)).json()
        seen += [item["title"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [s["title"] for s in specs], "pages neither skip nor repeat"
    bad = await tickets.get("/items?cursor=not-a-cursor", token)
    assert bad.status_code == 400

    counts = (await tickets.get("/item-counts", token)).json()
    assert sum(c["count"] for c in counts) == 4
    assert {c["status_category"] for c in counts} == {"new"}


async def test_lists_show_only_what_the_caller_may_see(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    other = await tickets.new_workspace()
    campaign = (await tickets.post("/projects", ws.admin_token, json={"name": "Spring"})).json()
    vendor = await tickets.add_user(ws.id, kind="collaborator")
    await tickets.grant(ws.id, campaign["id"], vendor.id, "editor")
    client = await tickets.add_user(ws.id, kind="client")
    await tickets.grant(ws.id, ws.support_project_id, client.id, "contributor")
    await tickets.post(
        "/items", ws.admin_token, json={"project_id": campaign["id"], "title": "Campaign work"}
    )
    await tickets.post(
        "/items",
        ws.admin_token,
        json={"project_id": ws.support_project_id, "title": "Internal support"},
    )
    await tickets.post(
        "/items", client.token, json={"project_id": ws.support_project_id, "title": "My printer"}
    )
    assert await titles(tickets, vendor.token, "") == ["Campaign work"]
    assert await titles(tickets, client.token, "") == ["My printer"]
    assert sorted(await titles(tickets, ws.admin_token, "")) == [
        "Campaign work",
        "Internal support",
        "My printer",
    ]
    assert await titles(tickets, other.admin_token, "") == []
    counts = (await tickets.get("/item-counts", vendor.token)).json()
    assert sum(c["count"] for c in counts) == 1
