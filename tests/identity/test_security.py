"""Tenant isolation across every route, mass assignment, login rate limits under concurrency,
and refused tokens."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts import registry
from contracts.tickets import InitialGrant, ProjectCreated
from kit.bus.base import OutgoingMessage
from services.identity.dependencies import Identity
from tests.identity.conftest import PASSWORD, IdentityApp, Tenant

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def email() -> str:
    return f"u-{uuid.uuid4().hex[:8]}@acme.test"


def problem_type(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/problem+json"), (
        response.status_code,
        response.text,
    )
    kind: str = response.json()["type"]
    return kind.rsplit("/", 1)[-1]


def claims_of(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


def identity_state(identity: IdentityApp) -> Identity:
    state: Identity = identity.host.apps["identity"].state.identity
    return state


# --- two tenants with one of everything -------------------------------------------------------


@dataclass
class World:
    """A tenant with one object of each kind an identity route takes an id of."""

    tenant: Tenant
    ids: dict[str, str]
    """Path parameter name → the id of this tenant's object of that kind."""
    member_email: str
    member_token: str
    key_secret: str


async def build_world(identity: IdentityApp, name: str) -> World:
    tenant = await identity.create_tenant(name)
    member_email = email()
    member, member_token = await identity.invite_and_join(tenant, member_email)
    asker, asker_token = await identity.invite_and_join(tenant, email(), kind="collaborator")
    organisation = await identity.client.post(
        f"{identity.base}/client-organisations", headers=tenant.auth, json={"name": "Clinic"}
    )
    team = await identity.client.post(
        f"{identity.base}/teams",
        headers=tenant.auth,
        json={"name": "Design", "member_ids": [member]},
    )
    project = await identity.publish_project(tenant, name=f"{name} project")
    grant = await identity.client.post(
        f"{identity.base}/projects/{project}/grants",
        headers=tenant.auth,
        json={"subject_type": "user", "subject_id": member, "role": "editor"},
    )
    request = await identity.client.post(
        f"{identity.base}/projects/{project}/access-requests",
        headers=bearer(asker_token),
        json={"note": "please"},
    )
    key = await identity.client.post(
        f"{identity.base}/api-keys", headers=tenant.auth, json={"name": "CRM", "scopes": ["read"]}
    )
    for created in (organisation, team, grant, request, key):
        assert created.status_code == 201, created.text
    ids = {
        "user_id": member,
        "team_id": team.json()["id"],
        "organisation_id": organisation.json()["id"],
        "project_id": project,
        "grant_id": grant.json()["id"],
        "request_id": request.json()["id"],
        "key_id": key.json()["id"],
    }
    assert asker != member
    return World(tenant, ids, member_email, member_token, key.json()["key"])


def body_for(schema: dict[str, Any] | None, components: dict[str, Any], own: World) -> Any:
    """A valid request body, so that a route answers about the id and not about the body."""
    if schema is None:
        return None
    name = schema["$ref"].rsplit("/", 1)[-1]
    bodies: dict[str, dict[str, Any]] = {
        "UserUpdate": {"display_name": "Taken over"},
        "OrganisationUpdate": {"name": "Taken over"},
        "TeamUpdate": {"name": "Taken over"},
        "GrantCreate": {"subject_type": "user", "subject_id": own.ids["user_id"], "role": "viewer"},
        "GrantUpdate": {"role": "manager"},
        "AccessRequestCreate": {"note": "let me in"},
        "Approval": {"role": "manager"},
        "Denial": {"reason": "no"},
    }
    if name in bodies:
        return bodies[name]
    if not components[name].get("required"):
        return {}
    pytest.fail(f"no valid body for request schema {name!r}: add one to body_for")


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    parameters: tuple[str, ...]
    schema: dict[str, Any] | None
    """The JSON request body's schema reference, if the route takes a body."""


async def routes_with_ids(identity: IdentityApp) -> tuple[list[Route], dict[str, Any]]:
    """Every route of the identity API that names an object in its path, from its OpenAPI."""
    document = (await identity.client.get(f"{identity.base}/openapi.json")).json()
    routes = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method.upper() not in METHODS:
                continue
            names = tuple(p["name"] for p in operation.get("parameters", []) if p["in"] == "path")
            assert set(names) == {s[1:-1] for s in path.split("/") if s.startswith("{")}, path
            if not names:
                continue
            content = operation.get("requestBody", {}).get("content", {})
            schema = content.get("application/json", {}).get("schema")
            routes.append(Route(method.upper(), path, names, schema))
    return routes, document["components"]["schemas"]


def fill(path: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    return path


async def call(
    identity: IdentityApp, tenant: Tenant, route: Route, values: dict[str, str], body: Any
) -> httpx.Response:
    return await identity.client.request(
        route.method,
        identity.base + fill(route.path, values),
        headers=tenant.auth,
        json=body,
    )


async def test_no_route_reaches_another_workspaces_objects(identity: IdentityApp) -> None:
    a = await build_world(identity, "Tenant A")
    b = await build_world(identity, "Tenant B")
    routes, components = await routes_with_ids(identity)
    covered = {(r.method, r.path) for r in routes}
    assert {("GET", "/users/{user_id}"), ("DELETE", "/grants/{grant_id}")} <= covered
    assert len(routes) >= 18
    events_of_a = len(await identity.published(None, a.tenant.workspace_id))

    calls = 0
    for route in routes:
        for name in route.parameters:
            if name not in a.ids:
                pytest.fail(
                    f"{route.method} {route.path}: no object of A for the path parameter "
                    f"{name!r}; add one to build_world"
                )
        body = body_for(route.schema, components, b)
        for name in route.parameters:
            # A's object of the right kind, then A's objects of every other kind in its place.
            for substitute in [*a.ids.values(), a.tenant.admin_id, a.tenant.workspace_id]:
                values = {n: a.ids[n] for n in route.parameters} | {name: substitute}
                answer = await call(identity, b.tenant, route, values, body)
                calls += 1
                assert answer.status_code == 404, (
                    f"{route.method} {fill(route.path, values)} with B's token answered "
                    f"{answer.status_code}: {answer.text}"
                )
                assert problem_type(answer) == "not-found"
            if len(route.parameters) > 1:
                # With B's own objects around it, A's id answers like an id that never existed.
                own = {n: b.ids[n] for n in route.parameters}
                foreign = await call(identity, b.tenant, route, own | {name: a.ids[name]}, body)
                nowhere = await call(
                    identity, b.tenant, route, own | {name: str(uuid.uuid4())}, body
                )
                assert foreign.status_code == nowhere.status_code, (route, name, foreign.text)
                if foreign.status_code >= 400:
                    assert problem_type(foreign) == problem_type(nowhere)
    assert calls >= len(routes) * len(a.ids)

    # A's objects are untouched, and B's attempts published nothing in A's name.
    assert len(await identity.published(None, a.tenant.workspace_id)) == events_of_a
    admin_a = a.tenant.auth
    member = await identity.client.get(f"{identity.base}/users/{a.ids['user_id']}", headers=admin_a)
    assert (member.json()["status"], member.json()["display_name"]) == ("active", a.member_email)
    teams = (await identity.client.get(f"{identity.base}/teams", headers=admin_a)).json()
    assert [(t["id"], t["name"], t["member_ids"]) for t in teams] == [
        (a.ids["team_id"], "Design", [a.ids["user_id"]])
    ]
    organisations = await identity.client.get(
        f"{identity.base}/client-organisations", headers=admin_a
    )
    assert organisations.json() == [{"id": a.ids["organisation_id"], "name": "Clinic"}]
    grants = await identity.client.get(
        f"{identity.base}/projects/{a.ids['project_id']}/grants", headers=admin_a
    )
    assert [(g["id"], g["role"]) for g in grants.json()] == [(a.ids["grant_id"], "editor")]
    pending = await identity.client.get(
        f"{identity.base}/projects/{a.ids['project_id']}/access-requests", headers=admin_a
    )
    assert [r["id"] for r in pending.json()] == [a.ids["request_id"]]
    keys = (await identity.client.get(f"{identity.base}/api-keys", headers=admin_a)).json()
    assert [(k["id"], k["revoked_at"]) for k in keys] == [(a.ids["key_id"], None)]
    still = await identity.client.get(f"{identity.base}/me", headers={"X-API-Key": a.key_secret})
    assert still.status_code == 200


async def test_lists_never_show_another_workspaces_objects(identity: IdentityApp) -> None:
    a = await build_world(identity, "Tenant A")
    b = await build_world(identity, "Tenant B")
    document = (await identity.client.get(f"{identity.base}/openapi.json")).json()
    secrets = {
        a.tenant.workspace_id,
        a.tenant.admin_id,
        a.tenant.admin_email,
        a.tenant.slug,
        a.member_email,
        *a.ids.values(),
    }
    listed = 0
    for path, operations in document["paths"].items():
        if "get" not in operations:
            continue
        url = identity.base + fill(path, b.ids)
        assert "{" not in url, f"GET {path}: no object of B for a path parameter"
        for auth in (b.tenant.auth, bearer(b.member_token), {"X-API-Key": b.key_secret}):
            answer = await identity.client.get(url, headers=auth)
            assert answer.status_code < 500, answer.text
            leaked = {s for s in secrets if s in answer.text}
            assert not leaked, f"GET {path} shows A's {leaked}: {answer.text}"
            listed += 1
    assert listed >= 30
    # The lists do show B's own objects, so the check above is not vacuous.
    users = (await identity.client.get(f"{identity.base}/users", headers=b.tenant.auth)).json()
    assert b.ids["user_id"] in {u["id"] for u in users["items"]}
    teams = (await identity.client.get(f"{identity.base}/teams", headers=b.tenant.auth)).json()
    assert [t["id"] for t in teams] == [b.ids["team_id"]]
    keys = (await identity.client.get(f"{identity.base}/api-keys", headers=b.tenant.auth)).json()
    assert [k["id"] for k in keys] == [b.ids["key_id"]]
    # A cursor taken from A does not page into A.
    paged = await identity.client.get(
        f"{identity.base}/users", params={"cursor": a.ids["user_id"]}, headers=b.tenant.auth
    )
    assert not secrets & {u["id"] for u in paged.json()["items"]}


async def test_ids_of_another_workspace_in_bodies_are_unknown_ids(identity: IdentityApp) -> None:
    a = await build_world(identity, "Tenant A")
    b = await build_world(identity, "Tenant B")
    base, auth = identity.base, b.tenant.auth
    team = await identity.client.post(
        f"{base}/teams", headers=auth, json={"name": "Raid", "member_ids": [a.ids["user_id"]]}
    )
    assert team.status_code == 422 and problem_type(team) == "unknown-users"
    joined = await identity.client.put(
        f"{base}/teams/{b.ids['team_id']}/members/{a.ids['user_id']}", headers=auth
    )
    assert joined.status_code == 422 and problem_type(joined) == "unknown-users"
    project_b = b.ids["project_id"]
    for subject_type, subject in (("user", a.ids["user_id"]), ("team", a.ids["team_id"])):
        shared = await identity.client.post(
            f"{base}/projects/{project_b}/grants",
            headers=auth,
            json={"subject_type": subject_type, "subject_id": subject, "role": "manager"},
        )
        assert shared.status_code == 422 and problem_type(shared) == f"unknown-{subject_type}"
    client = await identity.client.post(
        f"{base}/users/invitations",
        headers=auth,
        json={
            "email": email(),
            "display_name": "Client",
            "kind": "client",
            "client_organisation_id": a.ids["organisation_id"],
        },
    )
    assert client.status_code == 422 and problem_type(client) == "unknown-organisation"
    with_grant = await identity.client.post(
        f"{base}/users/invitations",
        headers=auth,
        json={
            "email": email(),
            "display_name": "Vendor",
            "grants": [{"project_id": a.ids["project_id"], "role": "manager"}],
        },
    )
    assert with_grant.status_code == 404 and problem_type(with_grant) == "not-found"

    # A project event naming B's workspace with A's project id never moves A's project to B.
    hijack = registry.envelope(
        ProjectCreated(
            project_id=uuid.UUID(a.ids["project_id"]),
            workspace_id=uuid.UUID(b.tenant.workspace_id),
            name="Hijacked",
            created_by=uuid.UUID(b.tenant.admin_id),
            initial_grants=[
                InitialGrant(
                    subject_type="user", subject_id=uuid.UUID(b.ids["user_id"]), role="manager"
                )
            ],
        ),
        workspace=b.tenant.workspace_id,
    )
    await identity.host.bus.publish([OutgoingMessage.of(hijack)])
    await identity.publish_project(b.tenant)  # same queue: once it is known, so was the hijack
    seen_by_b = await identity.client.get(
        f"{base}/projects/{a.ids['project_id']}/grants", headers=auth
    )
    assert seen_by_b.status_code == 404
    seen_by_a = await identity.client.get(
        f"{base}/projects/{a.ids['project_id']}/grants", headers=a.tenant.auth
    )
    assert [g["id"] for g in seen_by_a.json()] == [a.ids["grant_id"]]


# --- mass assignment --------------------------------------------------------------------------


def error_fields(response: httpx.Response) -> set[str]:
    """The fields a 422 names (and it is a body validation problem)."""
    assert problem_type(response) == "validation-error"
    return {str(error["location"][-1]) for error in response.json()["errors"]}


async def test_power_fields_in_bodies_change_nobodys_rights(identity: IdentityApp) -> None:
    tenant = await identity.create_tenant()
    other = await identity.create_tenant("Elsewhere")
    member_email, client_email = email(), email()
    member, member_token = await identity.invite_and_join(tenant, member_email)
    client, client_token = await identity.invite_and_join(tenant, client_email, kind="client")
    base = identity.base

    for user_id, token in ((member, member_token), (client, client_token)):
        auth = bearer(token)
        for field, value in (
            ("workspace_id", other.workspace_id),
            ("role", "admin"),
            ("is_admin", True),
        ):
            sneaked = await identity.client.patch(
                f"{base}/users/{user_id}", headers=auth, json={"display_name": "Me", field: value}
            )
            assert sneaked.status_code == 422, sneaked.text
            assert field in error_fields(sneaked)
        refused_fields: tuple[tuple[str, str | None], ...] = (
            ("workspace_role", "admin"),
            ("kind", "staff"),
            ("kind", "collaborator"),
            ("client_organisation_id", None),
        )
        for field, choice in refused_fields:
            refused = await identity.client.patch(
                f"{base}/users/{user_id}", headers=auth, json={"display_name": "Me", field: choice}
            )
            assert refused.status_code == 403, (field, refused.text)
            assert problem_type(refused) == "admin-only"
        for path, body in (
            ("/users/invitations", {"email": email(), "display_name": "X"}),
            (
                "/users/invitations",
                {"email": email(), "display_name": "X", "workspace_role": "admin"},
            ),
            ("/teams", {"name": "Admins", "member_ids": [user_id]}),
            ("/api-keys", {"name": "Mine", "scopes": ["admin"]}),
            ("/client-organisations", {"name": "Mine"}),
        ):
            refused = await identity.client.post(f"{base}{path}", headers=auth, json=body)
            assert refused.status_code == 403, (path, refused.text)
        patched = await identity.client.patch(
            f"{base}/workspace", headers=auth, json={"name": "Mine now"}
        )
        assert patched.status_code == 403
        for path, body in (
            (
                "/users/invitations",
                {"email": email(), "display_name": "X", "workspace_id": other.workspace_id},
            ),
            ("/teams", {"name": "T", "workspace_id": other.workspace_id}),
            ("/workspace", {"name": "W", "workspace_id": other.workspace_id}),
        ):
            method = "PATCH" if path == "/workspace" else "POST"
            sneaked = await identity.client.request(
                method, f"{base}{path}", headers=auth, json=body
            )
            assert sneaked.status_code == 422 and "workspace_id" in error_fields(sneaked)

    admin: dict[str, Any] = {"email": email(), "display_name": "X", "password": PASSWORD}
    signup: dict[str, Any] = {
        "name": "Mine",
        "slug": f"ws-{uuid.uuid4().hex[:10]}",
        "admin": admin,
    }
    for extra in (
        {"workspace_id": tenant.workspace_id},
        {"role": "admin"},
        {"is_admin": True},
        {"kind": "staff"},
    ):
        sneaked = await identity.client.post(
            f"{base}/workspaces", headers=bearer(member_token), json=signup | extra
        )
        assert sneaked.status_code == 422 and set(extra) <= error_fields(sneaked)
    for extra in (
        {"workspace_id": tenant.workspace_id},
        {"workspace_role": "admin"},
        {"kind": "staff"},
        {"is_admin": True},
    ):
        nested = signup | {"admin": admin | extra}
        sneaked = await identity.client.post(f"{base}/workspaces", json=nested)
        assert sneaked.status_code == 422 and set(extra) <= error_fields(sneaked)

    for path, body in (
        (
            "/auth/login",
            {"workspace": tenant.slug, "email": member_email, "password": PASSWORD, "role": "a"},
        ),
        ("/auth/refresh", {"refresh_token": "x" * 20, "workspace_role": "admin"}),
        ("/auth/password-reset", {"workspace": tenant.slug, "email": member_email, "kind": "s"}),
    ):
        sneaked = await identity.client.post(f"{base}{path}", json=body)
        assert sneaked.status_code == 422, (path, sneaked.text)

    # An invitee cannot choose their own rights when accepting.
    invited = await identity.client.post(
        f"{base}/users/invitations",
        headers=tenant.auth,
        json={"email": email(), "display_name": "New", "kind": "collaborator"},
    )
    link = await identity.mailed_link(invited.json()["id"], "invite")
    for extra in ({"workspace_role": "admin"}, {"kind": "staff"}, {"is_admin": True}):
        sneaked = await identity.client.post(
            f"{base}/invitations/accept", json={"token": link, "password": PASSWORD} | extra
        )
        assert sneaked.status_code == 422 and set(extra) <= error_fields(sneaked)
    accepted = await identity.client.post(
        f"{base}/invitations/accept", json={"token": link, "password": PASSWORD}
    )
    assert accepted.status_code == 200, "refused attempts did not use the link up"
    new_claims = claims_of(accepted.json()["access_token"])
    assert (new_claims["kind"], new_claims["role"]) == ("collaborator", "member")

    # Nobody's rights moved: /me, a fresh login, and the admin's view agree.
    for user_id, address, kind in (
        (member, member_email, "staff"),
        (client, client_email, "client"),
    ):
        token = (await identity.login(tenant.slug, address))["access_token"]
        claims = claims_of(token)
        assert (claims["sub"], claims["wid"], claims["kind"], claims["role"]) == (
            user_id,
            tenant.workspace_id,
            kind,
            "member",
        )
        me = (await identity.client.get(f"{base}/me", headers=bearer(token))).json()
        assert (me["workspace_id"], me["kind"], me["workspace_role"]) == (
            tenant.workspace_id,
            kind,
            "member",
        )
        seen = (await identity.client.get(f"{base}/users/{user_id}", headers=tenant.auth)).json()
        assert (seen["kind"], seen["workspace_role"], seen["display_name"]) == (
            kind,
            "member",
            address,
        ), "refused bodies changed nothing, not even the display name sent with them"
    assert await identity.published("identity.user.updated.v1", tenant.workspace_id) == []
    teams = (await identity.client.get(f"{base}/teams", headers=tenant.auth)).json()
    assert teams == []


async def test_people_may_change_their_own_display_name_only(identity: IdentityApp) -> None:
    tenant = await identity.create_tenant()
    member, member_token = await identity.invite_and_join(tenant, email())
    client, client_token = await identity.invite_and_join(tenant, email(), kind="client")
    for user_id, token, name in ((member, member_token, "Mia"), (client, client_token, "Cleo")):
        renamed = await identity.client.patch(
            f"{identity.base}/users/{user_id}", headers=bearer(token), json={"display_name": name}
        )
        assert renamed.status_code == 200, renamed.text
        assert renamed.json()["display_name"] == name
        assert renamed.json()["workspace_role"] == "member"
        me = await identity.client.get(f"{identity.base}/me", headers=bearer(token))
        assert me.json()["display_name"] == name
    others = await identity.client.patch(
        f"{identity.base}/users/{tenant.admin_id}",
        headers=bearer(member_token),
        json={"display_name": "Hacked"},
    )
    assert others.status_code == 403 and problem_type(others) == "admin-only"
    by_client = await identity.client.patch(
        f"{identity.base}/users/{member}",
        headers=bearer(client_token),
        json={"display_name": "Hacked"},
    )
    assert by_client.status_code == 404, "clients do not even learn other people exist"
    updates = await identity.published("identity.user.updated.v1", tenant.workspace_id)
    assert [(u["user_id"], u["changes"]) for u in updates] == [
        (member, {"display_name": "Mia"}),
        (client, {"display_name": "Cleo"}),
    ]


# --- login rate limits ------------------------------------------------------------------------


async def test_parallel_guesses_cannot_pass_the_account_limit(identity: IdentityApp) -> None:
    limit = identity_state(identity).settings.login_attempts_per_account
    tenant = await identity.create_tenant()
    address = email()
    await identity.invite_and_join(tenant, address)

    def attempt(password: str) -> Any:
        return identity.client.post(
            f"{identity.base}/auth/login",
            json={"workspace": tenant.slug, "email": address, "password": password},
        )

    answers = await asyncio.gather(*(attempt(f"wrong guess {n:04}") for n in range(limit + 1)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [401] * limit + [429], statuses
    for answer in answers:
        expected = "invalid-credentials" if answer.status_code == 401 else "too-many-attempts"
        assert problem_type(answer) == expected
    locked = next(a for a in answers if a.status_code == 429)
    window = identity_state(identity).settings.login_window_seconds
    assert 1 <= int(locked.headers["Retry-After"]) <= window
    assert locked.json()["retry_after"] == int(locked.headers["Retry-After"])

    right = await attempt(PASSWORD)
    assert right.status_code == 429, "the right password does not open a locked account"
    assert problem_type(right) == "too-many-attempts" and "Retry-After" in right.headers
    # Only that account is locked.
    assert (await identity.login(tenant.slug, tenant.admin_email))["access_token"]


async def test_one_address_cannot_try_many_accounts(
    identity: IdentityApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = await identity.create_tenant()  # logs in from 127.0.0.1: before the limit drops
    settings = identity_state(identity).settings
    monkeypatch.setattr(settings, "login_attempts_per_ip", 4)

    def from_address() -> httpx.AsyncClient:
        """A client of its own loopback address: a fresh per-address counter (127.0.0.1, the
        trusted proxy, is what every other test uses)."""
        raw = uuid.uuid4().bytes
        address = f"127.{raw[0]}.{raw[1]}.{raw[2] % 250 + 2}"
        return httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(local_address=address), timeout=30
        )

    async with from_address() as attacker, from_address() as bystander:
        answers = [
            await attacker.post(
                f"{identity.base}/auth/login",
                json={"workspace": tenant.slug, "email": email(), "password": "guess guess"},
            )
            for _ in range(settings.login_attempts_per_ip)
        ]
        assert [a.status_code for a in answers] == [401] * settings.login_attempts_per_ip
        over = await attacker.post(
            f"{identity.base}/auth/login",
            json={"workspace": tenant.slug, "email": tenant.admin_email, "password": PASSWORD},
        )
        assert over.status_code == 429 and problem_type(over) == "too-many-attempts"
        assert int(over.headers["Retry-After"]) >= 1
        elsewhere = await bystander.post(
            f"{identity.base}/auth/login",
            json={"workspace": tenant.slug, "email": tenant.admin_email, "password": PASSWORD},
        )
        assert elsewhere.status_code == 200, "another address is not limited"


# --- tokens -----------------------------------------------------------------------------------


async def signing_key(identity: IdentityApp) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    from sqlalchemy import select

    from services.identity.models import SigningKey

    async with identity.host.runtimes[0].engine.connect() as connection:
        pem = (
            await connection.execute(
                select(SigningKey.private_pem).where(SigningKey.active.is_(True))
            )
        ).scalar_one()
    return load_pem_private_key(pem.encode(), password=None)


async def assert_refused(identity: IdentityApp, token: str, kind: str = "invalid-token") -> None:
    for url in (f"{identity.base}/me", f"{identity.probe}/whoami"):
        answer = await identity.client.get(url, headers=bearer(token))
        assert answer.status_code == 401, (url, answer.text)
        assert problem_type(answer) == kind
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")


async def test_forged_expired_and_foreign_tokens_are_refused(identity: IdentityApp) -> None:
    a = await identity.create_tenant("Tenant A")
    b = await identity.create_tenant("Tenant B")
    a_user, _ = await identity.invite_and_join(a, email())
    genuine = claims_of(b.token)
    header = {"kid": jwt.get_unverified_header(b.token)["kid"]}
    real_key = await signing_key(identity)

    other_key = Ed25519PrivateKey.generate()
    await assert_refused(identity, jwt.encode(genuine, other_key, "EdDSA", headers=header))
    await assert_refused(identity, jwt.encode(genuine, other_key, "EdDSA"))

    now = int(time.time())
    expired = genuine | {"iat": now - 1200, "exp": now - 600}
    await assert_refused(identity, jwt.encode(expired, real_key, "EdDSA", headers=header))
    foreign_audience = genuine | {"aud": "someone-else"}
    await assert_refused(identity, jwt.encode(foreign_audience, real_key, "EdDSA", headers=header))
    unsigned = jwt.encode(genuine, "", algorithm="none")
    await assert_refused(identity, unsigned)
    symmetric = jwt.encode(genuine, "x" * 32, algorithm="HS256", headers=header)
    await assert_refused(identity, symmetric)

    # B's token edited to claim A's workspace: the signature no longer matches.
    head, _, rest = b.token.partition(".")
    signature = rest.partition(".")[2]
    payload = base64.urlsafe_b64encode(
        json.dumps(genuine | {"wid": a.workspace_id}).encode()
    ).rstrip(b"=")
    await assert_refused(identity, f"{head}.{payload.decode()}.{signature}")
    # Even validly signed, B's admin is nobody in A: identity checks the user on every call.
    crossed = jwt.encode(genuine | {"wid": a.workspace_id}, real_key, "EdDSA", headers=header)
    across = await identity.client.get(f"{identity.base}/users/{a_user}", headers=bearer(crossed))
    assert across.status_code == 401 and problem_type(across) == "inactive-user"
    # B's genuine token on A's user: that id does not exist for B.
    as_b = await identity.client.get(f"{identity.base}/users/{a_user}", headers=b.auth)
    assert as_b.status_code == 404 and problem_type(as_b) == "not-found"

    missing = await identity.client.get(f"{identity.base}/me")
    assert missing.status_code == 401 and problem_type(missing) == "unauthenticated"
    assert (await identity.client.get(f"{identity.base}/me", headers=b.auth)).status_code == 200


async def test_a_refresh_token_is_dead_after_logout(identity: IdentityApp) -> None:
    a = await identity.create_tenant("Tenant A")
    other = await identity.login(a.slug, a.admin_email)
    out = await identity.client.post(
        f"{identity.base}/auth/logout", json={"refresh_token": a.refresh}
    )
    assert out.status_code == 204
    for _ in range(2):
        again = await identity.client.post(
            f"{identity.base}/auth/refresh", json={"refresh_token": a.refresh}
        )
        assert again.status_code == 401
        assert problem_type(again) == "invalid-refresh-token"
    forged = await identity.client.post(
        f"{identity.base}/auth/refresh", json={"refresh_token": "not-a-real-refresh-token"}
    )
    assert forged.status_code == 401 and problem_type(forged) == "invalid-refresh-token"
    survives = await identity.client.post(
        f"{identity.base}/auth/refresh", json={"refresh_token": other["refresh_token"]}
    )
    assert survives.status_code == 200, "logging out ends that login only"
