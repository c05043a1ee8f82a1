"""An endpoint failing for days is switched off and its owner told, for real: identity,
integrations and notifications run in one host on RabbitMQ and PostgreSQL, a receiver on
localhost answers 500 to everything, and the delivery schedule's clock is moved on by days
(the service is built with a clock the test steps) instead of waiting for them.

The owner is told as the product tells people: `integrations.endpoint.disabled.v1` leaves
through the outbox, and notifications puts a notice in the owner's feed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.identity.module import module as identity_module
from services.integrations.module import build
from services.integrations.settings import IntegrationsSettings
from services.notifications.module import module as notifications_module
from tests.conftest import eventually
from tests.integrations.conftest import Receiver
from tests.integrations.system import System, running_system

DISABLE_AFTER_HOURS = 120.0


@dataclass
class SteppedClock:
    """The real time, moved on by whatever the test says has passed."""

    offset: timedelta = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


@dataclass(frozen=True)
class Running:
    system: System
    clock: SteppedClock


@pytest.fixture
async def running(
    pg_server_url: str, amqp_url: str, session_tag: str, tmp_path: Path
) -> AsyncIterator[Running]:
    clock = SteppedClock()
    integrations = build(
        settings=IntegrationsSettings(
            webhook_allow_networks=["127.0.0.1/32"],
            webhook_disable_after_hours=DISABLE_AFTER_HOURS,
            dispatcher_poll_seconds=0.1,
        ),
        clock=clock.now,
    )
    async with running_system(
        pg_server_url,
        amqp_url,
        f"{session_tag}off",
        tmp_path,
        modules=[identity_module, notifications_module, integrations],
        DESKLINE_NOTIFICATIONS_SMTP_LISTEN="false",
    ) as system:
        yield Running(system, clock)


async def test_an_endpoint_failing_for_days_is_switched_off_and_its_owner_told(
    running: Running, receiver: Receiver
) -> None:
    system, clock = running.system, running.clock
    admin_token, workspace_id = await system.workspace()
    admin_id = await system.user_id(admin_token)
    auth = {"authorization": f"Bearer {admin_token}"}
    path = receiver.new_path()
    receiver.script(path, *[500] * 20)
    created = await system.client.post(
        f"{system.gateway}/webhooks",
        headers=auth,
        json={"url": receiver.url(path), "events": ["item_created"]},
    )
    assert created.status_code == 201, created.text
    endpoint_url = f"{system.gateway}/webhooks/{created.json()['id']}"

    async def endpoint() -> dict[str, Any]:
        found = await system.client.get(endpoint_url, headers=auth)
        assert found.status_code == 200, found.text
        document: dict[str, Any] = found.json()
        return document

    async def delivery_after(attempts: int) -> dict[str, Any]:
        """The delivery once `attempts` attempts are in its log (written with their outcome)."""
        found: list[dict[str, Any]] = []

        async def logged() -> bool:
            page = (await system.client.get(f"{endpoint_url}/deliveries", headers=auth)).json()
            found[:] = page["items"]
            return bool(found) and len(found[0]["log"]) >= attempts

        await eventually(logged, timeout=30)
        return found[0]

    pinged = await system.client.post(f"{endpoint_url}/ping", headers=auth)
    assert pinged.status_code == 202, pinged.text
    first = await delivery_after(1)
    assert (first["status"], first["log"][0]["status_code"]) == ("pending", 500)
    failing_since = (await endpoint())["failing_since"]
    assert failing_since is not None

    # Two days, then four: the retries keep failing, the endpoint stays on.
    for days, attempts in ((2, 2), (4, 3)):
        clock.advance(timedelta(days=2))
        delivery = await delivery_after(attempts)
        assert [a["status_code"] for a in delivery["log"]] == [500] * attempts
        assert delivery["status"] == "pending"
        state = await endpoint()
        assert (state["enabled"], state["failing_since"]) == (True, failing_since), days

    # Past five days without a success: the next failure switches it off.
    clock.advance(timedelta(days=1, minutes=1))
    delivery = await delivery_after(4)
    assert delivery["status"] == "failed"
    state = await endpoint()
    assert state["enabled"] is False
    reason = f"no delivery succeeded for {DISABLE_AFTER_HOURS:g} hours"
    assert state["disabled_reason"] == reason
    assert len(receiver.at(path)) == 4

    [disabled] = await system.published(
        "integrations", "integrations.endpoint.disabled.v1", workspace_id
    )
    assert disabled["endpoint_id"] == created.json()["id"]
    assert disabled["owner_user_id"] == admin_id
    assert disabled["reason"] == reason

    notices: list[dict[str, Any]] = []

    async def told() -> bool:
        feed = await system.client.get(f"{system.api}/notifications/feed", headers=auth)
        assert feed.status_code == 200, feed.text
        notices[:] = [n for n in feed.json()["items"] if n["kind"] == "endpoint_disabled"]
        return bool(notices)

    await eventually(told, timeout=30)
    [notice] = notices
    assert notice["title"] == f"Webhook endpoint switched off: {receiver.url(path)}"
    assert notice["body"] == reason
    assert notice["read"] is False
