"""The gateway against the real owners: an API key (exchanged at identity) and a user token;
actions answered with the created object, searches as arrays, dropdown lists, and the
webhook a created ticket causes, all through RabbitMQ."""

from __future__ import annotations

from typing import Any

from tests.conftest import eventually
from tests.integrations.conftest import Receiver, received
from tests.integrations.system import System


async def _get(system: System, headers: dict[str, str], path: str, **params: Any) -> Any:
    response = await system.client.get(f"{system.gateway}{path}", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def _post(system: System, headers: dict[str, str], path: str, body: Any) -> Any:
    response = await system.client.post(f"{system.gateway}{path}", headers=headers, json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def test_actions_searches_and_lists_through_an_api_key(
    system: System, receiver: Receiver
) -> None:
    admin_token, workspace_id = await system.workspace()
    key = {"x-api-key": await system.api_key(admin_token, ["read", "write", "admin"])}
    me = await _get(system, key, "/me")
    assert (me["workspace_id"], me["kind"]) == (workspace_id, "staff")
    assert me["api_key_id"] is not None and me["scopes"] == ["admin", "read", "write"]

    async def defaults() -> bool:
        response = await system.client.get(f"{system.gateway}/lists/projects", headers=key)
        return response.status_code == 200 and bool(response.json())

    await eventually(defaults, timeout=30)  # tickets set the workspace up from identity's event
    [support] = await _get(system, key, "/lists/projects")
    types = {t["name"]: t["id"] for t in await _get(system, key, "/lists/types")}
    assert {"Ticket", "Task"} <= set(types)
    statuses = {
        s["name"]: s["id"]
        for s in await _get(system, key, "/lists/statuses", type_id=types["Ticket"])
    }
    assert "Open" in statuses
    assert await _get(system, key, "/lists/fields", type_id=types["Ticket"]) == []
    people = await _get(system, key, "/lists/users")
    assert [p["name"] for p in people] == ["Ada Admin"]
    admin_id = people[0]["id"]

    path = receiver.new_path()
    hook = await _post(
        system,
        key,
        "/hooks",
        {
            "target_url": receiver.url(path),
            "event": "item_created",
            "filters": {"project_id": support["id"]},
        },
    )

    ticket = await _post(
        system,
        key,
        "/actions/create-ticket",
        {"project_id": support["id"], "title": "Printer on fire", "priority": "high"},
    )
    assert ticket["title"] == "Printer on fire"
    assert ticket["type_id"] == types["Ticket"]
    task = await _post(
        system, key, "/actions/create-task", {"project_id": support["id"], "title": "Order toner"}
    )
    assert task["type_id"] == types["Task"]

    await received(receiver, path, 2, timeout=30)
    delivered = [r.verified(hook["secret"])["data"] for r in receiver.at(path)]
    assert {d["item_id"] for d in delivered} == {ticket["id"], task["id"]}

    comment = await _post(
        system,
        key,
        "/actions/add-comment",
        {"item_id": ticket["id"], "body": "Extinguisher found", "visibility": "private"},
    )
    assert comment["visibility"] == "private"
    moved = await _post(
        system,
        key,
        "/actions/update-item",
        {"item_id": ticket["id"], "status_id": statuses["Open"], "title": "Printer was on fire"},
    )
    assert (moved["status_id"], moved["title"]) == (statuses["Open"], "Printer was on fire")
    assigned = await _post(
        system, key, "/actions/assign", {"item_id": ticket["id"], "user_ids": [admin_id]}
    )
    assert [a["id"] for a in assigned["assignees"]] == [admin_id]
    client = await _post(
        system,
        key,
        "/actions/create-client",
        {"email": "gloria@globex.test", "display_name": "Gloria", "organisation_name": "Globex"},
    )
    assert client["kind"] == "client"
    assert client["client_organisation_id"] is not None

    by_number = await _get(system, key, "/search/items", number=ticket["number"])
    assert [i["id"] for i in by_number] == [ticket["id"]]
    by_title = await _get(system, key, "/search/items", title="toner")
    assert [i["id"] for i in by_title] == [task["id"]]
    assert await _get(system, key, "/search/items", title="nothing like this") == []
    [found] = await _get(system, key, "/search/clients", email="GLORIA@globex.test")
    assert found["id"] == client["id"]
    [project] = await _get(system, key, "/search/projects", name="support")
    assert project["id"] == support["id"]

    polled = await _get(system, key, "/triggers/item_created")
    assert {o["item_id"] for o in polled} == {ticket["id"], task["id"]}
    assert sorted(o["id"] for o in polled) == sorted(d["id"] for d in delivered)

    async def client_announced() -> bool:
        return bool(await _get(system, key, "/triggers/client_created"))

    await eventually(client_announced, timeout=30)


async def test_a_user_token_logs_time_and_the_owners_refusals_come_through(
    system: System,
) -> None:
    admin_token, _ = await system.workspace()
    user = {"authorization": f"Bearer {admin_token}"}

    async def defaults() -> bool:
        response = await system.client.get(f"{system.gateway}/lists/projects", headers=user)
        return response.status_code == 200 and bool(response.json())

    await eventually(defaults, timeout=30)
    [support] = await _get(system, user, "/lists/projects")
    ticket = await _post(
        system, user, "/actions/create-ticket", {"project_id": support["id"], "title": "VPN down"}
    )

    async def logged() -> Any:
        return await system.client.post(
            f"{system.gateway}/actions/log-time",
            headers=user,
            json={"item_id": ticket["id"], "minutes": 45, "note": "Restarted the router"},
        )

    answers: list[Any] = []

    async def time_tracking_knows_the_item() -> bool:
        answers.append(await logged())
        return bool(answers[-1].status_code != 404)

    # Time tracking learns of the item from tickets' event, a moment after it was created.
    await eventually(time_tracking_knows_the_item, timeout=30)
    assert answers[-1].status_code == 201, answers[-1].text
    assert answers[-1].json()["minutes"] == 45
    entries = await system.client.get(
        f"{system.api}/timetracking/entries", headers=user, params={"item_id": ticket["id"]}
    )
    assert entries.json()["items"][0]["minutes"] == 45

    refused = await system.client.post(
        f"{system.gateway}/actions/create-ticket",
        headers=user,
        json={"project_id": "00000000-0000-0000-0000-000000000000", "title": "Nowhere"},
    )
    assert refused.status_code == 404
    assert refused.headers["content-type"] == "application/problem+json"
    invalid = await system.client.post(
        f"{system.gateway}/actions/log-time", headers=user, json={"item_id": ticket["id"]}
    )
    assert invalid.status_code == 422
    bad_key = await system.client.get(f"{system.gateway}/me", headers={"x-api-key": "dlk_nope"})
    assert bad_key.status_code == 401


async def _projects(system: System, headers: dict[str, str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    async def listed() -> bool:
        response = await system.client.get(f"{system.gateway}/lists/projects", headers=headers)
        found[:] = response.json() if response.status_code == 200 else []
        return bool(found)

    await eventually(listed, timeout=30)  # tickets set the workspace up from identity's event
    return found


async def test_a_write_key_acts_as_its_creator_and_a_read_key_changes_nothing(
    system: System,
) -> None:
    """A key does what the admin who made it may do, as that admin: the ticket, the comment
    and the time are theirs. A read key is refused every action, by the gateway and by the
    owning services themselves when its token is sent to them directly."""
    admin_token, _ = await system.workspace()
    me = await system.client.get(
        f"{system.api}/identity/me", headers={"authorization": f"Bearer {admin_token}"}
    )
    admin_id = me.json()["user_id"]
    write = {"x-api-key": await system.api_key(admin_token, ["write"])}
    read_secret = await system.api_key(admin_token, ["read"])
    read = {"x-api-key": read_secret}
    [support] = await _projects(system, write)
    assert [p["id"] for p in await _projects(system, read)] == [support["id"]]

    ticket = await _post(
        system, write, "/actions/create-ticket", {"project_id": support["id"], "title": "Jammed"}
    )
    assert ticket["created_by"] == admin_id
    comment = await _post(
        system,
        write,
        "/actions/add-comment",
        {"item_id": ticket["id"], "body": "Cleared the tray", "visibility": "public"},
    )
    assert comment["author_id"] == admin_id

    answers: list[Any] = []

    async def time_logged() -> bool:
        answers.append(
            await system.client.post(
                f"{system.gateway}/actions/log-time",
                headers=write,
                json={"item_id": ticket["id"], "minutes": 20, "note": "Tray"},
            )
        )
        # Time tracking learns of the item from tickets' event, a moment after it was created.
        return bool(answers[-1].status_code != 404)

    await eventually(time_logged, timeout=30)
    assert answers[-1].status_code == 201, answers[-1].text
    entry = answers[-1].json()
    assert (entry["minutes"], entry["user_id"]) == (20, admin_id)
    client = await _post(
        system,
        write,
        "/actions/create-client",
        {"email": "wanda@wonka.test", "display_name": "Wanda", "organisation_name": "Wonka"},
    )
    assert client["kind"] == "client"

    refused_actions = {
        "/actions/create-ticket": {"project_id": support["id"], "title": "Not by a read key"},
        "/actions/add-comment": {"item_id": ticket["id"], "body": "No", "visibility": "public"},
        "/actions/log-time": {"item_id": ticket["id"], "minutes": 5},
        "/actions/create-client": {"email": "x@wonka.test", "display_name": "X"},
    }
    for path, body in refused_actions.items():
        refused = await system.client.post(f"{system.gateway}{path}", headers=read, json=body)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"].endswith("/insufficient-scope")
    # What the read key may do, it does: it finds the ticket the write key made.
    found = await _get(system, read, "/search/items", number=ticket["number"])
    assert [i["id"] for i in found] == [ticket["id"]]

    # Sent straight to the owners, the read key's token is refused there too.
    exchanged = await system.client.post(
        f"{system.api}/identity/api-keys/token", headers={"x-api-key": read_secret}
    )
    direct = {"authorization": f"Bearer {exchanged.json()['access_token']}"}
    for service, path, body in (
        (
            "tickets",
            "/items",
            {"project_id": support["id"], "type_id": ticket["type_id"], "title": "X"},
        ),
        ("tickets", f"/items/{ticket['id']}/comments", {"body": "X", "visibility": "public"}),
        (
            "timetracking",
            "/entries",
            {"item_id": ticket["id"], "minutes": 5, "worked_on": "2026-12-01"},
        ),
        ("identity", "/client-organisations", {"name": "X"}),
    ):
        refused = await system.client.post(
            f"{system.api}/{service}{path}", headers=direct, json=body
        )
        assert refused.status_code == 403, (service, path, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
    # Nor the person's own things, which anyone who may view may change: the admin's
    # comment, their timer, their following of the item, a folder, a key of their own.
    own_things: list[tuple[str, str, str, dict[str, Any] | None]] = [
        ("PATCH", "tickets", f"/comments/{comment['id']}", {"body": "Edited by a read key"}),
        ("DELETE", "tickets", f"/comments/{comment['id']}", None),
        ("PUT", "tickets", f"/items/{ticket['id']}/followers/{admin_id}", None),
        ("POST", "tickets", "/folders", {"name": "By a read key"}),
        ("POST", "timetracking", "/timers", {"item_id": ticket["id"]}),
        ("POST", "identity", "/api-keys", {"name": "More", "scopes": ["read"]}),
    ]
    for method, service, path, payload in own_things:
        refused = await system.client.request(
            method, f"{system.api}/{service}{path}", headers=direct, json=payload
        )
        assert refused.status_code == 403, (method, path, refused.text)
        assert refused.json()["type"].endswith("/insufficient-scope")
        if service == "identity":  # which also takes the key itself
            with_secret = await system.client.request(
                method, f"{system.api}/{service}{path}", headers=read, json=payload
            )
            assert with_secret.status_code == 403, (method, path, with_secret.text)
    comments = await system.client.get(
        f"{system.api}/tickets/items/{ticket['id']}/comments", headers=direct
    )
    assert [c["body"] for c in comments.json()] == ["Cleared the tray"]
    # An exchanged token is not a key: it cannot be exchanged again (its person's role and
    # teams would outlive a change to them).
    again = await system.client.post(f"{system.api}/identity/api-keys/token", headers=direct)
    assert again.status_code == 400, again.text
    assert again.json()["type"].endswith("/api-key-only")
    readable = await system.client.get(f"{system.api}/tickets/items/{ticket['id']}", headers=direct)
    assert readable.status_code == 200
