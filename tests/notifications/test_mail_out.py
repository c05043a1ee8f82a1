"""Mail out through the real bus to a real SMTP sink (N1): private notes reach only staff and
collaborators; a sink that is down for 30 s gets every mail once it is back, none twice; a
permanent refusal is recorded with the server's reason and not retried."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import eventually
from tests.notifications.conftest import MailSystem, Tenant
from tests.notifications.test_mail_in import mail


async def new_item(system: MailSystem, tenant: Tenant, title: str) -> dict[str, Any]:
    projects = await system.client.get(f"{system.base}/tickets/projects", headers=tenant.auth)
    project_id = projects.json()["items"][0]["id"]
    created = await system.client.post(
        f"{system.base}/tickets/items",
        headers=tenant.auth,
        json={"project_id": project_id, "title": title},
    )
    assert created.status_code == 201, created.text
    item: dict[str, Any] = created.json()
    return item


async def follow(system: MailSystem, tenant: Tenant, item_id: str, user_id: str) -> None:
    """Refused (422) until the person's grant has reached tickets."""

    async def followed() -> bool:
        response = await system.client.put(
            f"{system.base}/tickets/items/{item_id}/followers/{user_id}", headers=tenant.auth
        )
        assert response.status_code in (200, 422), response.text
        return response.status_code == 200

    await eventually(followed, timeout=30, interval=0.2)


async def comment(
    system: MailSystem, tenant: Tenant, item_id: str, body: str, visibility: str = "public"
) -> str:
    response = await system.client.post(
        f"{system.base}/tickets/items/{item_id}/comments",
        headers=tenant.auth,
        json={"body": body, "visibility": visibility},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def bodies(system: MailSystem, address: str) -> list[str]:
    texts = []
    for message in system.sink.to(address):
        part = message.get_body(preferencelist=("plain",))
        texts.append(part.get_content() if part is not None else "")
    return texts


async def test_a_client_follower_never_gets_a_private_note_a_staff_follower_does(
    mail_system: MailSystem,
) -> None:
    system = mail_system
    tenant = await system.sign_up()
    staff = f"sam@{tenant.slug}.test"
    client = f"carla@{tenant.slug}-client.test"
    staff_id = await system.invite(tenant, staff, "staff")
    # The requester mails in: a client unknown until then.
    await system.send(
        mail(client, tenant.address, "Logo files", "Please send the logo."), tenant.address
    )

    async def filed() -> bool:
        return len(await system.items(tenant)) == 1

    await eventually(filed, timeout=60)
    [item] = await system.items(tenant)
    await follow(system, tenant, item["id"], staff_id)
    await follow(system, tenant, item["id"], item["requester_id"])

    private_id = await comment(
        system, tenant, item["id"], "<p>Internal: the budget is 2k.</p>", "private"
    )
    await comment(system, tenant, item["id"], "<p>The logo is on its way.</p>")

    def got(address: str, text: str) -> bool:
        return any(text in body for body in bodies(system, address))

    async def all_delivered() -> bool:
        return got(staff, "the budget is 2k") and all(
            got(a, "The logo is on its way.") for a in (staff, client)
        )

    await eventually(all_delivered, timeout=60)
    assert not got(client, "budget")
    queued = [
        m
        for m in await system.outgoing(tenant.workspace_id)
        if m.dedupe_key == f"comment:{private_id}"
    ]
    assert [m.user_id for m in queued] == [staff_id]
    # The private note says so in the staff member's mail.
    [note] = [
        m for m in system.sink.to(staff) if "budget" in str(m.get_body(preferencelist=("html",)))
    ]
    html = note.get_body(preferencelist=("html",))
    assert html is not None and "private note" in html.get_content()


async def test_mail_waits_out_a_sink_that_is_down_and_arrives_once(
    mail_system: MailSystem,
) -> None:
    system = mail_system
    tenant = await system.sign_up()
    staff = f"sam@{tenant.slug}.test"
    staff_id = await system.invite(tenant, staff, "staff")
    item = await new_item(system, tenant, "Spring newsletter")
    await follow(system, tenant, item["id"], staff_id)

    await system.sink.stop()
    try:
        for n in range(3):
            await comment(system, tenant, item["id"], f"<p>Draft {n} is ready.</p>")

        async def retrying() -> bool:
            rows = await system.outgoing(tenant.workspace_id)
            return len(rows) == 3 and all(r.attempts >= 2 and r.status == "queued" for r in rows)

        await eventually(retrying, timeout=60)
        await asyncio.sleep(30)  # the outage the issue describes
        rows = await system.outgoing(tenant.workspace_id)
        assert all(r.status == "queued" and "connection" in (r.last_error or "") for r in rows)
        assert system.sink.to(staff) == []
    finally:
        await system.sink.start()

    async def all_sent() -> bool:
        rows = await system.outgoing(tenant.workspace_id)
        return len(rows) == 3 and all(r.status == "sent" for r in rows)

    await eventually(all_sent, timeout=60)
    received = system.sink.to(staff)
    ids = [str(m["Message-ID"]) for m in received]
    assert sorted(ids) == sorted(r.message_id for r in await system.outgoing(tenant.workspace_id))
    assert len(set(ids)) == len(ids) == 3


async def test_a_permanent_refusal_is_recorded_and_not_retried(mail_system: MailSystem) -> None:
    system = mail_system
    tenant = await system.sign_up()
    gone = f"gone@{tenant.slug}.test"
    gone_id = await system.invite(tenant, gone, "staff")
    system.sink.refuse[gone] = "550 5.1.1 Mailbox does not exist"
    item = await new_item(system, tenant, "Brochure")
    await follow(system, tenant, item["id"], gone_id)
    await comment(system, tenant, item["id"], "<p>First proof attached.</p>")

    async def failed() -> bool:
        rows = await system.outgoing(tenant.workspace_id)
        return len(rows) == 1 and rows[0].status == "failed"

    await eventually(failed, timeout=60)
    [row] = await system.outgoing(tenant.workspace_id)
    assert row.attempts == 1
    assert row.last_error is not None and row.last_error.startswith("550")
    assert system.sink.to(gone) == []
