"""Every SSRF case is refused, at registration (through the API) and by the guard the
dispatcher runs before each attempt; the allow-list opens exactly what it names."""

from __future__ import annotations

import pytest

from services.integrations.webhooks import ssrf
from tests.integrations.conftest import IntegrationsApp

REFUSED = [
    "ftp://example.com/hook",
    "file:///etc/passwd",
    "gopher://example.com/",
    "http://user:pass@example.com/hook",
    "http://127.0.0.2/hook",
    "http://localhost:9/hook",
    "http://[::1]/hook",
    "http://10.1.2.3/hook",
    "http://172.16.0.1/hook",
    "http://192.168.1.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://169.254.10.1/hook",
    "http://[fe80::1]/hook",
    "http://[fd00::1]/hook",
    "http://[::ffff:127.0.0.2]/hook",
    "http://[::ffff:169.254.169.254]/hook",
    "http://[::ffff:10.0.0.1]/hook",
    "http://2130706434/hook",
    "http://0x7f000002/hook",
    "http://0177.0.0.2/hook",
    "http://127.2/hook",
    "http://0.0.0.0/hook",
    "http://0/hook",
    "http://[::]/hook",
    "http://100.64.0.1/hook",
    "http://224.0.0.1/hook",
    "http://no-such-host.invalid/hook",
]


@pytest.mark.parametrize("url", REFUSED)
async def test_the_guard_refuses(url: str) -> None:
    with pytest.raises(ssrf.TargetRefused):
        await ssrf.check(url, allowed=())


async def test_a_public_address_is_reached_at_the_checked_address() -> None:
    target = await ssrf.check("https://93.184.215.14:8443/hooks?x=1", allowed=())
    assert target.connect_url == "https://93.184.215.14:8443/hooks?x=1"
    assert target.host_header == "93.184.215.14:8443"


async def test_every_resolved_address_must_pass() -> None:
    """`localhost` resolves to 127.0.0.1 and ::1: allowing only the first is not enough."""
    allowed = ssrf.parse_networks(["127.0.0.1/32"])
    assert (await ssrf.check("http://127.0.0.1:9/", allowed)).address.exploded == "127.0.0.1"
    addresses = await ssrf.resolve("localhost", 80)
    if len(addresses) > 1:
        with pytest.raises(ssrf.TargetRefused):
            await ssrf.check("http://localhost:9/", allowed)
    target = await ssrf.check(
        "http://localhost:9/", ssrf.parse_networks(["127.0.0.0/8", "::1/128"])
    )
    # The attempt connects to the address that was checked, sending the name as Host.
    assert str(target.address) in {str(a) for a in addresses}
    assert target.host_header == "localhost:9"


# The service under test allows 127.0.0.1 (its receivers), which `localhost` may resolve to.
@pytest.mark.parametrize("url", [u for u in REFUSED if "localhost" not in u])
async def test_registration_refuses(integrations: IntegrationsApp, url: str) -> None:
    ws = await integrations.new_workspace()
    response = await integrations.post(
        "/v1/webhooks", ws.admin_token, json={"url": url, "events": ["item_created"]}
    )
    assert response.status_code == 422, response.text
    assert response.json()["type"].endswith("/url-refused")
    hook = await integrations.post(
        "/v1/hooks", ws.admin_token, json={"target_url": url, "event": "item_created"}
    )
    assert hook.status_code == 422
