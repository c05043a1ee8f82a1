"""Outgoing webhooks through the real bus to real HTTP receivers: signing, retries with the
same id, 410, Retry-After, no redirects, isolation of a hanging receiver, the delivery log,
redelivery, ping, secret rotation and the deliver-webhook command."""

from __future__ import annotations

import uuid
from datetime import datetime

from contracts import registry
from contracts.integrations import DeliverWebhook
from tests.conftest import eventually
from tests.integrations.conftest import IntegrationsApp, Receiver, received
from tests.timetracking.conftest import mint, new_id


async def test_a_receiver_failing_three_times_gets_the_event_again_with_the_same_id(
    integrations: IntegrationsApp, receiver: Receiver
) -> None:
    ws = await integrations.new_workspace()
    path = receiver.new_path()
    receiver.script(path, 500, 500, 500, 200)
    endpoint = await integrations.endpoint(ws, receiver.url(path), ["item_created"])

    item = await integrations.item_created(ws.id, title="Homepage banner")
    await received(receiver, path, 4)

    attempts = receiver.at(path)
    assert len({a.headers["webhook-id"] for a in attempts}) == 1
    for attempt in attempts:
        body = attempt.verified(endpoint["secret"])
        assert body["type"] == "item_created"
        assert body["data"]["item_id"] == str(item.id)
        assert body["data"]["title"] == "Homepage banner"

    async def logged() -> bool:
        found = await integrations.deliveries(ws, endpoint["id"])
        return bool(found) and found[0]["status"] == "succeeded"

    await eventually(logged, timeout=10)
    [delivery] = await integrations.deliveries(ws, endpoint["id"])
    assert delivery["id"] == attempts[0].headers["webhook-id"]
    assert delivery["attempts"] == 4
    assert [a["status_code"] for a in delivery["log"]] == [500, 500, 500, 200]
    assert all(a["latency_ms"] >= 0 for a in delivery["log"])
    assert len(receiver.at(path)) == 4


async def test_410_gone_ends_the_subscription_and_tells_the_owner(
    integrations: IntegrationsApp, receiver: Receiver
) -> None:
    ws = await integrations.new_workspace()
    path = receiver.new_path()
    receiver.script(path, 410)
    response = await integrations.post(
        "/v1/hooks",
        ws.admin_token,
        json={"target_url": receiver.url(path), "event": "item_created"},
    )
    assert response.status_code == 201, response.text
    hook = response.json()

    await integrations.item_created(ws.id)
    await received(receiver, path)

    async def unsubscribed() -> bool:
        found = await integrations.get(f"/v1/hooks/{hook['id']}", ws.admin_token)
        return found.json()["enabled"] is False

    await eventually(unsubscribed, timeout=10)
    found = (await integrations.get(f"/v1/hooks/{hook['id']}", ws.admin_token)).json()
    assert "410" in found["disabled_reason"]
    [disabled] = await integrations.published("integrations.endpoint.disabled.v1", ws.id)
    assert disabled["endpoint_id"] == hook["id"]
    assert disabled["owner_user_id"] == ws.admin_id

    await integrations.item_created(ws.id)
    await integrations.item_created(ws.id)
    poll = await integrations.get("/v1/triggers/item_created", ws.admin_token)
    await eventually(lambda: _count(integrations, ws.admin_token, 3), timeout=10)
    assert poll.status_code == 200
    assert len(receiver.at(path)) == 1


async def _count(integrations: IntegrationsApp, token: str, n: int) -> bool:
    response = await integrations.get("/v1/triggers/item_created", token)
    return len(response.json()) >= n


async def test_a_hanging_receiver_does_not_delay_another(
    integrations: IntegrationsApp, receiver: Receiver
) -> None:
    receiver.released.clear()
    ws = await integrations.new_workspace()
    slow, fast = receiver.new_path(), receiver.new_path()
    receiver.script(slow, *["hang"] * 10)
    slow_endpoint = await integrations.endpoint(ws, receiver.url(slow), ["item_created"])
    await integrations.endpoint(ws, receiver.url(fast), ["item_created"])

    for _ in range(10):
        await integrations.item_created(ws.id)
    # The fast receiver gets all ten while the slow one still holds its first attempts.
    await received(receiver, fast, 10, timeout=15)
    assert len(receiver.at(slow)) == slow_endpoint["max_concurrency"]
    receiver.release()
    await received(receiver, slow, 10, timeout=20)


async def test_retry_after_and_redirects(integrations: IntegrationsApp, receiver: Receiver) -> None:
    ws = await integrations.new_workspace()
    limited, moved = receiver.new_path(), receiver.new_path()
    receiver.script(limited, (429, {"retry-after": "1"}), 200)
    receiver.script(moved, (302, {"location": receiver.url("/elsewhere")}), 200)
    limited_endpoint = await integrations.endpoint(ws, receiver.url(limited), ["item_created"])
    await integrations.endpoint(ws, receiver.url(moved), ["item_created"])

    await integrations.item_created(ws.id)
    await received(receiver, limited, 2)
    await received(receiver, moved, 2)
    assert receiver.at("/elsewhere") == []  # the redirect was not followed

    # Outcomes are recorded in batches after the receiver answered: wait for both.
    async def both_logged() -> bool:
        deliveries = await integrations.deliveries(ws, limited_endpoint["id"])
        return len(deliveries) == 1 and len(deliveries[0]["log"]) == 2

    await eventually(both_logged, timeout=10)
    [delivery] = await integrations.deliveries(ws, limited_endpoint["id"])
    first, second = delivery["log"]
    waited = (_parse(second["attempted_at"]) - _parse(first["attempted_at"])).total_seconds()
    assert waited >= 1.0 - 0.05  # the schedule alone would have retried after 0.3 s


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_log_redelivery_ping_and_rotation(
    integrations: IntegrationsApp, receiver: Receiver
) -> None:
    ws = await integrations.new_workspace()
    path = receiver.new_path()
    endpoint = await integrations.endpoint(ws, receiver.url(path), ["item_created"])

    ping = await integrations.post(f"/v1/webhooks/{endpoint['id']}/ping", ws.admin_token)
    assert ping.status_code == 202, ping.text
    await received(receiver, path)
    assert receiver.at(path)[0].verified(endpoint["secret"])["type"] == "webhook.ping"

    rotated = await integrations.post(
        f"/v1/webhooks/{endpoint['id']}/rotate-secret", ws.admin_token
    )
    assert rotated.status_code == 200
    new_secret = rotated.json()["secret"]
    assert new_secret != endpoint["secret"]

    redelivered = await integrations.post(
        f"/v1/webhooks/{endpoint['id']}/deliveries/{ping.json()['id']}/redeliver",
        ws.admin_token,
    )
    assert redelivered.status_code == 202, redelivered.text
    await received(receiver, path, 2)
    again = receiver.at(path)[1]
    assert again.headers["webhook-id"] == ping.json()["id"]
    # During the overlap both the new and the old secret sign the message.
    assert len(again.headers["webhook-signature"].split(" ")) == 2
    again.verified(new_secret)
    again.verified(endpoint["secret"])

    missing = await integrations.post(
        f"/v1/webhooks/{endpoint['id']}/deliveries/msg_nothing/redeliver", ws.admin_token
    )
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_the_deliver_webhook_command(
    integrations: IntegrationsApp, receiver: Receiver
) -> None:
    ws = await integrations.new_workspace()
    path = receiver.new_path()
    endpoint = await integrations.endpoint(ws, receiver.url(path), ["item_created"])
    command = DeliverWebhook(
        workspace_id=uuid.UUID(ws.id),
        endpoint_id=uuid.UUID(endpoint["id"]),
        event_name="rule.fired",
        payload={"rule": "escalate", "item_number": 1042},
    )
    # Automation sends it for a rule's "call a webhook" action.
    await integrations.publish(
        registry.envelope(
            command, workspace=ws.id, subject=f"item/{uuid.uuid4()}", source="automation"
        )
    )
    await received(receiver, path)
    body = receiver.at(path)[0].verified(endpoint["secret"])
    assert body["type"] == "rule.fired"
    assert body["data"] == {"rule": "escalate", "item_number": 1042}


async def test_only_admins_manage_endpoints_and_bad_input_is_refused(
    integrations: IntegrationsApp, receiver: Receiver
) -> None:
    ws = await integrations.new_workspace()
    member = integrations_token(ws.id)
    refused = await integrations.post(
        "/v1/webhooks", member, json={"url": receiver.url("/x"), "events": ["item_created"]}
    )
    assert refused.status_code == 403
    unknown = await integrations.post(
        "/v1/webhooks", ws.admin_token, json={"url": receiver.url("/x"), "events": ["nope"]}
    )
    assert unknown.status_code == 422
    assert unknown.json()["type"].endswith("/unknown-event")
    anonymous = await integrations.client.get(f"{integrations.base}/v1/me")
    assert anonymous.status_code == 401
    other = await integrations.new_workspace()
    endpoint = await integrations.endpoint(ws, receiver.url("/x"), ["item_created"])
    hidden = await integrations.get(f"/v1/webhooks/{endpoint['id']}", other.admin_token)
    assert hidden.status_code == 404


def integrations_token(workspace_id: str) -> str:
    return mint(workspace_id, new_id())
