"""Exchanging an API key for a short-lived access token that other services verify: the token
is the person who created the key, capped by the key's scopes."""

from __future__ import annotations

import uuid

from tests.identity.conftest import IdentityApp, Tenant


async def _key(identity: IdentityApp, tenant: Tenant, scopes: list[str]) -> dict[str, str]:
    created = await identity.client.post(
        f"{identity.base}/api-keys", headers=tenant.auth, json={"name": "Zapier", "scopes": scopes}
    )
    assert created.status_code == 201, created.text
    return {"id": created.json()["id"], "secret": created.json()["key"]}


async def _exchanged(identity: IdentityApp, secret: str) -> str:
    exchanged = await identity.client.post(
        f"{identity.base}/api-keys/token", headers={"X-API-Key": secret}
    )
    assert exchanged.status_code == 200, exchanged.text
    assert exchanged.json()["expires_in"] > 0
    token: str = exchanged.json()["access_token"]
    return token


async def test_an_api_key_is_exchanged_for_an_access_token_of_its_creator(
    identity: IdentityApp,
) -> None:
    tenant = await identity.create_tenant()
    key = await _key(identity, tenant, ["read", "write"])
    token = await _exchanged(identity, key["secret"])

    # Another service, verifying with identity's public keys only, accepts it: the admin who
    # made the key, through that key, without admin powers (the key lacks the admin scope).
    bearer = {"Authorization": f"Bearer {token}"}
    whoami = await identity.client.get(f"{identity.probe}/whoami", headers=bearer)
    assert whoami.json() == {"subject": tenant.admin_id, "workspace": tenant.workspace_id}
    in_full = await identity.client.get(f"{identity.probe}/whoami/in-full", headers=bearer)
    assert in_full.json() == {
        "subject": tenant.admin_id,
        "kind": "staff",
        "role": "admin",
        "api_key": key["id"],
        "scopes": ["read", "write"],
        "admin_powers": False,
    }
    admin_key = await _key(identity, tenant, ["admin"])
    bearer = {"Authorization": f"Bearer {await _exchanged(identity, admin_key['secret'])}"}
    in_full = await identity.client.get(f"{identity.probe}/whoami/in-full", headers=bearer)
    assert in_full.json()["admin_powers"] is True

    # Only a key can be exchanged; a revoked key no longer can, nor can its tokens be used here.
    by_user = await identity.client.post(f"{identity.base}/api-keys/token", headers=tenant.auth)
    assert by_user.status_code == 400
    await identity.client.post(f"{identity.base}/api-keys/{key['id']}/revoke", headers=tenant.auth)
    revoked = await identity.client.post(
        f"{identity.base}/api-keys/token", headers={"X-API-Key": key["secret"]}
    )
    assert revoked.status_code == 401
    at_identity = await identity.client.get(
        f"{identity.base}/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert at_identity.status_code == 401


async def test_a_write_key_creates_clients_but_administers_nothing(identity: IdentityApp) -> None:
    tenant = await identity.create_tenant()
    write = {"X-API-Key": (await _key(identity, tenant, ["write"]))["secret"]}
    read = {"X-API-Key": (await _key(identity, tenant, ["read"]))["secret"]}
    base = identity.base

    organisation = await identity.client.post(
        f"{base}/client-organisations", headers=write, json={"name": "Globex"}
    )
    assert organisation.status_code == 201, organisation.text
    client = await identity.client.post(
        f"{base}/users/invitations",
        headers=write,
        json={
            "email": f"gloria-{uuid.uuid4().hex[:6]}@globex.test",
            "display_name": "Gloria",
            "kind": "client",
            "client_organisation_id": organisation.json()["id"],
        },
    )
    assert client.status_code == 201, client.text
    assert client.json()["kind"] == "client"

    staff = await identity.client.post(
        f"{base}/users/invitations",
        headers=write,
        json={"email": f"sam-{uuid.uuid4().hex[:6]}@acme.test", "display_name": "Sam"},
    )
    assert staff.status_code == 403
    assert staff.headers["content-type"] == "application/problem+json"
    assert staff.json()["type"].endswith("/insufficient-scope")
    for path, body in (
        ("/client-organisations", {"name": "Initech"}),
        ("/users/invitations", {"email": "x@initech.test", "display_name": "X", "kind": "client"}),
    ):
        refused = await identity.client.post(f"{base}{path}", headers=read, json=body)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["type"].endswith("/insufficient-scope")


async def test_a_key_stops_working_when_its_creator_is_no_longer_active(
    identity: IdentityApp,
) -> None:
    tenant = await identity.create_tenant()
    other_id, other_token = await identity.invite_and_join(
        tenant, f"ola-{uuid.uuid4().hex[:6]}@acme.test", workspace_role="admin"
    )
    created = await identity.client.post(
        f"{identity.base}/api-keys",
        headers={"Authorization": f"Bearer {other_token}"},
        json={"name": "Ola's CRM", "scopes": ["read"]},
    )
    secret = created.json()["key"]
    me = await identity.client.get(f"{identity.base}/me", headers={"X-API-Key": secret})
    assert me.json()["user_id"] == other_id

    deactivated = await identity.client.post(
        f"{identity.base}/users/{other_id}/deactivate", headers=tenant.auth
    )
    assert deactivated.status_code == 200, deactivated.text
    for answer in (
        await identity.client.get(f"{identity.base}/me", headers={"X-API-Key": secret}),
        await identity.client.post(
            f"{identity.base}/api-keys/token", headers={"X-API-Key": secret}
        ),
    ):
        assert answer.status_code == 401
        assert answer.json()["type"].endswith("/inactive-key-owner")
