"""Triggers as a Zapier-style tool uses them: subscribe, receive, poll, unsubscribe; ids
that stay stable (and change with each update for "updated" triggers); client-safe shapes
without private notes or client-hidden fields; lists limited to what the caller may see."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from contracts.automation import SlaBreached
from contracts.identity import UserCreated
from contracts.tickets import FieldChange
from contracts.timetracking import TimeLogged
from tests.conftest import eventually
from tests.integrations.conftest import IntegrationsApp, Receiver, received
from tests.timetracking.conftest import mint, new_id


async def _poll(
    app: IntegrationsApp, token: str, trigger: str, **params: str
) -> list[dict[str, Any]]:
    response = await app.get(f"/v1/triggers/{trigger}", token, params=params)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


async def _polled(
    app: IntegrationsApp, token: str, trigger: str, n: int, **params: str
) -> list[dict[str, Any]]:
    async def enough() -> bool:
        return len(await _poll(app, token, trigger, **params)) >= n

    await eventually(enough, timeout=15)
    return await _poll(app, token, trigger, **params)


async def test_subscribe_receive_poll_unsubscribe_as_zapier_does(
    integrations: IntegrationsApp, receiver: Receiver
) -> None:
    ws = await integrations.new_workspace()
    project_id = new_id()
    path = receiver.new_path()
    me = await integrations.get("/v1/me", ws.admin_token)
    assert me.status_code == 200
    assert me.json()["workspace_id"] == ws.id

    # performSubscribe
    subscribed = await integrations.post(
        "/v1/hooks",
        ws.admin_token,
        json={
            "target_url": receiver.url(path),
            "event": "item_created",
            "filters": {"project_id": project_id},
        },
    )
    assert subscribed.status_code == 201, subscribed.text
    hook = subscribed.json()

    other_project = await integrations.item_created(ws.id, title="Elsewhere")
    item = await integrations.item_created(ws.id, project_id, title="Hero image", number=1042)
    await received(receiver, path)
    body = receiver.at(path)[0].verified(hook["secret"])

    # perform (the hook's payload) and performList (the polling list) hold the same object.
    listed = await _polled(integrations, ws.admin_token, "item_created", 1, project_id=project_id)
    assert listed == [body["data"]]
    assert body["data"]["id"] == str(item.id)
    assert body["data"]["number"] == 1042
    everything = await _polled(integrations, ws.admin_token, "item_created", 2)
    assert [o["id"] for o in everything] == [str(item.id), str(other_project.id)]  # newest first

    # performUnsubscribe
    gone = await integrations.delete(f"/v1/hooks/{hook['id']}", ws.admin_token)
    assert gone.status_code == 204
    await integrations.item_created(ws.id, project_id, title="After")
    await _polled(integrations, ws.admin_token, "item_created", 2, project_id=project_id)
    assert len(receiver.at(path)) == 1
    again = await integrations.delete(f"/v1/hooks/{hook['id']}", ws.admin_token)
    assert again.status_code == 404


async def test_updated_triggers_give_each_update_its_own_id_and_hide_internal_fields(
    integrations: IntegrationsApp, receiver: Receiver
) -> None:
    ws = await integrations.new_workspace()
    safe_path = receiver.new_path()
    safe = await integrations.endpoint(ws, receiver.url(safe_path), ["item_updated"])
    item = await integrations.item_created(ws.id)
    visible = {"priority": FieldChange(old="normal", new="high")}
    internal = {"cf.margin": FieldChange(old=10, new=30, client_visible=False)}
    await integrations.item_updated(ws.id, item, visible | internal)
    await integrations.item_updated(ws.id, item, internal)

    staff = await _polled(integrations, ws.admin_token, "item_updated", 2)
    assert len({o["id"] for o in staff}) == 2
    assert all(o["id"].startswith(f"{item.id}:") for o in staff)
    assert set(staff[1]["changes"]) == {"priority", "cf.margin"}

    client = await _poll(integrations, ws.admin_token, "item_updated", client_safe="true")
    assert [set(o["changes"]) for o in client] == [{"priority"}]  # the internal-only one: none

    await received(receiver, safe_path)
    body = receiver.at(safe_path)[0].verified(safe["secret"])
    assert set(body["data"]["changes"]) == {"priority"}
    assert "cf.margin" not in receiver.at(safe_path)[0].body.decode()


async def test_private_notes_reach_only_the_staff_variant(
    integrations: IntegrationsApp, receiver: Receiver
) -> None:
    ws = await integrations.new_workspace()
    public_path, staff_path = receiver.new_path(), receiver.new_path()
    await integrations.endpoint(
        ws, receiver.url(public_path), ["comment_added", "comment_added_staff"]
    )
    staff = await integrations.endpoint(
        ws, receiver.url(staff_path), ["comment_added_staff"], client_safe=False
    )
    item = await integrations.item_created(ws.id)
    await integrations.comment(ws.id, item, "Thanks, on it!", "public")
    await integrations.comment(ws.id, item, "Client is late paying", "private")

    await received(receiver, staff_path, 2)
    await received(receiver, public_path, 2)  # the public reply, once per trigger
    public_bodies = b"".join(r.body for r in receiver.at(public_path))
    assert b"Client is late paying" not in public_bodies
    staff_bodies = [r.verified(staff["secret"])["data"] for r in receiver.at(staff_path)]
    assert {b["visibility"] for b in staff_bodies} == {"public", "private"}

    replies = await _polled(integrations, ws.admin_token, "comment_added", 1)
    assert [r["body"] for r in replies] == ["Thanks, on it!"]
    notes = await _polled(integrations, ws.admin_token, "comment_added_staff", 2)
    assert [n["body"] for n in notes] == ["Client is late paying", "Thanks, on it!"]
    safe_notes = await _poll(
        integrations, ws.admin_token, "comment_added_staff", client_safe="true"
    )
    assert [n["body"] for n in safe_notes] == ["Thanks, on it!"]


async def test_time_sla_and_client_triggers(integrations: IntegrationsApp) -> None:
    ws = await integrations.new_workspace()
    project_id = new_id()
    item = await integrations.item_created(ws.id, project_id)
    await _polled(integrations, ws.admin_token, "item_created", 1)
    entry_id = uuid.uuid4()
    await integrations.emit(
        TimeLogged(
            entry_id=entry_id,
            workspace_id=uuid.UUID(ws.id),
            item_id=item.id,
            user_id=uuid.UUID(ws.admin_id),
            minutes=90,
            worked_on=date(2026, 11, 30),
        ),
        ws.id,
        f"entry/{entry_id}",
    )
    breached_at = datetime(2026, 11, 30, 12, tzinfo=UTC)
    await integrations.emit(
        SlaBreached(
            workspace_id=uuid.UUID(ws.id),
            item=item,
            policy_id=uuid.uuid4(),
            policy_name="Gold",
            target="first_response",
            due_at=breached_at,
            breached_at=breached_at,
        ),
        ws.id,
        f"item/{item.id}",
    )
    client_id = uuid.uuid4()
    for kind, user_id in (("client", client_id), ("staff", uuid.uuid4())):
        await integrations.emit(
            UserCreated(
                user_id=user_id,
                workspace_id=uuid.UUID(ws.id),
                email=f"{user_id.hex[:6]}@globex.test",
                display_name="Gloria",
                kind=kind,
                workspace_role="member",
            ),
            ws.id,
            f"user/{user_id}",
        )
    [logged] = await _polled(integrations, ws.admin_token, "time_logged", 1)
    assert logged["id"] == str(entry_id)
    assert logged["minutes"] == 90
    [breach] = await _polled(integrations, ws.admin_token, "sla_breached", 1)
    assert breach["policy_name"] == "Gold"
    assert breach["item_id"] == str(item.id)
    [client] = await _polled(integrations, ws.admin_token, "client_created", 1)
    assert client["id"] == str(client_id)

    # Time on the item is placed in its project, so who may see the project sees the time.
    member_id = new_id()
    member = mint(ws.id, member_id)
    assert await _poll(integrations, member, "time_logged") == []
    await integrations.grant(ws.id, project_id, member_id, "viewer")
    await _polled(integrations, member, "time_logged", 1)
    assert await _poll(integrations, member, "client_created") == []  # admins' matter


async def test_lists_show_only_what_the_caller_may_see(integrations: IntegrationsApp) -> None:
    ws = await integrations.new_workspace()
    shared, hidden = new_id(), new_id()
    member_id = new_id()
    member = mint(ws.id, member_id)
    await integrations.grant(ws.id, shared, member_id, "viewer")
    await integrations.item_created(ws.id, hidden, title="Secret merger")
    await integrations.item_created(ws.id, shared, title="Website")
    await _polled(integrations, ws.admin_token, "item_created", 2)
    seen = await _polled(integrations, member, "item_created", 1)
    assert [o["title"] for o in seen] == ["Website"]

    other = await integrations.new_workspace()
    assert await _poll(integrations, other.admin_token, "item_created") == []
    unknown = await integrations.get("/v1/triggers/nope", ws.admin_token)
    assert unknown.status_code == 404
    catalog = await integrations.get("/v1/triggers", ws.admin_token)
    assert {t["key"] for t in catalog.json()} >= {"item_created", "sla_breached", "client_created"}
    client = mint(ws.id, new_id(), kind="client")
    assert (await integrations.get("/v1/me", client)).status_code == 403
