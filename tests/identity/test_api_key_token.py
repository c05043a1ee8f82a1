"""Exchanging an API key for a short-lived access token that other services verify."""

from __future__ import annotations

from tests.identity.conftest import IdentityApp


async def test_an_api_key_is_exchanged_for_an_access_token_of_its_workspace(
    identity: IdentityApp,
) -> None:
    tenant = await identity.create_tenant()
    created = await identity.client.post(
        f"{identity.base}/api-keys",
        headers=tenant.auth,
        json={"name": "Zapier", "scopes": ["read", "write"]},
    )
    secret = created.json()["key"]

    exchanged = await identity.client.post(
        f"{identity.base}/api-keys/token", headers={"X-API-Key": secret}
    )
    assert exchanged.status_code == 200, exchanged.text
    token = exchanged.json()["access_token"]
    assert exchanged.json()["expires_in"] > 0
    # Another service, verifying with identity's public keys only, accepts it.
    whoami = await identity.client.get(
        f"{identity.probe}/whoami", headers={"Authorization": f"Bearer {token}"}
    )
    assert whoami.status_code == 200
    assert whoami.json() == {
        "subject": f"apikey:{created.json()['id']}",
        "workspace": tenant.workspace_id,
    }

    # Only a key can be exchanged; a revoked key no longer can.
    by_user = await identity.client.post(f"{identity.base}/api-keys/token", headers=tenant.auth)
    assert by_user.status_code == 400
    await identity.client.post(
        f"{identity.base}/api-keys/{created.json()['id']}/revoke", headers=tenant.auth
    )
    revoked = await identity.client.post(
        f"{identity.base}/api-keys/token", headers={"X-API-Key": secret}
    )
    assert revoked.status_code == 401
