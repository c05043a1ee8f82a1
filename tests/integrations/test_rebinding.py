"""DNS rebinding and names with several addresses, for real: the integrations service runs with
a name lookup the test scripts, and real receivers listen on two loopback addresses.

The service allows only 127.0.0.2 (an on-premises target on its allow-list); 127.0.0.1 is
the internal address an attacker wants to reach. A name answering the allowed address when
checked and the internal one afterwards must never lead a delivery to 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from services.integrations.module import build
from services.integrations.settings import IntegrationsSettings
from services.integrations.webhooks import ssrf
from tests.conftest import eventually
from tests.integrations.conftest import (
    IntegrationsApp,
    Receiver,
    integrations_settings,
    serving_receiver,
)
from tests.support.harness import free_port, running_service

ALLOWED = "127.0.0.2"
INTERNAL = "127.0.0.1"


@dataclass
class ScriptedNames:
    """A name server the test scripts: a scripted name gives its next answer per lookup, the
    last one again once the script runs out; any other name resolves as usual."""

    scripts: dict[str, list[list[str]]] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def script(self, name: str, *answers: Sequence[str]) -> None:
        self.scripts[name] = [list(a) for a in answers]

    def lookups_of(self, name: str) -> int:
        return self.asked.count(name)

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        script = self.scripts.get(host)
        if script is None:
            return await ssrf.system_lookup(host, port)
        self.asked.append(host)
        return script.pop(0) if len(script) > 1 else script[0]


@dataclass(frozen=True)
class Rebinding:
    app: IntegrationsApp
    names: ScriptedNames
    allowed: Receiver
    internal: Receiver


@pytest.fixture(scope="module")
async def rebinding(pg_server_url: str, session_tag: str) -> AsyncIterator[Rebinding]:
    names = ScriptedNames()
    settings = IntegrationsSettings(
        webhook_allow_networks=[f"{ALLOWED}/32"],
        webhook_retry_schedule=[0.2],
        webhook_timeout_seconds=10,
        dispatcher_poll_seconds=0.1,
    )
    module = build(settings=settings, lookup=names)
    # The same port on both addresses: only the address tells the receivers apart.
    port = free_port()
    kit_settings = integrations_settings(
        "memory://", pg_server_url, f"dltest_{session_tag}_rebind", "unused", free_port()
    )
    async with (
        serving_receiver(ALLOWED, port) as allowed,
        serving_receiver(INTERNAL, port) as internal,
        running_service(module, kit_settings) as (base, host, client),
    ):
        yield Rebinding(IntegrationsApp(base, host, client), names, allowed, internal)


async def _endpoint(rebinding: Rebinding, url: str) -> tuple[str, dict[str, Any]]:
    ws = await rebinding.app.new_workspace()
    response = await rebinding.app.post(
        "/v1/webhooks", ws.admin_token, json={"url": url, "events": ["item_created"]}
    )
    assert response.status_code == 201, response.text
    return ws.admin_token, response.json()


async def _pinged(rebinding: Rebinding, token: str, endpoint_id: str) -> dict[str, Any]:
    """A ping through the normal delivery path, once its first attempt is in the log."""
    app = rebinding.app
    ping = await app.post(f"/v1/webhooks/{endpoint_id}/ping", token)
    assert ping.status_code == 202, ping.text

    async def attempted() -> bool:
        page = (await app.get(f"/v1/webhooks/{endpoint_id}/deliveries", token)).json()
        return bool(page["items"]) and bool(page["items"][0]["log"])

    await eventually(attempted, timeout=20)
    page = (await app.get(f"/v1/webhooks/{endpoint_id}/deliveries", token)).json()
    delivery: dict[str, Any] = page["items"][0]
    return delivery


async def test_the_attempt_connects_to_the_checked_address_whatever_the_name_says_later(
    rebinding: Rebinding,
) -> None:
    """Registration and the attempt's own check see 127.0.0.2; every later answer is
    127.0.0.1. The connection goes to the checked address, without asking the name again."""
    name = "rebind-later.test"
    rebinding.names.script(name, [ALLOWED], [ALLOWED], [INTERNAL])
    path = rebinding.allowed.new_path()
    url = f"http://{name}:{rebinding.allowed.port}{path}"
    token, endpoint = await _endpoint(rebinding, url)

    delivery = await _pinged(rebinding, token, endpoint["id"])

    assert delivery["status"] == "succeeded"
    assert [a["status_code"] for a in delivery["log"]] == [200]
    [got] = rebinding.allowed.at(path)
    assert got.headers["host"] == f"{name}:{rebinding.allowed.port}"
    assert got.headers["webhook-id"] == delivery["id"]
    assert rebinding.internal.at(path) == []
    # Registration's check and the attempt's check: nothing resolved the name at connect time.
    assert rebinding.names.lookups_of(name) == 2


async def test_a_name_rebound_after_registration_is_refused_at_send_time(
    rebinding: Rebinding,
) -> None:
    name = "rebind-after-registration.test"
    rebinding.names.script(name, [ALLOWED], [INTERNAL])
    path = rebinding.internal.new_path()
    url = f"http://{name}:{rebinding.internal.port}{path}"
    token, endpoint = await _endpoint(rebinding, url)

    delivery = await _pinged(rebinding, token, endpoint["id"])

    [attempt] = delivery["log"][:1]
    assert attempt["status_code"] is None
    assert f"{INTERNAL} is a loopback address" in attempt["error"]
    assert rebinding.internal.at(path) == []
    assert rebinding.allowed.at(path) == []


async def test_a_name_with_one_private_address_among_several_is_refused(
    rebinding: Rebinding,
) -> None:
    app = rebinding.app
    ws = await app.new_workspace()
    rebinding.names.script("several.test", ["93.184.215.14", ALLOWED, "10.0.0.7"])
    registered = await app.post(
        "/v1/webhooks",
        ws.admin_token,
        json={"url": "http://several.test/hook", "events": ["item_created"]},
    )
    assert registered.status_code == 422, registered.text
    assert registered.headers["content-type"] == "application/problem+json"
    assert registered.json()["type"].endswith("/url-refused")
    assert "10.0.0.7 is a private address" in registered.json()["detail"]
    subscribed = await app.post(
        "/v1/hooks",
        ws.admin_token,
        json={"target_url": "http://several.test/hook", "event": "item_created"},
    )
    assert subscribed.status_code == 422

    # A name that gains an internal address after registration is refused before connecting,
    # although its first address, where the attempt would go, is allowed.
    name = "several-later.test"
    rebinding.names.script(name, [ALLOWED], [ALLOWED, "::ffff:127.0.0.1"])
    path = rebinding.allowed.new_path()
    token, endpoint = await _endpoint(rebinding, f"http://{name}:{rebinding.allowed.port}{path}")
    delivery = await _pinged(rebinding, token, endpoint["id"])
    assert delivery["log"][0]["status_code"] is None
    assert "127.0.0.1 is a loopback address" in delivery["log"][0]["error"]
    assert rebinding.allowed.at(path) == []
    assert rebinding.internal.at(path) == []


async def test_the_guard_checks_every_answer_of_a_lookup() -> None:
    names = ScriptedNames()
    names.script("mixed.test", ["93.184.215.14", "169.254.169.254"])
    names.script("public.test", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
    names.script("nothing.test", [])
    names.script("garbage.test", ["not-an-address"])
    guard = ssrf.Guard.of([], names)

    with pytest.raises(ssrf.TargetRefused, match="metadata"):
        await guard.check("https://mixed.test/hook")
    target = await guard.check("https://public.test/hook")
    assert target.connect_url == "https://93.184.215.14:443/hook"
    assert target.host_header == "public.test"
    for url in ("https://nothing.test/", "https://garbage.test/"):
        with pytest.raises(ssrf.TargetRefused):
            await guard.check(url)
