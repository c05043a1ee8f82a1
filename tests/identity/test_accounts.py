"""Workspaces, login and sessions, invitations, resets, claims, deactivation, API keys."""

from __future__ import annotations

import asyncio
import time
import uuid

import jwt
import pytest

from contracts import registry
from contracts.notifications import RequesterDiscovered
from kit.bus.base import OutgoingMessage
from tests.conftest import eventually
from tests.identity.conftest import PASSWORD, IdentityApp


async def test_signup_creates_a_usable_workspace_with_its_admin(identity: IdentityApp) -> None:
    tenant = await identity.create_tenant("Clinic Chain")
    me = (await identity.client.get(f"{identity.base}/me", headers=tenant.auth)).json()
    assert me["workspace_id"] == tenant.workspace_id
    assert (me["kind"], me["workspace_role"], me["email"]) == ("staff", "admin", tenant.admin_email)
    workspace = (
        await identity.client.get(f"{identity.base}/workspace", headers=tenant.auth)
    ).json()
    assert workspace["apps"] == dict.fromkeys(
        ["tickets", "tasks", "timesheets", "messenger", "knowledge_base", "portal"], True
    )
    taken = await identity.client.post(
        f"{identity.base}/workspaces",
        json={
            "name": "Again",
            "slug": tenant.slug,
            "admin": {"email": "x@y.test", "display_name": "X", "password": PASSWORD},
        },
    )
    assert taken.status_code == 409
    assert taken.json()["type"].endswith("/slug-taken")


async def test_admins_change_workspace_settings(identity: IdentityApp) -> None:
    tenant = await identity.create_tenant()
    changed = await identity.client.patch(
        f"{identity.base}/workspace",
        headers=tenant.auth,
        json={
            "name": "Acme",
            "time_zone": "America/New_York",
            "client_visibility": "organisation",
            "apps": {"messenger": False},
        },
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["apps"]["messenger"] is False and body["apps"]["portal"] is True
    assert (body["time_zone"], body["client_visibility"]) == ("America/New_York", "organisation")
    bad = await identity.client.patch(
        f"{identity.base}/workspace",
        headers=tenant.auth,
        json={"time_zone": "Mars/Olympus", "apps": {"chess": True}},
    )
    assert bad.status_code == 422
    assert {tuple(e["location"])[-1] for e in bad.json()["errors"]} == {"time_zone", "apps"}
    _, member = await identity.invite_and_join(tenant, f"m-{uuid.uuid4().hex[:6]}@acme.test")
    refused = await identity.client.patch(
        f"{identity.base}/workspace",
        headers={"Authorization": f"Bearer {member}"},
        json={"name": "Mine now"},
    )
    assert refused.status_code == 403


async def test_tokens_are_eddsa_jwts_verifiable_from_the_jwks(identity: IdentityApp) -> None:
    tenant = await identity.create_tenant()
    jwks = (await identity.client.get(f"{identity.base}/.well-known/jwks.json")).json()
    key = jwt.PyJWK(jwks["keys"][0])
    claims = jwt.decode(tenant.token, key.key, algorithms=["EdDSA"], audience="deskline")
    assert claims["sub"] == tenant.admin_id and claims["wid"] == tenant.workspace_id
    assert claims["exp"] - claims["iat"] <= 600, "access tokens live at most 10 minutes"
    other = await identity.client.get(f"{identity.probe}/whoami", headers=tenant.auth)
    assert other.json() == {"subject": tenant.admin_id, "workspace": tenant.workspace_id}


async def test_refresh_tokens_rotate_and_a_reused_one_revokes_the_family(
    identity: IdentityApp,
) -> None:
    tenant = await identity.create_tenant()
    first = await identity.client.post(
        f"{identity.base}/auth/refresh", json={"refresh_token": tenant.refresh}
    )
    assert first.status_code == 200
    rotated = first.json()["refresh_token"]
    assert rotated != tenant.refresh
    reused = await identity.client.post(
        f"{identity.base}/auth/refresh", json={"refresh_token": tenant.refresh}
    )
    assert reused.status_code == 401
    assert reused.json()["type"].endswith("/refresh-token-reused")
    after = await identity.client.post(
        f"{identity.base}/auth/refresh", json={"refresh_token": rotated}
    )
    assert after.status_code == 401, "the whole family is revoked, the newest token too"


async def test_logout_ends_the_session(identity: IdentityApp) -> None:
    tenant = await identity.create_tenant()
    out = await identity.client.post(
        f"{identity.base}/auth/logout", json={"refresh_token": tenant.refresh}
    )
    assert out.status_code == 204
    again = await identity.client.post(
        f"{identity.base}/auth/refresh", json={"refresh_token": tenant.refresh}
    )
    assert again.status_code == 401


async def test_bad_credentials_are_one_clear_401(identity: IdentityApp) -> None:
    tenant = await identity.create_tenant()
    for body in (
        {"workspace": tenant.slug, "email": tenant.admin_email, "password": "wrong password!"},
        {"workspace": tenant.slug, "email": "nobody@nowhere.test", "password": PASSWORD},
        {"workspace": "no-such-workspace", "email": tenant.admin_email, "password": PASSWORD},
    ):
        response = await identity.client.post(f"{identity.base}/auth/login", json=body)
        assert response.status_code == 401
        assert response.json()["type"].endswith("/invalid-credentials")


async def test_invitation_links_are_single_use(identity: IdentityApp) -> None:
    tenant = await identity.create_tenant()
    invited = await identity.client.post(
        f"{identity.base}/users/invitations",
        headers=tenant.auth,
        json={"email": "Vic@Vendor.test", "display_name": "Vic", "kind": "collaborator"},
    )
    assert invited.status_code == 201
    assert invited.json()["email"] == "vic@vendor.test"
    assert invited.json()["status"] == "invited"
    link = await identity.mailed_link(invited.json()["id"], "invite")
    accepted = await identity.client.post(
        f"{identity.base}/invitations/accept", json={"token": link, "password": PASSWORD}
    )
    assert accepted.status_code == 200
    twice = await identity.client.post(
        f"{identity.base}/invitations/accept", json={"token": link, "password": "another password"}
    )
    assert twice.status_code == 410
    assert twice.json()["type"].endswith("/link-used")
    await identity.login(tenant.slug, "vic@vendor.test")


async def test_expired_links_are_refused(identity: IdentityApp) -> None:
    tenant = await identity.create_tenant()
    invited = await identity.client.post(
        f"{identity.base}/users/invitations",
        headers=tenant.auth,
        json={"email": "late@acme.test", "display_name": "Late"},
    )
    link = await identity.mailed_link(invited.json()["id"], "invite")
    from sqlalchemy import update

    from services.identity.auth.service import digest
    from services.identity.models import OneTimeToken

    async with identity.host.runtimes[0].engine.begin() as connection:
        await connection.execute(
            update(OneTimeToken)
            .where(OneTimeToken.token_hash == digest(link))
            .values(expires_at=OneTimeToken.created_at)
        )
    expired = await identity.client.post(
        f"{identity.base}/invitations/accept", json={"token": link, "password": PASSWORD}
    )
    assert expired.status_code == 410
    assert expired.json()["type"].endswith("/link-expired")


async def test_password_reset_is_single_use_and_ends_other_sessions(
    identity: IdentityApp,
) -> None:
    tenant = await identity.create_tenant()
    asked = await identity.client.post(
        f"{identity.base}/auth/password-reset",
        json={"workspace": tenant.slug, "email": tenant.admin_email},
    )
    unknown = await identity.client.post(
        f"{identity.base}/auth/password-reset",
        json={"workspace": tenant.slug, "email": "ghost@acme.test"},
    )
    assert asked.status_code == unknown.status_code == 202, "no way to probe addresses"
    link = await identity.mailed_link(tenant.admin_id, "password_reset")
    new_password = "a brand new passphrase"
    reset = await identity.client.post(
        f"{identity.base}/auth/password-reset/complete",
        json={"token": link, "password": new_password},
    )
    assert reset.status_code == 200
    again = await identity.client.post(
        f"{identity.base}/auth/password-reset/complete",
        json={"token": link, "password": new_password},
    )
    assert again.status_code == 410
    old_session = await identity.client.post(
        f"{identity.base}/auth/refresh", json={"refresh_token": tenant.refresh}
    )
    assert old_session.status_code == 401
    await identity.login(tenant.slug, tenant.admin_email, new_password)


async def test_a_client_created_from_mail_can_claim_the_account(identity: IdentityApp) -> None:
    tenant = await identity.create_tenant()
    minted = uuid.uuid4()
    event = registry.envelope(
        RequesterDiscovered(
            user_id=minted,
            workspace_id=uuid.UUID(tenant.workspace_id),
            email="Jo@Furniture.test",
            display_name="Jo",
        ),
        workspace=tenant.workspace_id,
    )
    await identity.host.bus.publish([OutgoingMessage.of(event)])
    await identity.host.bus.publish([OutgoingMessage.of(event)])  # redelivered: no second user

    async def adopted() -> bool:
        found = await identity.client.get(f"{identity.base}/users/{minted}", headers=tenant.auth)
        return found.status_code == 200

    await eventually(adopted, timeout=10)
    user = (
        await identity.client.get(f"{identity.base}/users/{minted}", headers=tenant.auth)
    ).json()
    assert (user["kind"], user["status"], user["email"]) == (
        "client",
        "unclaimed",
        "jo@furniture.test",
    )
    clients = (
        await identity.client.get(f"{identity.base}/users?kind=client", headers=tenant.auth)
    ).json()["items"]
    assert [c["id"] for c in clients] == [str(minted)]
    cannot = await identity.client.post(
        f"{identity.base}/auth/login",
        json={"workspace": tenant.slug, "email": "jo@furniture.test", "password": PASSWORD},
    )
    assert cannot.status_code == 401, "no password until the account is claimed"
    await identity.client.post(
        f"{identity.base}/auth/password-reset",
        json={"workspace": tenant.slug, "email": "jo@furniture.test"},
    )
    link = await identity.mailed_link(str(minted), "claim")
    claimed = await identity.client.post(
        f"{identity.base}/auth/password-reset/complete", json={"token": link, "password": PASSWORD}
    )
    assert claimed.status_code == 200
    assert (await identity.login(tenant.slug, "jo@furniture.test"))["access_token"]


async def test_a_sender_already_known_by_address_is_merged_not_created(
    identity: IdentityApp,
) -> None:
    """The minted id (a second replica's, or minted before the user's creation reached
    notifications) is not adopted; identity says whose it is instead."""
    tenant = await identity.create_tenant()
    first, second = uuid.uuid4(), uuid.uuid4()
    for minted in (first, second):
        event = registry.envelope(
            RequesterDiscovered(
                user_id=minted,
                workspace_id=uuid.UUID(tenant.workspace_id),
                email="Kim@Furniture.test",
                display_name="Kim",
            ),
            workspace=tenant.workspace_id,
        )
        await identity.host.bus.publish([OutgoingMessage.of(event)])

    async def merged() -> bool:
        return bool(await identity.published("identity.requester.merged.v1", tenant.workspace_id))

    await eventually(merged, timeout=10)
    [merge] = await identity.published("identity.requester.merged.v1", tenant.workspace_id)
    assert merge == {
        "workspace_id": tenant.workspace_id,
        "minted_user_id": str(second),
        "user_id": str(first),
    }
    clients = (
        await identity.client.get(f"{identity.base}/users?kind=client", headers=tenant.auth)
    ).json()["items"]
    assert [c["id"] for c in clients] == [str(first)]


async def test_deactivation_locks_a_user_out(identity: IdentityApp) -> None:
    tenant = await identity.create_tenant()
    user_id, token = await identity.invite_and_join(tenant, "leaver@acme.test")
    session = await identity.login(tenant.slug, "leaver@acme.test")
    auth = {"Authorization": f"Bearer {token}"}
    assert (await identity.client.get(f"{identity.probe}/whoami", headers=auth)).status_code == 200
    off = await identity.client.post(
        f"{identity.base}/users/{user_id}/deactivate", headers=tenant.auth
    )
    assert off.json()["status"] == "deactivated"
    assert (await identity.client.get(f"{identity.base}/me", headers=auth)).status_code == 401
    refreshed = await identity.client.post(
        f"{identity.base}/auth/refresh", json={"refresh_token": session["refresh_token"]}
    )
    assert refreshed.status_code == 401
    login = await identity.client.post(
        f"{identity.base}/auth/login",
        json={"workspace": tenant.slug, "email": "leaver@acme.test", "password": PASSWORD},
    )
    assert login.status_code == 401
    on = await identity.client.post(
        f"{identity.base}/users/{user_id}/reactivate", headers=tenant.auth
    )
    assert on.json()["status"] == "active"
    await identity.login(tenant.slug, "leaver@acme.test")


async def test_other_services_refuse_a_deactivated_users_token_once_it_expires(
    identity: IdentityApp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Other services verify tokens offline, so the lockout there takes at most the token's
    lifetime (≤ 10 min by default); here the lifetime is shortened to show it happen."""
    from services.identity.dependencies import Identity

    state: Identity = identity.host.apps["identity"].state.identity
    monkeypatch.setattr(state.settings, "access_token_ttl_seconds", 2)
    tenant = await identity.create_tenant()
    user_id, _ = await identity.invite_and_join(tenant, "short@acme.test")
    token = (await identity.login(tenant.slug, "short@acme.test"))["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    await identity.client.post(f"{identity.base}/users/{user_id}/deactivate", headers=tenant.auth)
    started = time.monotonic()
    while (await identity.client.get(f"{identity.probe}/whoami", headers=auth)).status_code == 200:
        assert time.monotonic() - started < 10
        await asyncio.sleep(0.2)
    assert time.monotonic() - started <= 4


async def test_api_keys_are_shown_once_scoped_and_revocable(identity: IdentityApp) -> None:
    tenant = await identity.create_tenant()
    created = await identity.client.post(
        f"{identity.base}/api-keys",
        headers=tenant.auth,
        json={"name": "Zapier", "scopes": ["read"]},
    )
    assert created.status_code == 201
    secret = created.json()["key"]
    listed = (await identity.client.get(f"{identity.base}/api-keys", headers=tenant.auth)).json()
    assert "key" not in listed[0] and listed[0]["prefix"] == secret[:10]
    me = await identity.client.get(f"{identity.base}/me", headers={"X-API-Key": secret})
    assert me.status_code == 200
    # The key acts as the admin who created it, limited to its scopes.
    assert (me.json()["user_id"], me.json()["kind"]) == (tenant.admin_id, "staff")
    assert (me.json()["scopes"], me.json()["api_key_id"]) == (["read"], created.json()["id"])
    bearer = await identity.client.get(
        f"{identity.base}/me", headers={"Authorization": f"Bearer {secret}"}
    )
    assert bearer.status_code == 200
    write = await identity.client.post(
        f"{identity.base}/client-organisations",
        headers={"X-API-Key": secret},
        json={"name": "Acme"},
    )
    assert write.status_code == 403, "a read key cannot write"
    listed = (await identity.client.get(f"{identity.base}/api-keys", headers=tenant.auth)).json()
    assert listed[0]["last_used_at"] is not None
    revoked = await identity.client.post(
        f"{identity.base}/api-keys/{listed[0]['id']}/revoke", headers=tenant.auth
    )
    assert revoked.json()["revoked_at"] is not None
    after = await identity.client.get(f"{identity.base}/me", headers={"X-API-Key": secret})
    assert after.status_code == 401
