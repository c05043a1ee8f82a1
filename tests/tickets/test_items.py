"""Tickets and tasks through the API: numbering, workflow gates, roles, client view, the
conversation with private notes, conversion, assignment, following, isolation."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.tickets.conftest import TicketsApp, User, Workspace


async def create(app: TicketsApp, token: str, project_id: str, **fields: Any) -> dict[str, Any]:
    response = await app.post(
        "/items",
        token,
        json={"project_id": project_id, "title": "Logo for the spring campaign", **fields},
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def status_id(
    app: TicketsApp, workspace: Workspace, name: str, type_id: str | None = None
) -> str:
    found = (
        await app.get(f"/types/{type_id or workspace.ticket_type_id}", workspace.admin_token)
    ).json()
    return str(next(s["id"] for s in found["statuses"] if s["name"] == name))


async def test_a_ticket_gets_a_number_defaults_and_followers(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    designer = await tickets.add_user(ws.id, name="Dee")
    first = await create(
        tickets,
        ws.admin_token,
        ws.support_project_id,
        assignees=[{"type": "user", "id": designer.id}],
        description="<p onclick='steal()'>Brief<script>x()</script></p>",
    )
    second = await create(tickets, ws.admin_token, ws.support_project_id, title="Second")
    assert second["number"] == first["number"] + 1
    assert (first["kind"], first["status_name"], first["status_category"]) == (
        "ticket",
        "New",
        "new",
    )
    assert first["description"] == "<p>Brief</p>"
    assert set(first["follower_ids"]) == {ws.admin.id, designer.id}
    created = await tickets.published("tickets.item.created.v1", ws.id)
    assert [e["item"]["number"] for e in created] == [first["number"], second["number"]]
    history = (await tickets.get(f"/items/{first['id']}/activity", ws.admin_token)).json()
    assert history[0]["kind"] == "created"


async def test_no_brief_no_start(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    in_progress = await status_id(tickets, ws, "In progress")
    added = await tickets.post(
        f"/types/{ws.ticket_type_id}/fields",
        ws.admin_token,
        json={
            "key": "brief",
            "label": "Brief",
            "field_type": "long_text",
            "required_from_status_id": in_progress,
        },
    )
    assert added.status_code == 201, added.text
    item = await create(tickets, ws.admin_token, ws.support_project_id)
    refused = await tickets.post(
        f"/items/{item['id']}/status", ws.admin_token, json={"status_id": in_progress}
    )
    assert refused.status_code == 422
    problem = refused.json()
    assert problem["type"].endswith("/required-fields-missing")
    assert [f["field"] for f in problem["missing_fields"]] == ["brief"]
    filled = await tickets.patch(
        f"/items/{item['id']}",
        ws.admin_token,
        json={"custom_values": {"brief": "Three logo options"}},
    )
    assert filled.status_code == 200
    moved = await tickets.post(
        f"/items/{item['id']}/status", ws.admin_token, json={"status_id": in_progress}
    )
    assert moved.status_code == 200
    assert moved.json()["status_category"] == "in_progress"
    changed = await tickets.published("tickets.item.status_changed.v1", ws.id)
    assert (changed[-1]["from_category"], changed[-1]["to_category"]) == ("new", "in_progress")


async def test_roles_decide_what_each_may_do(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    item = await create(tickets, ws.admin_token, ws.support_project_id)
    path = f"/items/{item['id']}"
    open_status = await status_id(tickets, ws, "Open")
    people: dict[str, User] = {}
    for role in ("viewer", "contributor", "editor", "manager"):
        people[role] = await tickets.add_user(ws.id, kind="collaborator")
        await tickets.grant(ws.id, ws.support_project_id, people[role].id, role)
    stranger = await tickets.add_user(ws.id, kind="collaborator")

    async def code(user: User, method: str, sub: str, body: dict[str, Any] | None) -> int:
        response = await tickets.request(method, f"{path}{sub}", user.token, json=body)
        return response.status_code

    comment = {"body": "Looks good", "visibility": "public"}
    assert await code(stranger, "GET", "", None) == 404
    assert await code(people["viewer"], "GET", "", None) == 200
    assert await code(people["viewer"], "POST", "/comments", comment) == 403
    assert await code(people["contributor"], "POST", "/comments", comment) == 201
    assert await code(people["contributor"], "POST", "/status", {"status_id": open_status}) == 403
    assert await code(people["editor"], "POST", "/status", {"status_id": open_status}) == 200
    assert await code(people["editor"], "DELETE", "", None) == 403
    assert await code(people["manager"], "DELETE", "", None) == 204
    assert await code(people["manager"], "GET", "", None) == 404, "deleted items are gone"


async def test_clients_see_their_own_items_and_never_private_notes(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    org = "00000000-0000-7000-8000-00000000a001"
    client = await tickets.add_user(ws.id, kind="client", org=org)
    colleague = await tickets.add_user(ws.id, kind="client", org=org)
    await tickets.grant(ws.id, ws.support_project_id, client.id, "contributor")
    item = await create(tickets, client.token, ws.support_project_id, title="Printer broken")
    assert item["requester_id"] == client.id
    await tickets.post(
        f"/items/{item['id']}/comments",
        ws.admin_token,
        json={"body": "On our way", "visibility": "public"},
    )
    await tickets.post(
        f"/items/{item['id']}/comments",
        ws.admin_token,
        json={"body": "Client owes us money", "visibility": "private"},
    )
    seen = (await tickets.get(f"/items/{item['id']}/comments", client.token)).json()
    assert [c["body"] for c in seen] == ["On our way"]
    staff = (await tickets.get(f"/items/{item['id']}/comments", ws.admin_token)).json()
    assert [c["visibility"] for c in staff] == ["public", "private"]
    note = await tickets.post(
        f"/items/{item['id']}/comments",
        client.token,
        json={"body": "psst", "visibility": "private"},
    )
    assert note.status_code == 403
    assert (await tickets.get(f"/items/{item['id']}", colleague.token)).status_code == 404
    events = await tickets.published("tickets.comment.added.v1", ws.id)
    assert [e["visibility"] for e in events] == ["public", "private"]


async def test_organisation_visibility_lets_colleagues_see_each_others_items(
    tickets: TicketsApp,
) -> None:
    ws = await tickets.new_workspace(client_visibility="organisation")
    org = "00000000-0000-7000-8000-00000000a002"
    client = await tickets.add_user(ws.id, kind="client", org=org)
    colleague = await tickets.add_user(ws.id, kind="client", org=org)
    outsider = await tickets.add_user(
        ws.id, kind="client", org="00000000-0000-7000-8000-00000000a003"
    )
    await tickets.grant(ws.id, ws.support_project_id, client.id, "contributor")
    item = await create(tickets, client.token, ws.support_project_id)
    assert (await tickets.get(f"/items/{item['id']}", colleague.token)).status_code == 200
    assert (await tickets.get(f"/items/{item['id']}", outsider.token)).status_code == 404


async def test_internal_fields_stay_internal(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    for key, visible in (("budget", False), ("store", True)):
        added = await tickets.post(
            f"/types/{ws.ticket_type_id}/fields",
            ws.admin_token,
            json={
                "key": key,
                "label": key.title(),
                "field_type": "text",
                "client_visible": visible,
            },
        )
        assert added.status_code == 201
    client = await tickets.add_user(ws.id, kind="client")
    await tickets.grant(ws.id, ws.support_project_id, client.id, "contributor")
    item = await create(tickets, client.token, ws.support_project_id)
    await tickets.patch(
        f"/items/{item['id']}",
        ws.admin_token,
        json={"custom_values": {"budget": "4000", "store": "Lyon"}},
    )
    as_client = (await tickets.get(f"/items/{item['id']}", client.token)).json()
    as_staff = (await tickets.get(f"/items/{item['id']}", ws.admin_token)).json()
    assert as_client["custom_values"] == {"store": "Lyon"}
    assert as_staff["custom_values"] == {"budget": "4000", "store": "Lyon"}
    history = (await tickets.get(f"/items/{item['id']}/activity", client.token)).json()
    assert "4000" not in str(history)
    updated = (await tickets.published("tickets.item.updated.v1", ws.id))[-1]
    assert updated["changes"]["custom.budget"]["client_visible"] is False


async def test_converting_a_ticket_to_a_task_keeps_history_and_conversation(
    tickets: TicketsApp,
) -> None:
    ws = await tickets.new_workspace()
    item = await create(tickets, ws.admin_token, ws.support_project_id)
    await tickets.post(
        f"/items/{item['id']}/comments",
        ws.admin_token,
        json={"body": "Let us plan this", "visibility": "public"},
    )
    converted = await tickets.post(
        f"/items/{item['id']}/convert", ws.admin_token, json={"type_id": ws.task_type_id}
    )
    assert converted.status_code == 200, converted.text
    task = converted.json()
    assert (task["kind"], task["number"], task["status_category"]) == (
        "task",
        item["number"],
        "new",
    )
    planned = await tickets.patch(
        f"/items/{item['id']}",
        ws.admin_token,
        json={
            "start_date": "2026-12-01",
            "due_date": "2026-12-05",
            "estimate_minutes": 480,
            "points": 3,
        },
    )
    assert planned.json()["estimate_minutes"] == 480
    comments = (await tickets.get(f"/items/{item['id']}/comments", ws.admin_token)).json()
    assert [c["body"] for c in comments] == ["Let us plan this"]
    kinds = [
        e["kind"]
        for e in (await tickets.get(f"/items/{item['id']}/activity", ws.admin_token)).json()
    ]
    assert kinds[:2] == ["created", "converted"]
    event = (await tickets.published("tickets.item.converted.v1", ws.id))[-1]
    assert (event["from_kind"], event["item"]["kind"]) == ("ticket", "task")


async def test_assign_follow_move_clone(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    vendor = await tickets.add_user(ws.id, kind="collaborator")
    client = await tickets.add_user(ws.id, kind="client")
    item = await create(tickets, ws.admin_token, ws.support_project_id)
    assigned = await tickets.put(
        f"/items/{item['id']}/assignees",
        ws.admin_token,
        json={"assignees": [{"type": "user", "id": vendor.id}]},
    )
    assert vendor.id in assigned.json()["follower_ids"]
    event = (await tickets.published("tickets.item.assigned.v1", ws.id))[-1]
    assert event["added_user_ids"] == [vendor.id]
    bad = await tickets.put(
        f"/items/{item['id']}/assignees",
        ws.admin_token,
        json={"assignees": [{"type": "user", "id": client.id}]},
    )
    assert bad.status_code == 422, "clients are never assignees"
    followed = await tickets.put(f"/items/{item['id']}/followers/{client.id}", ws.admin_token)
    assert client.id in followed.json()["follower_ids"]
    assert (await tickets.get(f"/items/{item['id']}", client.token)).status_code == 200
    other = (await tickets.post("/projects", ws.admin_token, json={"name": "Spring"})).json()
    moved = await tickets.post(
        f"/items/{item['id']}/move", ws.admin_token, json={"project_id": other["id"]}
    )
    assert moved.json()["project_id"] == other["id"]
    copy = await tickets.post(f"/items/{item['id']}/clone", ws.admin_token)
    assert copy.status_code == 201
    assert copy.json()["number"] != item["number"]


async def test_another_workspace_sees_nothing(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    other = await tickets.new_workspace()
    item = await create(tickets, ws.admin_token, ws.support_project_id)
    for method, sub, body in (
        ("GET", "", None),
        ("PATCH", "", {"title": "x"}),
        ("GET", "/comments", None),
        ("DELETE", "", None),
        ("POST", "/comments", {"body": "x", "visibility": "public"}),
    ):
        response = await tickets.request(
            method, f"/items/{item['id']}{sub}", other.admin_token, json=body
        )
        assert response.status_code == 404, (method, sub)
    moved = await tickets.post(
        "/items", other.admin_token, json={"project_id": ws.support_project_id, "title": "sneaky"}
    )
    assert moved.status_code == 404


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["public", "private"]),
            st.sampled_from(["admin", "editor", "contributor"]),
        ),
        min_size=1,
        max_size=6,
    )
)
async def test_private_notes_never_reach_a_client_property(
    tickets: TicketsApp, conversation: list[tuple[str, str]]
) -> None:
    """Any sequence of public and private comments by staff of any role: the client sees
    exactly the public ones, in every read, and every event says which were private."""
    ws = await tickets.new_workspace()
    client = await tickets.add_user(ws.id, kind="client")
    await tickets.grant(ws.id, ws.support_project_id, client.id, "contributor")
    writers = {"admin": ws.admin}
    for role in ("editor", "contributor"):
        writers[role] = await tickets.add_user(ws.id)
        await tickets.grant(ws.id, ws.support_project_id, writers[role].id, role)
    item = await create(tickets, client.token, ws.support_project_id)
    for index, (visibility, role) in enumerate(conversation):
        posted = await tickets.post(
            f"/items/{item['id']}/comments",
            writers[role].token,
            json={"body": f"{visibility}-{index}", "visibility": visibility},
        )
        assert posted.status_code == 201
    expected = [f"public-{i}" for i, (v, _) in enumerate(conversation) if v == "public"]
    seen = (await tickets.get(f"/items/{item['id']}/comments", client.token)).json()
    assert [c["body"] for c in seen] == expected
    everything = str((await tickets.get(f"/items/{item['id']}", client.token)).json())
    everything += str((await tickets.get(f"/items/{item['id']}/activity", client.token)).json())
    assert "private-" not in everything
    events = await tickets.published("tickets.comment.added.v1", ws.id)
    assert [(e["body"].startswith("private"), e["visibility"] == "private") for e in events] == [
        (v == "private", v == "private") for v, _ in conversation
    ]


async def test_exports_hold_only_what_the_caller_may_see(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    added = await tickets.post(
        f"/types/{ws.ticket_type_id}/fields",
        ws.admin_token,
        json={"key": "margin", "label": "Margin", "field_type": "text"},
    )
    assert added.status_code == 201
    client = await tickets.add_user(ws.id, kind="client")
    await tickets.grant(ws.id, ws.support_project_id, client.id, "contributor")
    mine = await create(tickets, client.token, ws.support_project_id, title="Broken chair")
    await create(tickets, ws.admin_token, ws.support_project_id, title="Internal planning")
    await tickets.patch(
        f"/items/{mine['id']}", ws.admin_token, json={"custom_values": {"margin": "62%"}}
    )
    await tickets.post(
        f"/items/{mine['id']}/comments",
        ws.admin_token,
        json={"body": "A new one ships Monday", "visibility": "public"},
    )
    await tickets.post(
        f"/items/{mine['id']}/comments",
        ws.admin_token,
        json={"body": "Charge them double", "visibility": "private"},
    )

    async def export(token: str) -> list[dict[str, str]]:
        import csv
        import io

        response = await tickets.get("/item-export", token)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        return list(csv.DictReader(io.StringIO(response.text)))

    as_client = await export(client.token)
    assert [row["title"] for row in as_client] == ["Broken chair"]
    assert as_client[0]["last_public_reply"] == "A new one ships Monday"
    assert "Charge them double" not in str(as_client)
    assert "62%" not in str(as_client), "internal fields stay internal"
    as_staff = await export(ws.admin_token)
    assert [row["title"] for row in as_staff] == ["Broken chair", "Internal planning"]
    assert "62%" in as_staff[0]["custom_values"]
    assert "Charge them double" not in str(as_staff), "exports carry public replies only"
