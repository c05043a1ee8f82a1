"""What the tickets service does with other services' events and commands — and that a
redelivered event has no second effect."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from contracts import Envelope, registry
from contracts.identity import RequesterMerged
from contracts.notifications import EmailReceived
from contracts.tickets import AddFollower, PostComment, RemoveFollower, SetStatus
from contracts.timetracking import TimeLogged
from tests.conftest import eventually
from tests.tickets.conftest import TicketsApp


async def deliver_twice(app: TicketsApp, envelope: Envelope) -> None:
    await app.publish(envelope)
    await app.publish(envelope)


async def item(app: TicketsApp, token: str, item_id: str) -> dict[str, Any]:
    found: dict[str, Any] = (await app.get(f"/items/{item_id}", token)).json()
    return found


async def test_a_mailed_request_becomes_a_ticket_and_a_reply_a_comment(
    tickets: TicketsApp,
) -> None:
    ws = await tickets.new_workspace()
    sender = uuid.uuid4()
    mail = EmailReceived(
        message_id="<m1@acme.test>",
        workspace_id=uuid.UUID(ws.id),
        sender_user_id=sender,
        sender_email="jo@acme.test",
        sender_name="Jo",
        subject="Printer on fire",
        body_html="<p>Please help</p>",
    )
    await deliver_twice(tickets, registry.envelope(mail, workspace=ws.id))

    async def filed() -> bool:
        return bool((await tickets.get("/items?q=Printer", ws.admin_token)).json()["items"])

    await eventually(filed, timeout=10)
    found = (await tickets.get("/items?q=Printer", ws.admin_token)).json()["items"]
    assert len(found) == 1, "the redelivered mail created nothing more"
    ticket = found[0]
    assert (ticket["requester_id"], ticket["project_id"]) == (str(sender), ws.support_project_id)
    created = await tickets.published("tickets.item.created.v1", ws.id)
    assert created[-1]["channel"] == "email"

    reply = EmailReceived(
        message_id="<m2@acme.test>",
        workspace_id=uuid.UUID(ws.id),
        sender_user_id=sender,
        sender_email="jo@acme.test",
        subject="Re: Printer on fire",
        body_html="<p>Still burning</p>",
        reply_to_item_id=uuid.UUID(ticket["id"]),
    )
    await deliver_twice(tickets, registry.envelope(reply, workspace=ws.id))

    async def commented() -> bool:
        comments = (await tickets.get(f"/items/{ticket['id']}/comments", ws.admin_token)).json()
        return len(comments) >= 1

    await eventually(commented, timeout=10)
    comments = (await tickets.get(f"/items/{ticket['id']}/comments", ws.admin_token)).json()
    assert [(c["body"], c["channel"], c["author_id"]) for c in comments] == [
        ("<p>Still burning</p>", "email", str(sender))
    ]
    event = (await tickets.published("tickets.comment.added.v1", ws.id))[-1]
    assert event["in_reply_to_message_id"] == "<m2@acme.test>"


async def test_a_merged_requester_takes_over_what_the_minted_id_held(
    tickets: TicketsApp,
) -> None:
    """identity found the sender's address already a user's: the item, its follower row and
    the mailed comment move to that user; nothing names the minted id any more."""
    ws = await tickets.new_workspace()
    minted, known = uuid.uuid4(), uuid.uuid4()
    request = EmailReceived(
        message_id="<merge-1@acme.test>",
        workspace_id=uuid.UUID(ws.id),
        sender_user_id=minted,
        sender_email="kim@acme.test",
        subject="Banner colours",
        body_html="<p>Too bright</p>",
    )
    await tickets.publish(registry.envelope(request, workspace=ws.id))

    async def filed() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = (await tickets.get("/items?q=Banner", ws.admin_token)).json()[
            "items"
        ]
        return found

    async def any_filed() -> bool:
        return bool(await filed())

    await eventually(any_filed, timeout=10)
    [ticket] = await filed()
    reply = request.model_copy(
        update={
            "message_id": "<merge-2@acme.test>",
            "body_html": "<p>Still too bright</p>",
            "reply_to_item_id": uuid.UUID(ticket["id"]),
        }
    )
    await tickets.publish(registry.envelope(reply, workspace=ws.id))

    async def commented() -> bool:
        return bool((await tickets.get(f"/items/{ticket['id']}/comments", ws.admin_token)).json())

    await eventually(commented, timeout=10)
    merge = RequesterMerged(workspace_id=uuid.UUID(ws.id), minted_user_id=minted, user_id=known)
    await deliver_twice(tickets, registry.envelope(merge, workspace=ws.id))

    async def moved() -> bool:
        found = await item(tickets, ws.admin_token, ticket["id"])
        return bool(found["requester_id"] == str(known))

    await eventually(moved, timeout=10)
    after = await item(tickets, ws.admin_token, ticket["id"])
    assert str(minted) in ticket["follower_ids"]  # the requester follows
    assert str(minted) not in after["follower_ids"] and str(known) in after["follower_ids"]
    comments = (await tickets.get(f"/items/{ticket['id']}/comments", ws.admin_token)).json()
    assert [c["author_id"] for c in comments] == [str(known)]
    # The other services' copies of the item follow through the usual update event (once:
    # the redelivered merge found nothing left to move).
    updates = [
        u
        for u in await tickets.published("tickets.item.updated.v1", ws.id)
        if "requester_id" in u["changes"]
    ]
    assert [u["changes"]["requester_id"] for u in updates] == [
        {"old": str(minted), "new": str(known), "client_visible": True}
    ]
    assert updates[0]["item"]["requester_id"] == str(known)


async def test_logging_time_starts_a_new_item_and_moves_percent_complete(
    tickets: TicketsApp,
) -> None:
    ws = await tickets.new_workspace()
    vendor = await tickets.add_user(ws.id, kind="collaborator")
    created = await tickets.post(
        "/items",
        ws.admin_token,
        json={"project_id": ws.support_project_id, "title": "Banner", "estimate_minutes": 240},
    )
    ticket = created.json()
    logged = TimeLogged(
        entry_id=uuid.uuid4(),
        workspace_id=uuid.UUID(ws.id),
        item_id=uuid.UUID(ticket["id"]),
        user_id=uuid.UUID(vendor.id),
        minutes=120,
        worked_on=date(2026, 11, 22),
    )
    await deliver_twice(tickets, registry.envelope(logged, workspace=ws.id))

    async def started() -> bool:
        return bool((await item(tickets, ws.admin_token, ticket["id"]))["percent_complete"] == 50)

    await eventually(started, timeout=10)
    now = await item(tickets, ws.admin_token, ticket["id"])
    assert now["status_category"] == "in_progress"
    more = logged.model_copy(update={"entry_id": uuid.uuid4(), "minutes": 600})
    await tickets.publish(registry.envelope(more, workspace=ws.id))

    async def capped() -> bool:
        return bool((await item(tickets, ws.admin_token, ticket["id"]))["percent_complete"] == 99)

    await eventually(capped, timeout=10)
    reported = logged.model_copy(
        update={"entry_id": uuid.uuid4(), "minutes": 5, "percent_complete": 100}
    )
    await tickets.publish(registry.envelope(reported, workspace=ws.id))

    async def reported_done() -> bool:
        return bool((await item(tickets, ws.admin_token, ticket["id"]))["percent_complete"] == 100)

    await eventually(reported_done, timeout=10)


async def test_automation_commands_act_once_even_when_redelivered(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    ticket = (
        await tickets.post(
            "/items", ws.admin_token, json={"project_id": ws.support_project_id, "title": "Move me"}
        )
    ).json()
    rule = uuid.uuid4()
    move = SetStatus(
        workspace_id=uuid.UUID(ws.id),
        item_id=uuid.UUID(ticket["id"]),
        status_category="in_progress",
        origin={"rule_id": rule, "depth": 1},
    )
    reply = PostComment(
        workspace_id=uuid.UUID(ws.id),
        item_id=uuid.UUID(ticket["id"]),
        body_html="<p>We are on it</p>",
        origin={"rule_id": rule},
    )
    await deliver_twice(tickets, registry.envelope(move, source="automation", workspace=ws.id))
    await deliver_twice(tickets, registry.envelope(reply, source="automation", workspace=ws.id))

    async def done() -> bool:
        current = await item(tickets, ws.admin_token, ticket["id"])
        comments = (await tickets.get(f"/items/{ticket['id']}/comments", ws.admin_token)).json()
        return current["status_category"] == "in_progress" and len(comments) >= 1

    await eventually(done, timeout=10)
    comments = (await tickets.get(f"/items/{ticket['id']}/comments", ws.admin_token)).json()
    assert [c["channel"] for c in comments] == ["rule"], "one comment for two deliveries"
    changes = await tickets.published("tickets.item.status_changed.v1", ws.id)
    assert len(changes) == 1


async def test_a_rule_adds_and_removes_a_follower_once_each(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    ticket = (
        await tickets.post(
            "/items", ws.admin_token, json={"project_id": ws.support_project_id, "title": "Watch"}
        )
    ).json()
    workspace, item_id = uuid.UUID(ws.id), uuid.UUID(ticket["id"])
    vendor = await tickets.add_user(ws.id, kind="collaborator")
    await tickets.grant(ws.id, ws.support_project_id, vendor.id, "editor")
    person = uuid.UUID(vendor.id)
    origin: dict[str, Any] = {"rule_id": uuid.uuid4(), "depth": 1}
    adding = AddFollower(workspace_id=workspace, item_id=item_id, user_id=person, origin=origin)
    await deliver_twice(tickets, registry.envelope(adding, source="automation", workspace=ws.id))

    async def follows() -> bool:
        return person in {
            uuid.UUID(f)
            for f in (await item(tickets, ws.admin_token, ticket["id"]))["follower_ids"]
        }

    await eventually(follows, timeout=10)
    # Followers of a new item travel in its created event; only the vendor is added later.
    assert len(await tickets.published("tickets.follower.added.v1", ws.id)) == 1
    removal = RemoveFollower(workspace_id=workspace, item_id=item_id, user_id=person, origin=origin)
    await deliver_twice(tickets, registry.envelope(removal, source="automation", workspace=ws.id))

    async def removed() -> bool:
        return person not in {
            uuid.UUID(f)
            for f in (await item(tickets, ws.admin_token, ticket["id"]))["follower_ids"]
        }

    await eventually(removed, timeout=10)
    assert len(await tickets.published("tickets.follower.removed.v1", ws.id)) == 1
