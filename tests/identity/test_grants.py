"""Teams, project grants (sharing) and access requests, through the HTTP API and the events
identity publishes (read from its outbox, which is what the bus delivers)."""

from __future__ import annotations

import uuid
from typing import Any

import jwt

from contracts.tickets import InitialGrant
from tests.identity.conftest import IdentityApp, Tenant


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims_of(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


def email() -> str:
    return f"u-{uuid.uuid4().hex[:8]}@acme.test"


def problem_type(response: Any) -> str:
    assert response.headers["content-type"].startswith("application/problem+json")
    kind: str = response.json()["type"]
    return kind.rsplit("/", 1)[-1]


async def team_events(identity: IdentityApp, team_id: str) -> list[dict[str, Any]]:
    return [
        e for e in await identity.published("identity.team.changed.v1") if e["team_id"] == team_id
    ]


async def grant_events(identity: IdentityApp, kind: str, project_id: str) -> list[dict[str, Any]]:
    return [
        e
        for e in await identity.published(f"identity.grant.{kind}.v1")
        if e["project_id"] == project_id
    ]


async def make_team(identity: IdentityApp, tenant: Tenant, name: str, members: list[str]) -> str:
    created = await identity.client.post(
        f"{identity.base}/teams", headers=tenant.auth, json={"name": name, "member_ids": members}
    )
    assert created.status_code == 201, created.text
    team_id: str = created.json()["id"]
    return team_id


async def share(
    identity: IdentityApp,
    tenant: Tenant,
    project_id: str,
    subject_id: str,
    role: str,
    *,
    subject_type: str = "user",
    token: str | None = None,
    silent: bool = False,
) -> Any:
    return await identity.client.post(
        f"{identity.base}/projects/{project_id}/grants",
        headers=bearer(token) if token else tenant.auth,
        json={
            "subject_type": subject_type,
            "subject_id": subject_id,
            "role": role,
            "silent": silent,
        },
    )


async def grants_of(identity: IdentityApp, tenant: Tenant, project_id: str) -> list[dict[str, Any]]:
    listed = await identity.client.get(
        f"{identity.base}/projects/{project_id}/grants", headers=tenant.auth
    )
    assert listed.status_code == 200, listed.text
    result: list[dict[str, Any]] = listed.json()
    return result


# --- teams ------------------------------------------------------------------------------------


async def test_team_lifecycle_publishes_the_full_member_list(identity: IdentityApp) -> None:
    tenant = await identity.create_tenant()
    ann, _ = await identity.invite_and_join(tenant, email())
    bob, _ = await identity.invite_and_join(tenant, email())
    cid, _ = await identity.invite_and_join(tenant, email())

    created = await identity.client.post(
        f"{identity.base}/teams",
        headers=tenant.auth,
        json={"name": "Design", "member_ids": [ann, bob]},
    )
    assert created.status_code == 201, created.text
    team = created.json()
    assert (team["name"], sorted(team["member_ids"])) == ("Design", sorted([ann, bob]))
    team_id = team["id"]

    renamed = await identity.client.patch(
        f"{identity.base}/teams/{team_id}", headers=tenant.auth, json={"name": "Brand design"}
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "Brand design"
    added = await identity.client.put(
        f"{identity.base}/teams/{team_id}/members/{cid}", headers=tenant.auth
    )
    assert sorted(added.json()["member_ids"]) == sorted([ann, bob, cid])
    removed = await identity.client.delete(
        f"{identity.base}/teams/{team_id}/members/{ann}", headers=tenant.auth
    )
    assert sorted(removed.json()["member_ids"]) == sorted([bob, cid])
    deleted = await identity.client.delete(f"{identity.base}/teams/{team_id}", headers=tenant.auth)
    assert deleted.status_code == 204
    listed = await identity.client.get(f"{identity.base}/teams", headers=tenant.auth)
    assert team_id not in [t["id"] for t in listed.json()]

    events = await team_events(identity, team_id)
    assert [(e["name"], sorted(e["member_ids"]), e["deleted"]) for e in events] == [
        ("Design", sorted([ann, bob]), False),
        ("Brand design", sorted([ann, bob]), False),
        ("Brand design", sorted([ann, bob, cid]), False),
        ("Brand design", sorted([bob, cid]), False),
        ("Brand design", [], True),
    ]
    assert all(e["workspace_id"] == tenant.workspace_id for e in events)


async def test_a_user_in_several_teams_gets_them_all_in_the_token(identity: IdentityApp) -> None:
    tenant = await identity.create_tenant()
    address = email()
    user_id, first_token = await identity.invite_and_join(tenant, address)
    assert claims_of(first_token)["teams"] == []
    design = await make_team(identity, tenant, "Design", [user_id])
    support = await make_team(identity, tenant, "Support", [])
    joined = await identity.client.put(
        f"{identity.base}/teams/{support}/members/{user_id}", headers=tenant.auth
    )
    assert joined.status_code == 200
    await make_team(identity, tenant, "Elsewhere", [])

    token = (await identity.login(tenant.slug, address))["access_token"]
    assert sorted(claims_of(token)["teams"]) == sorted([design, support])
    me = await identity.client.get(f"{identity.base}/me", headers=bearer(token))
    assert sorted(me.json()["teams"]) == sorted([design, support])

    await identity.client.delete(
        f"{identity.base}/teams/{design}/members/{user_id}", headers=tenant.auth
    )
    token = (await identity.login(tenant.slug, address))["access_token"]
    assert claims_of(token)["teams"] == [support]


async def test_team_members_must_exist_and_names_are_unique(identity: IdentityApp) -> None:
    tenant = await identity.create_tenant()
    member, _ = await identity.invite_and_join(tenant, email())
    ghost = str(uuid.uuid4())
    unknown = await identity.client.post(
        f"{identity.base}/teams",
        headers=tenant.auth,
        json={"name": "Ghosts", "member_ids": [member, ghost]},
    )
    assert unknown.status_code == 422
    assert problem_type(unknown) == "unknown-users"
    assert unknown.json()["user_ids"] == [ghost]

    team_id = await make_team(identity, tenant, "Design", [member])
    again = await identity.client.post(
        f"{identity.base}/teams", headers=tenant.auth, json={"name": "Design"}
    )
    assert again.status_code == 409 and problem_type(again) == "team-exists"
    other = await make_team(identity, tenant, "Support", [])
    clash = await identity.client.patch(
        f"{identity.base}/teams/{other}", headers=tenant.auth, json={"name": "Design"}
    )
    assert clash.status_code == 409 and problem_type(clash) == "team-exists"
    add_ghost = await identity.client.put(
        f"{identity.base}/teams/{team_id}/members/{ghost}", headers=tenant.auth
    )
    assert add_ghost.status_code == 422 and problem_type(add_ghost) == "unknown-users"
    assert [
        t["name"]
        for t in (await identity.client.get(f"{identity.base}/teams", headers=tenant.auth)).json()
    ] == ["Design", "Support"]
    assert len(await team_events(identity, team_id)) == 1, "refused changes publish nothing"


async def test_only_admins_manage_teams(identity: IdentityApp) -> None:
    tenant = await identity.create_tenant()
    member, token = await identity.invite_and_join(tenant, email())
    refused = await identity.client.post(
        f"{identity.base}/teams", headers=bearer(token), json={"name": "Mine", "member_ids": []}
    )
    assert refused.status_code == 403 and problem_type(refused) == "admin-only"
    team_id = await make_team(identity, tenant, "Design", [])
    join = await identity.client.put(
        f"{identity.base}/teams/{team_id}/members/{member}", headers=bearer(token)
    )
    assert join.status_code == 403
    listed = await identity.client.get(f"{identity.base}/teams", headers=bearer(token))
    assert listed.status_code == 200 and [t["id"] for t in listed.json()] == [team_id]


# --- grants -----------------------------------------------------------------------------------


async def test_sharing_with_users_and_teams_and_changing_roles(identity: IdentityApp) -> None:
    tenant = await identity.create_tenant()
    project = await identity.publish_project(tenant)
    user_id, _ = await identity.invite_and_join(tenant, email())
    team_id = await make_team(identity, tenant, "Vendors", [])

    given = await share(identity, tenant, project, user_id, "viewer", silent=True)
    assert given.status_code == 201, given.text
    grant = given.json()
    assert (grant["subject_type"], grant["subject_id"], grant["role"], grant["silent"]) == (
        "user",
        user_id,
        "viewer",
        True,
    )
    to_team = await share(identity, tenant, project, team_id, "contributor", subject_type="team")
    assert to_team.status_code == 201 and to_team.json()["subject_type"] == "team"

    again = await share(identity, tenant, project, user_id, "editor")
    assert again.status_code == 201 and again.json()["id"] == grant["id"]
    assert again.json()["role"] == "editor"
    assert {(g["subject_id"], g["role"]) for g in await grants_of(identity, tenant, project)} == {
        (user_id, "editor"),
        (team_id, "contributor"),
    }

    patched = await identity.client.patch(
        f"{identity.base}/grants/{grant['id']}",
        headers=tenant.auth,
        json={"role": "manager", "silent": True},
    )
    assert patched.status_code == 200 and patched.json()["role"] == "manager"
    revoked = await identity.client.delete(
        f"{identity.base}/grants/{to_team.json()['id']}", headers=tenant.auth
    )
    assert revoked.status_code == 204
    gone = await identity.client.delete(
        f"{identity.base}/grants/{to_team.json()['id']}", headers=tenant.auth
    )
    assert gone.status_code == 404 and problem_type(gone) == "not-found"
    assert [g["subject_id"] for g in await grants_of(identity, tenant, project)] == [user_id]

    given_events = await grant_events(identity, "given", project)
    assert [(e["subject_type"], e["subject_id"], e["role"], e["silent"]) for e in given_events] == [
        ("user", user_id, "viewer", True),
        ("team", team_id, "contributor", False),
    ]
    assert given_events[0]["granted_by"] == tenant.admin_id
    changed = await grant_events(identity, "changed", project)
    assert [(e["grant_id"], e["previous_role"], e["role"], e["silent"]) for e in changed] == [
        (grant["id"], "viewer", "editor", False),
        (grant["id"], "editor", "manager", True),
    ]
    revoked_events = await grant_events(identity, "revoked", project)
    assert [(e["grant_id"], e["subject_type"], e["subject_id"]) for e in revoked_events] == [
        (to_team.json()["id"], "team", team_id)
    ]


async def test_grants_need_a_known_project_and_subject(identity: IdentityApp) -> None:
    tenant = await identity.create_tenant()
    project = await identity.publish_project(tenant)
    user_id, _ = await identity.invite_and_join(tenant, email())
    unknown_project = await share(identity, tenant, str(uuid.uuid4()), user_id, "viewer")
    assert unknown_project.status_code == 404 and problem_type(unknown_project) == "not-found"
    unknown_user = await share(identity, tenant, project, str(uuid.uuid4()), "viewer")
    assert unknown_user.status_code == 422 and problem_type(unknown_user) == "unknown-user"
    unknown_team = await share(
        identity, tenant, project, str(uuid.uuid4()), "viewer", subject_type="team"
    )
    assert unknown_team.status_code == 422 and problem_type(unknown_team) == "unknown-team"
    a_user_as_team = await share(identity, tenant, project, user_id, "viewer", subject_type="team")
    assert a_user_as_team.status_code == 422
    bad_role = await share(identity, tenant, project, user_id, "owner")
    assert bad_role.status_code == 422
    assert await grants_of(identity, tenant, project) == []
    assert await grant_events(identity, "given", project) == []


async def test_managers_share_editors_may_not_and_strangers_see_nothing(
    identity: IdentityApp,
) -> None:
    tenant = await identity.create_tenant()
    project = await identity.publish_project(tenant)
    manager, manager_token = await identity.invite_and_join(tenant, email())
    team_lead, team_lead_token = await identity.invite_and_join(
        tenant, email(), kind="collaborator"
    )
    editor, editor_token = await identity.invite_and_join(tenant, email())
    _, stranger_token = await identity.invite_and_join(tenant, email())
    newcomer, _ = await identity.invite_and_join(tenant, email())
    leads = await make_team(identity, tenant, "Leads", [team_lead])
    assert (await share(identity, tenant, project, manager, "manager")).status_code == 201
    assert (
        await share(identity, tenant, project, leads, "manager", subject_type="team")
    ).status_code == 201
    assert (await share(identity, tenant, project, editor, "editor")).status_code == 201

    by_manager = await share(identity, tenant, project, newcomer, "viewer", token=manager_token)
    assert by_manager.status_code == 201, by_manager.text
    by_team_manager = await share(
        identity, tenant, project, newcomer, "contributor", token=team_lead_token
    )
    assert by_team_manager.status_code == 201, by_team_manager.text
    assert by_team_manager.json()["role"] == "contributor"
    given = await grant_events(identity, "given", project)
    assert given[-1]["subject_id"] == newcomer and given[-1]["granted_by"] == manager
    changed = await grant_events(identity, "changed", project)
    assert [(e["subject_id"], e["previous_role"], e["role"]) for e in changed] == [
        (newcomer, "viewer", "contributor")
    ]

    by_editor = await share(identity, tenant, project, newcomer, "manager", token=editor_token)
    assert by_editor.status_code == 403 and problem_type(by_editor) == "managers-only"
    editor_grant = next(
        g for g in await grants_of(identity, tenant, project) if g["subject_id"] == editor
    )
    self_promotion = await identity.client.patch(
        f"{identity.base}/grants/{editor_grant['id']}",
        headers=bearer(editor_token),
        json={"role": "manager"},
    )
    assert self_promotion.status_code == 403 and problem_type(self_promotion) == "managers-only"
    editor_sees = await identity.client.get(
        f"{identity.base}/projects/{project}/grants", headers=bearer(editor_token)
    )
    assert editor_sees.status_code == 200

    for attempt in (
        await share(identity, tenant, project, newcomer, "viewer", token=stranger_token),
        await identity.client.get(
            f"{identity.base}/projects/{project}/grants", headers=bearer(stranger_token)
        ),
        await identity.client.patch(
            f"{identity.base}/grants/{editor_grant['id']}",
            headers=bearer(stranger_token),
            json={"role": "viewer"},
        ),
        await identity.client.delete(
            f"{identity.base}/grants/{editor_grant['id']}", headers=bearer(stranger_token)
        ),
    ):
        assert attempt.status_code == 404, attempt.text
        assert problem_type(attempt) == "not-found"
    assert {(g["subject_id"], g["role"]) for g in await grants_of(identity, tenant, project)} == {
        (manager, "manager"),
        (leads, "manager"),
        (editor, "editor"),
        (newcomer, "contributor"),
    }


async def test_grants_requested_with_the_project_are_given_once_it_arrives(
    identity: IdentityApp,
) -> None:
    tenant = await identity.create_tenant()
    vendor, vendor_token = await identity.invite_and_join(tenant, email(), kind="collaborator")
    team_id = await make_team(identity, tenant, "Studio", [])
    project = await identity.publish_project(
        tenant,
        grants=[
            InitialGrant(subject_type="user", subject_id=uuid.UUID(vendor), role="editor"),
            InitialGrant(
                subject_type="team", subject_id=uuid.UUID(team_id), role="viewer", silent=True
            ),
            InitialGrant(subject_type="user", subject_id=uuid.uuid4(), role="manager"),
        ],
    )
    assert {
        (g["subject_type"], g["subject_id"], g["role"], g["silent"])
        for g in await grants_of(identity, tenant, project)
    } == {("user", vendor, "editor", False), ("team", team_id, "viewer", True)}
    events = await grant_events(identity, "given", project)
    assert {(e["subject_id"], e["silent"], e["granted_by"]) for e in events} == {
        (vendor, False, tenant.admin_id),
        (team_id, True, tenant.admin_id),
    }, "the unknown user is skipped, the rest is shared"
    seen = await identity.client.get(
        f"{identity.base}/projects/{project}/grants", headers=bearer(vendor_token)
    )
    assert seen.status_code == 200


async def test_an_invitation_shares_projects_with_the_new_user_at_once(
    identity: IdentityApp,
) -> None:
    """ "Give this new vendor editor on these three campaigns"."""
    tenant = await identity.create_tenant()
    campaigns = [
        await identity.publish_project(tenant, name=f"Campaign {n}") for n in ("A", "B", "C")
    ]
    other = await identity.publish_project(tenant, name="Internal")
    invited = await identity.client.post(
        f"{identity.base}/users/invitations",
        headers=tenant.auth,
        json={
            "email": email(),
            "display_name": "Vendor",
            "kind": "collaborator",
            "grants": [
                {"project_id": p, "role": "editor", "silent": n == 2}
                for n, p in enumerate(campaigns)
            ],
        },
    )
    assert invited.status_code == 201, invited.text
    vendor = invited.json()["id"]
    for n, project in enumerate(campaigns):
        assert [
            (g["subject_id"], g["role"], g["silent"])
            for g in await grants_of(identity, tenant, project)
        ] == [(vendor, "editor", n == 2)]
        events = await grant_events(identity, "given", project)
        assert [(e["subject_id"], e["role"], e["silent"]) for e in events] == [
            (vendor, "editor", n == 2)
        ]
    assert await grants_of(identity, tenant, other) == []

    link = await identity.mailed_link(vendor, "invite")
    accepted = await identity.client.post(
        f"{identity.base}/invitations/accept",
        json={"token": link, "password": "correct horse battery staple"},
    )
    token = accepted.json()["access_token"]
    for project in campaigns:
        mine = await identity.client.get(
            f"{identity.base}/projects/{project}/grants", headers=bearer(token)
        )
        assert mine.status_code == 200
    hidden = await identity.client.get(
        f"{identity.base}/projects/{other}/grants", headers=bearer(token)
    )
    assert hidden.status_code == 404

    unknown = await identity.client.post(
        f"{identity.base}/users/invitations",
        headers=tenant.auth,
        json={
            "email": email(),
            "display_name": "Nobody",
            "grants": [{"project_id": str(uuid.uuid4()), "role": "editor"}],
        },
    )
    assert unknown.status_code == 404 and problem_type(unknown) == "not-found"


async def test_deleting_a_team_revokes_its_grants(identity: IdentityApp) -> None:
    tenant = await identity.create_tenant()
    member, _ = await identity.invite_and_join(tenant, email())
    first = await identity.publish_project(tenant, name="First")
    second = await identity.publish_project(tenant, name="Second")
    team_id = await make_team(identity, tenant, "Temporary", [member])
    grants = [
        (await share(identity, tenant, p, team_id, role, subject_type="team")).json()["id"]
        for p, role in ((first, "editor"), (second, "viewer"))
    ]
    kept = (await share(identity, tenant, first, member, "viewer")).json()["id"]

    deleted = await identity.client.delete(f"{identity.base}/teams/{team_id}", headers=tenant.auth)
    assert deleted.status_code == 204
    revoked = [
        e
        for e in await identity.published("identity.grant.revoked.v1", tenant.workspace_id)
        if e["subject_id"] == team_id
    ]
    assert sorted(e["grant_id"] for e in revoked) == sorted(grants)
    assert {(e["project_id"], e["subject_type"]) for e in revoked} == {
        (first, "team"),
        (second, "team"),
    }
    assert [g["id"] for g in await grants_of(identity, tenant, first)] == [kept]
    assert await grants_of(identity, tenant, second) == []
    last = (await team_events(identity, team_id))[-1]
    assert (last["deleted"], last["member_ids"]) == (True, [])


# --- access requests --------------------------------------------------------------------------


async def test_access_requests_are_asked_approved_and_denied(identity: IdentityApp) -> None:
    tenant = await identity.create_tenant()
    project = await identity.publish_project(tenant)
    manager, manager_token = await identity.invite_and_join(tenant, email())
    lead, _ = await identity.invite_and_join(tenant, email())
    editor, editor_token = await identity.invite_and_join(tenant, email())
    second_admin, _ = await identity.invite_and_join(tenant, email(), workspace_role="admin")
    asker, asker_token = await identity.invite_and_join(tenant, email(), kind="collaborator")
    other, other_token = await identity.invite_and_join(tenant, email(), kind="collaborator")
    _, client_token = await identity.invite_and_join(tenant, email(), kind="client")
    leads = await make_team(identity, tenant, "Leads", [lead])
    await share(identity, tenant, project, manager, "manager")
    await share(identity, tenant, project, leads, "manager", subject_type="team")
    await share(identity, tenant, project, editor, "editor")

    asked = await identity.client.post(
        f"{identity.base}/projects/{project}/access-requests",
        headers=bearer(asker_token),
        json={"note": "I am doing the translations"},
    )
    assert asked.status_code == 201, asked.text
    request = asked.json()
    assert (request["status"], request["user_id"], request["note"]) == (
        "pending",
        asker,
        "I am doing the translations",
    )
    twice = await identity.client.post(
        f"{identity.base}/projects/{project}/access-requests",
        headers=bearer(asker_token),
        json={"note": "again"},
    )
    assert twice.status_code in (200, 201) and twice.json()["id"] == request["id"]
    requested = [
        e
        for e in await identity.published("identity.access.requested.v1")
        if e["project_id"] == project
    ]
    assert len(requested) == 1, "asking twice tells the managers once"
    assert requested[0]["request_id"] == request["id"]
    assert requested[0]["note"] == "I am doing the translations"
    assert sorted(requested[0]["manager_ids"]) == sorted(
        [manager, lead, tenant.admin_id, second_admin]
    ), "direct managers, managers through a team and admins; never the editor"

    by_client = await identity.client.post(
        f"{identity.base}/projects/{project}/access-requests", headers=bearer(client_token), json={}
    )
    assert by_client.status_code == 403 and problem_type(by_client) == "cannot-request-access"
    already = await identity.client.post(
        f"{identity.base}/projects/{project}/access-requests", headers=bearer(editor_token), json={}
    )
    assert already.status_code == 409 and problem_type(already) == "already-has-access"

    pending = await identity.client.get(
        f"{identity.base}/projects/{project}/access-requests", headers=bearer(manager_token)
    )
    assert pending.status_code == 200 and [r["id"] for r in pending.json()] == [request["id"]]
    editor_list = await identity.client.get(
        f"{identity.base}/projects/{project}/access-requests", headers=bearer(editor_token)
    )
    assert editor_list.status_code == 403 and problem_type(editor_list) == "managers-only"
    editor_decides = await identity.client.post(
        f"{identity.base}/access-requests/{request['id']}/approve",
        headers=bearer(editor_token),
        json={"role": "manager"},
    )
    assert editor_decides.status_code == 403 and problem_type(editor_decides) == "managers-only"
    self_approval = await identity.client.post(
        f"{identity.base}/access-requests/{request['id']}/approve",
        headers=bearer(asker_token),
        json={"role": "manager"},
    )
    assert self_approval.status_code == 404

    approved = await identity.client.post(
        f"{identity.base}/access-requests/{request['id']}/approve",
        headers=bearer(manager_token),
        json={"role": "contributor"},
    )
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["role"], approved.json()["decided_by"]) == (
        "approved",
        "contributor",
        manager,
    )
    approvals = [
        e
        for e in await identity.published("identity.access.approved.v1")
        if e["project_id"] == project
    ]
    assert [(e["request_id"], e["user_id"], e["role"], e["decided_by"]) for e in approvals] == [
        (request["id"], asker, "contributor", manager)
    ]
    given = await grant_events(identity, "given", project)
    assert (given[-1]["subject_id"], given[-1]["role"], given[-1]["granted_by"]) == (
        asker,
        "contributor",
        manager,
    )
    assert (asker, "contributor") in {
        (g["subject_id"], g["role"]) for g in await grants_of(identity, tenant, project)
    }
    now_visible = await identity.client.get(
        f"{identity.base}/projects/{project}/grants", headers=bearer(asker_token)
    )
    assert now_visible.status_code == 200

    decided_twice = await identity.client.post(
        f"{identity.base}/access-requests/{request['id']}/deny",
        headers=bearer(manager_token),
        json={"reason": "changed my mind"},
    )
    assert decided_twice.status_code == 409 and problem_type(decided_twice) == "already-decided"

    second = await identity.client.post(
        f"{identity.base}/projects/{project}/access-requests",
        headers=bearer(other_token),
        json={"note": "me too"},
    )
    assert second.status_code == 201
    denied = await identity.client.post(
        f"{identity.base}/access-requests/{second.json()['id']}/deny",
        headers=tenant.auth,
        json={"reason": "Client budget does not cover it"},
    )
    assert denied.status_code == 200
    assert (denied.json()["status"], denied.json()["reason"]) == (
        "denied",
        "Client budget does not cover it",
    )
    denials = [
        e
        for e in await identity.published("identity.access.denied.v1")
        if e["project_id"] == project
    ]
    assert [(e["request_id"], e["user_id"], e["reason"], e["decided_by"]) for e in denials] == [
        (second.json()["id"], other, "Client budget does not cover it", tenant.admin_id)
    ]
    still_hidden = await identity.client.get(
        f"{identity.base}/projects/{project}/grants", headers=bearer(other_token)
    )
    assert still_hidden.status_code == 404
    deny_again = await identity.client.post(
        f"{identity.base}/access-requests/{second.json()['id']}/approve",
        headers=tenant.auth,
        json={},
    )
    assert deny_again.status_code == 409 and problem_type(deny_again) == "already-decided"
    assert (
        await identity.client.get(
            f"{identity.base}/projects/{project}/access-requests", headers=bearer(manager_token)
        )
    ).json() == []
    history = await identity.client.get(
        f"{identity.base}/projects/{project}/access-requests?status=denied",
        headers=bearer(manager_token),
    )
    assert [r["id"] for r in history.json()] == [second.json()["id"]]


async def test_access_requests_for_unknown_projects_are_404(identity: IdentityApp) -> None:
    tenant = await identity.create_tenant()
    _, token = await identity.invite_and_join(tenant, email(), kind="collaborator")
    asked = await identity.client.post(
        f"{identity.base}/projects/{uuid.uuid4()}/access-requests", headers=bearer(token), json={}
    )
    assert asked.status_code == 404 and problem_type(asked) == "not-found"
    decided = await identity.client.post(
        f"{identity.base}/access-requests/{uuid.uuid4()}/approve", headers=tenant.auth, json={}
    )
    assert decided.status_code == 404 and problem_type(decided) == "not-found"


async def test_api_keys_share_projects_as_their_admin_but_only_people_decide_access(
    identity: IdentityApp,
) -> None:
    tenant = await identity.create_tenant()
    project = await identity.publish_project(tenant)
    vendor, vendor_token = await identity.invite_and_join(tenant, email(), kind="collaborator")
    keys = {}
    for scope in ("read", "write", "admin"):
        created = await identity.client.post(
            f"{identity.base}/api-keys",
            headers=tenant.auth,
            json={"name": scope, "scopes": [scope]},
        )
        keys[scope] = {"X-API-Key": created.json()["key"]}

    body = {"subject_type": "user", "subject_id": vendor, "role": "viewer"}
    url = f"{identity.base}/projects/{project}/grants"
    read = await identity.client.post(url, headers=keys["read"], json=body)
    assert read.status_code == 403 and problem_type(read) == "insufficient-scope"
    # A write key acts as the admin who made it: they manage every project.
    shared = await identity.client.post(url, headers=keys["write"], json=body)
    assert shared.status_code == 201, shared.text
    given = await grant_events(identity, "given", project)
    assert [(e["subject_id"], e["granted_by"]) for e in given] == [(vendor, tenant.admin_id)]
    changed = await identity.client.post(url, headers=keys["admin"], json=body)
    assert changed.status_code == 201, changed.text
    invited = await identity.client.post(
        f"{identity.base}/users/invitations",
        headers=keys["admin"],
        json={
            "email": email(),
            "display_name": "By integration",
            "grants": [{"project_id": project, "role": "contributor"}],
        },
    )
    assert invited.status_code == 201, invited.text
    assert len(await grant_events(identity, "given", project)) == 2

    other = await identity.publish_project(tenant, name="Other")
    asked = await identity.client.post(
        f"{identity.base}/projects/{other}/access-requests", headers=bearer(vendor_token), json={}
    )
    by_key = await identity.client.post(
        f"{identity.base}/projects/{other}/access-requests", headers=keys["admin"], json={}
    )
    assert by_key.status_code == 403 and problem_type(by_key) == "cannot-request-access"
    for decision in ("approve", "deny"):
        decided = await identity.client.post(
            f"{identity.base}/access-requests/{asked.json()['id']}/{decision}",
            headers=keys["admin"],
            json={},
        )
        assert decided.status_code == 403 and problem_type(decided) == "users-only"
    still = await identity.client.get(
        f"{identity.base}/projects/{other}/access-requests", headers=tenant.auth
    )
    assert [(r["id"], r["status"]) for r in still.json()] == [(asked.json()["id"], "pending")]
