"""Folders, projects and the tree (W1): a new workspace's defaults, nesting and moves, who sees
and who arranges what, and the wall between workspaces."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts import registry
from contracts.identity import (
    UserCreated,
    UserDeactivated,
    UserReactivated,
    UserUpdated,
    WorkspaceCreated,
)
from services.tickets.models import Base
from tests.conftest import eventually
from tests.support.schema import drift
from tests.tickets.conftest import TicketsApp


async def folder(tickets: TicketsApp, token: str, name: str, parent: str | None = None) -> str:
    response = await tickets.post("/folders", token, json={"name": name, "parent_id": parent})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def project(tickets: TicketsApp, token: str, name: str, *folders: str) -> str:
    response = await tickets.post(
        "/projects", token, json={"name": name, "folder_ids": list(folders)}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def shape(tree: dict[str, Any]) -> dict[str, Any]:
    """The tree by names only: {folder: {sub-folder: {...}, "projects": [...]}, "projects"}."""

    def node(entry: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {f["name"]: node(f) for f in entry["folders"]}
        if entry["projects"]:
            out["projects"] = [p["name"] for p in entry["projects"]]
        return out

    return node(tree)


# --- a new workspace ------------------------------------------------------------------------


async def test_a_new_workspace_is_usable_at_once(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    types = {t["name"]: t for t in (await tickets.get("/types", ws.admin_token)).json()}
    assert set(types) == {"Ticket", "Task"}
    assert types["Ticket"]["kind"] == "ticket" and types["Task"]["kind"] == "task"
    assert [(s["name"], s["category"]) for s in types["Ticket"]["statuses"]] == [
        ("New", "new"),
        ("Open", "open"),
        ("In progress", "in_progress"),
        ("Waiting on client", "waiting"),
        ("Resolved", "done"),
        ("Closed", "closed"),
    ]
    assert [(s["name"], s["category"]) for s in types["Task"]["statuses"]] == [
        ("To do", "new"),
        ("In progress", "in_progress"),
        ("Done", "done"),
    ]
    assert types["Ticket"]["transitions"] is None  # every move allowed
    tree = (await tickets.get("/tree", ws.admin_token)).json()
    assert shape(tree) == {"projects": ["Support"]}

    created = await tickets.published("tickets.project.created.v1", ws.id)
    assert len(created) == 1
    assert created[0]["name"] == "Support"
    assert created[0]["created_by"] == ws.admin.id
    assert created[0]["initial_grants"] == [
        {"subject_type": "user", "subject_id": ws.admin.id, "role": "manager", "silent": True}
    ]
    changed = await tickets.published("tickets.type.changed.v1", ws.id)
    assert sorted(e["name"] for e in changed) == ["Task", "Ticket"]
    assert len(next(e for e in changed if e["name"] == "Ticket")["statuses"]) == 6


async def test_defaults_are_created_once(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    renamed = await tickets.patch(
        f"/projects/{ws.support_project_id}", ws.admin_token, json={"name": "Helpdesk"}
    )
    assert renamed.status_code == 200
    # identity announcing the same workspace again (a replay, a second event id)
    again = await tickets.emit(
        WorkspaceCreated(
            workspace_id=uuid.UUID(ws.id),
            name="Acme",
            slug=f"ws-{ws.id[:8]}",
            time_zone="UTC",
            created_by=uuid.UUID(ws.admin.id),
        ),
        ws.id,
        f"workspace/{ws.id}",
    )
    await tickets.publish(again)  # and an exact redelivery of it
    await tickets.settle()
    projects = (await tickets.get("/projects", ws.admin_token)).json()["items"]
    assert [p["name"] for p in projects] == ["Helpdesk"]
    assert len((await tickets.get("/types", ws.admin_token)).json()) == 2
    assert len(await tickets.published("tickets.project.created.v1", ws.id)) == 1


# --- folders ------------------------------------------------------------------------------


async def test_folders_nest_and_move_but_never_into_themselves(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    token = ws.admin_token
    client = await folder(tickets, token, "Clinic chain")
    region = await folder(tickets, token, "North", client)
    town = await folder(tickets, token, "Lille", region)
    other = await folder(tickets, token, "Bakery")
    await project(tickets, token, "Flu campaign", town)

    tree = (await tickets.get("/tree", token)).json()
    assert shape(tree) == {
        "Bakery": {},
        "Clinic chain": {"North": {"Lille": {"projects": ["Flu campaign"]}}},
        "projects": ["Support"],
    }

    for target in (client, region, town):  # itself, or anything below it
        refused = await tickets.patch(f"/folders/{client}", token, json={"parent_id": target})
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"].endswith("/folder-cycle")

    moved = await tickets.patch(
        f"/folders/{region}", token, json={"parent_id": other, "name": "Nord"}
    )
    assert moved.status_code == 200
    assert moved.json()["parent_id"] == other and moved.json()["name"] == "Nord"
    to_top = await tickets.patch(f"/folders/{town}", token, json={"parent_id": None})
    assert to_top.json()["parent_id"] is None
    renamed_only = await tickets.patch(f"/folders/{town}", token, json={"name": "Lille centre"})
    assert renamed_only.json()["parent_id"] is None  # leaving parent_id out does not move it

    tree = (await tickets.get("/tree", token)).json()
    assert shape(tree) == {
        "Bakery": {"Nord": {}},
        "Clinic chain": {},
        "Lille centre": {"projects": ["Flu campaign"]},
        "projects": ["Support"],
    }
    unknown = await tickets.patch(f"/folders/{town}", token, json={"parent_id": str(uuid.uuid4())})
    assert unknown.status_code == 422 and unknown.json()["type"].endswith("/unknown-folder")

    events = await tickets.published("tickets.folder.updated.v1", ws.id)
    assert {"parent_id": other, "name": "Nord"} in [e["changes"] for e in events]
    assert len(await tickets.published("tickets.folder.created.v1", ws.id)) == 4


async def test_archived_folders_leave_the_tree_with_everything_below(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    token = ws.admin_token
    client = await folder(tickets, token, "Old client")
    sub = await folder(tickets, token, "Campaigns", client)
    await project(tickets, token, "Done deal", sub)

    archived = await tickets.post(f"/folders/{client}/archive", token)
    assert archived.status_code == 200 and archived.json()["archived"] is True
    assert shape((await tickets.get("/tree", token)).json()) == {"projects": ["Support"]}
    everything = (await tickets.get("/tree", token, params={"include_archived": True})).json()
    assert shape(everything)["Old client"] == {"Campaigns": {"projects": ["Done deal"]}}
    refused = await tickets.post("/folders", token, json={"name": "New", "parent_id": client})
    assert refused.status_code == 422 and refused.json()["type"].endswith("/folder-archived")

    await tickets.post(f"/folders/{client}/restore", token)
    assert "Old client" in shape((await tickets.get("/tree", token)).json())
    events = [e["changes"] for e in await tickets.published("tickets.folder.updated.v1", ws.id)]
    assert events == [{"archived": True}, {"archived": False}]


# --- projects -----------------------------------------------------------------------------


async def test_a_project_sits_in_several_folders_and_moves_between_them(
    tickets: TicketsApp,
) -> None:
    ws = await tickets.new_workspace()
    token = ws.admin_token
    client = await folder(tickets, token, "Client A")
    team = await folder(tickets, token, "Design team")
    spare = await folder(tickets, token, "Spare")
    launch = await project(tickets, token, "Launch", client, team)

    tree = shape((await tickets.get("/tree", token)).json())
    assert tree["Client A"] == {"projects": ["Launch"]}
    assert tree["Design team"] == {"projects": ["Launch"]}

    moved = await tickets.put(
        f"/projects/{launch}/folders", token, json={"folder_ids": [spare, client]}
    )
    assert moved.status_code == 200
    assert sorted(moved.json()["folder_ids"]) == sorted([spare, client])
    added = await tickets.put(f"/projects/{launch}/folders/{team}", token)
    assert sorted(added.json()["folder_ids"]) == sorted([spare, client, team])
    removed = await tickets.delete(f"/projects/{launch}/folders/{client}", token)
    assert sorted(removed.json()["folder_ids"]) == sorted([spare, team])

    in_team = (await tickets.get("/projects", token, params={"folder_id": team})).json()
    assert [p["name"] for p in in_team["items"]] == ["Launch"]

    created = (await tickets.published("tickets.project.created.v1", ws.id))[-1]
    assert sorted(created["folder_ids"]) == sorted([client, team])
    updates = [e["changes"] for e in await tickets.published("tickets.project.updated.v1", ws.id)]
    assert updates == [
        {"folder_ids": sorted([spare, client])},
        {"folder_ids": sorted([spare, client, team])},
        {"folder_ids": sorted([spare, team])},
    ]


async def test_projects_are_renamed_described_archived_and_restored(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    token = ws.admin_token
    org = str(uuid.uuid4())
    launch = await project(tickets, token, "Launch")
    changed = await tickets.patch(
        f"/projects/{launch}",
        token,
        json={"name": "Spring launch", "description": "Q2", "client_organisation_id": org},
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["name"], body["description"], body["client_organisation_id"]) == (
        "Spring launch",
        "Q2",
        org,
    )
    assert (
        await tickets.patch(f"/projects/{launch}", token, json={"name": "  "})
    ).status_code == 422

    await tickets.post(f"/projects/{launch}/archive", token)
    listed = (await tickets.get("/projects", token)).json()["items"]
    assert [p["name"] for p in listed] == ["Support"]
    assert "Spring launch" not in str((await tickets.get("/tree", token)).json())
    with_archived = (
        await tickets.get("/projects", token, params={"include_archived": True})
    ).json()
    assert {p["name"]: p["archived"] for p in with_archived["items"]} == {
        "Support": False,
        "Spring launch": True,
    }
    restored = await tickets.post(f"/projects/{launch}/restore", token)
    assert restored.json()["archived"] is False
    updates = [e["changes"] for e in await tickets.published("tickets.project.updated.v1", ws.id)]
    assert updates == [
        {"name": "Spring launch", "description": "Q2", "client_organisation_id": org},
        {"archived": True},
        {"archived": False},
    ]


async def test_project_lists_are_paged_with_a_cursor(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    for n in range(5):
        await project(tickets, ws.admin_token, f"P{n}")
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await tickets.get("/projects", ws.admin_token, params=params)).json()
        seen += [p["name"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["Support", "P0", "P1", "P2", "P3", "P4"]


# --- who may do what ------------------------------------------------------------------------


async def test_the_creator_manages_a_new_project_at_once(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    staff = await tickets.add_user(ws.id)
    vendor = str(uuid.uuid4())
    created = await tickets.post(
        "/projects",
        staff.token,
        json={
            "name": "Rebrand",
            "initial_grants": [
                {"subject_type": "user", "subject_id": vendor, "role": "editor"},
                {"subject_type": "user", "subject_id": staff.id, "role": "viewer"},
            ],
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["my_role"] == "manager"
    project_id = created.json()["id"]
    event = (await tickets.published("tickets.project.created.v1", ws.id))[-1]
    assert event["created_by"] == staff.id
    assert sorted((g["subject_id"], g["role"]) for g in event["initial_grants"]) == sorted(
        [(vendor, "editor"), (staff.id, "manager")]
    )
    # before identity's grant comes back, the creator already manages what they created
    assert (
        await tickets.patch(f"/projects/{project_id}", staff.token, json={"name": "R"})
    ).is_success
    assert "R" in [p["name"] for p in shape_projects(await tickets.get("/tree", staff.token))]

    # once identity's grant is projected it alone decides: revoking it takes the project away
    grant = await tickets.grant(ws.id, project_id, staff.id, "manager")
    assert (await tickets.get(f"/projects/{project_id}", staff.token)).json()[
        "my_role"
    ] == "manager"
    await tickets.revoke(ws.id, project_id, grant, staff.id)
    assert (await tickets.get(f"/projects/{project_id}", staff.token)).status_code == 404
    assert shape_projects(await tickets.get("/tree", staff.token)) == []


def shape_projects(response: Any) -> list[dict[str, Any]]:
    """Every project of a tree response, wherever it sits."""
    found: list[dict[str, Any]] = []

    def walk(node: dict[str, Any]) -> None:
        found.extend(node["projects"])
        for child in node["folders"]:
            walk(child)

    walk(response.json())
    return found


async def test_admins_do_not_grant_themselves(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    await project(tickets, ws.admin_token, "Admin's")
    event = (await tickets.published("tickets.project.created.v1", ws.id))[-1]
    assert event["initial_grants"] == []


async def test_only_staff_arrange_folders_and_projects(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    org = str(uuid.uuid4())
    vendor = await tickets.add_user(ws.id, kind="collaborator")
    client = await tickets.add_user(ws.id, kind="client", org=org)
    # a collaborator's token claiming admin gets nothing more
    vendor_admin = tickets.token(ws.id, vendor.id, kind="collaborator", role="admin")
    target = await folder(tickets, ws.admin_token, "Client A")
    for token in (vendor.token, client.token, vendor_admin):
        for path, body in (("/folders", {"name": "Mine"}), ("/projects", {"name": "Mine"})):
            refused = await tickets.post(path, token, json=body)
            assert refused.status_code == 403, refused.text
            assert refused.json()["type"].endswith("/staff-only")
        moved = await tickets.patch(f"/folders/{target}", token, json={"name": "Hijacked"})
        assert moved.status_code == 403
    staff = await tickets.add_user(ws.id)
    assert (await tickets.post("/folders", staff.token, json={"name": "Mine"})).status_code == 201


async def test_the_tree_shows_each_caller_what_they_may_see(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    admin = ws.admin_token
    org = str(uuid.uuid4())
    clinic = await folder(tickets, admin, "Clinic chain")
    north = await folder(tickets, admin, "North", clinic)
    south = await folder(tickets, admin, "South", clinic)
    bakery = await folder(tickets, admin, "Bakery")
    flu = await project(tickets, admin, "Flu campaign", north)
    await project(tickets, admin, "Summer", south)
    await project(tickets, admin, "Bread", bakery)
    await folder(tickets, admin, "Empty")

    everything = shape((await tickets.get("/tree", admin)).json())
    assert everything == {
        "Bakery": {"projects": ["Bread"]},
        "Clinic chain": {
            "North": {"projects": ["Flu campaign"]},
            "South": {"projects": ["Summer"]},
        },
        "Empty": {},
        "projects": ["Support"],
    }

    vendor = await tickets.add_user(ws.id, kind="collaborator")
    assert shape((await tickets.get("/tree", vendor.token)).json()) == {}
    await tickets.grant(ws.id, flu, vendor.id, "editor")
    assert shape((await tickets.get("/tree", vendor.token)).json()) == {
        "Clinic chain": {"North": {"projects": ["Flu campaign"]}}
    }
    # the folders leading to the project are readable, the others are not known to exist
    assert (await tickets.get(f"/folders/{north}", vendor.token)).status_code == 200
    for hidden in (south, bakery):
        assert (await tickets.get(f"/folders/{hidden}", vendor.token)).status_code == 404

    client = await tickets.add_user(ws.id, kind="client", org=org)
    assert shape((await tickets.get("/tree", client.token)).json()) == {}
    assert (await tickets.get("/projects", client.token)).json()["items"] == []
    await tickets.grant(ws.id, ws.support_project_id, client.id, "contributor")
    assert shape((await tickets.get("/tree", client.token)).json()) == {"projects": ["Support"]}

    staff = await tickets.add_user(ws.id)
    team = str(uuid.uuid4())
    teammate = tickets.token(ws.id, staff.id, teams=[team])
    await tickets.grant(ws.id, flu, team, "viewer", subject_type="team")
    assert shape((await tickets.get("/tree", teammate)).json()) == {
        "Clinic chain": {"North": {"projects": ["Flu campaign"]}}
    }
    # staff address every folder (they arrange them), even one with nothing of theirs in it
    assert (await tickets.get(f"/folders/{bakery}", staff.token)).status_code == 200


async def test_a_project_out_of_reach_is_not_found(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    secret = await project(tickets, ws.admin_token, "Secret")
    for user in (
        await tickets.add_user(ws.id),
        await tickets.add_user(ws.id, kind="collaborator"),
        await tickets.add_user(ws.id, kind="client", org=str(uuid.uuid4())),
    ):
        for method, path in (
            ("GET", f"/projects/{secret}"),
            ("PATCH", f"/projects/{secret}"),
            ("POST", f"/projects/{secret}/archive"),
            ("PUT", f"/projects/{secret}/folders"),
        ):
            body: dict[str, Any] = {"folder_ids": []} if method == "PUT" else {"name": "x"}
            response = await tickets.request(
                method, path, user.token, json=body if method in ("PATCH", "PUT") else None
            )
            assert response.status_code == 404, (method, path, response.text)
            assert response.json()["type"].endswith("/not-found")
    missing = await tickets.get(f"/projects/{uuid.uuid4()}", ws.admin_token)
    assert missing.status_code == 404


async def test_viewers_see_but_do_not_manage(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    launch = await project(tickets, ws.admin_token, "Launch")
    viewer = await tickets.add_user(ws.id, kind="collaborator")
    await tickets.grant(ws.id, launch, viewer.id, "viewer")
    seen = await tickets.get(f"/projects/{launch}", viewer.token)
    assert seen.status_code == 200 and seen.json()["my_role"] == "viewer"
    for method, path, body in (
        ("PATCH", f"/projects/{launch}", {"name": "Mine now"}),
        ("POST", f"/projects/{launch}/archive", None),
        ("PUT", f"/projects/{launch}/folders", {"folder_ids": []}),
    ):
        refused = await tickets.request(method, path, viewer.token, json=body)
        assert refused.status_code == 403, refused.text
        assert refused.json()["required_role"] == "manager"

    manager = await tickets.add_user(ws.id, kind="collaborator")
    await tickets.grant(ws.id, launch, manager.id, "manager")
    renamed = await tickets.patch(f"/projects/{launch}", manager.token, json={"name": "Ours"})
    assert renamed.status_code == 200
    # a manager who is not staff files the project only in folders they can see
    hidden = await folder(tickets, ws.admin_token, "Other client")
    refused = await tickets.put(f"/projects/{launch}/folders/{hidden}", manager.token)
    assert refused.status_code == 422 and refused.json()["type"].endswith("/unknown-folder")


async def test_another_workspace_sees_nothing_of_this_one(tickets: TicketsApp) -> None:
    a = await tickets.new_workspace()
    b = await tickets.new_workspace()
    client_folder = await folder(tickets, a.admin_token, "Client")
    launch = await project(tickets, a.admin_token, "Launch", client_folder)
    intruder = b.admin_token
    for method, path, body in (
        ("GET", f"/folders/{client_folder}", None),
        ("PATCH", f"/folders/{client_folder}", {"name": "x"}),
        ("POST", f"/folders/{client_folder}/archive", None),
        ("GET", f"/projects/{launch}", None),
        ("PATCH", f"/projects/{launch}", {"name": "x"}),
        ("POST", f"/projects/{launch}/archive", None),
        ("GET", f"/types/{a.ticket_type_id}", None),
        ("PATCH", f"/types/{a.ticket_type_id}", {"name": "x"}),
        (
            "POST",
            f"/types/{a.ticket_type_id}/fields",
            {"key": "x", "label": "X", "field_type": "text"},
        ),
    ):
        response = await tickets.request(method, path, intruder, json=body)
        assert response.status_code == 404, (method, path, response.text)
    # nor can B file its project in A's folder, or nest under it
    own = await project(tickets, intruder, "B's")
    filed = await tickets.put(f"/projects/{own}/folders/{client_folder}", intruder)
    assert filed.status_code == 422
    nested = await tickets.post(
        "/folders", intruder, json={"name": "x", "parent_id": client_folder}
    )
    assert nested.status_code == 422
    # a grant in workspace A does not count for the same user id holding a token of B
    person = await tickets.add_user(a.id, kind="collaborator")
    await tickets.grant(a.id, launch, person.id, "manager")
    elsewhere = tickets.token(b.id, person.id, kind="collaborator")
    assert (await tickets.get(f"/projects/{launch}", elsewhere)).status_code == 404
    assert "Launch" not in str((await tickets.get("/tree", intruder)).json())
    assert [t["id"] for t in (await tickets.get("/types", intruder)).json()] == [
        b.ticket_type_id,
        b.task_type_id,
    ]


async def test_requests_without_a_valid_token_are_refused(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    assert (await tickets.request("GET", "/tree")).status_code == 401
    good = tickets.token(ws.id, ws.admin.id, role="admin")
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    response = await tickets.get("/tree", forged)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


# --- the people projection ------------------------------------------------------------------


def user_events(workspace_id: str, user_id: str) -> list[Any]:
    """created, then a rename, then a deactivation and a reactivation, stamped in that order."""
    t0 = datetime.now(UTC)
    ids = {"user_id": uuid.UUID(user_id), "workspace_id": uuid.UUID(workspace_id)}
    payloads = [
        UserCreated(
            **ids,
            email="old@example.test",
            display_name="Old name",
            kind="collaborator",
            workspace_role="member",
        ),
        UserUpdated(**ids, changes={"display_name": "New name", "workspace_role": "admin"}),
        UserDeactivated(**ids),
        UserReactivated(**ids),
        UserUpdated(**ids, changes={"kind": "client", "client_organisation_id": user_id}),
    ]
    return [
        registry.envelope(data, workspace=workspace_id, subject=f"user/{user_id}").model_copy(
            update={"time": t0 + timedelta(seconds=i)}
        )
        for i, data in enumerate(payloads)
    ]


async def test_people_are_projected_whatever_the_order_of_identitys_events(
    tickets: TicketsApp,
) -> None:
    ws = await tickets.new_workspace()
    outcomes = []
    for order in ([0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [2, 0, 4, 1, 3, 3, 0]):
        user_id = str(uuid.uuid4())
        events = user_events(ws.id, user_id)
        for index in order:
            await tickets.publish(events[index])

        async def settled(user_id: str = user_id) -> bool:
            found = await tickets.person(user_id)
            return found is not None and found.kind == "client" and bool(found.email)

        await eventually(settled, timeout=10)
        await tickets.settle()
        found = await tickets.person(user_id)
        assert found is not None
        outcomes.append(
            (
                found.workspace_id,
                found.email,
                found.display_name,
                found.kind,
                found.client_organisation_id == user_id,
                found.workspace_role,
                found.active,
            )
        )
    expected = (ws.id, "old@example.test", "New name", "client", True, "admin", True)
    assert outcomes == [expected] * 3

    # a deactivation newer than everything else sticks
    user_id = str(uuid.uuid4())
    events = user_events(ws.id, user_id)
    late_off = registry.envelope(
        UserDeactivated(user_id=uuid.UUID(user_id), workspace_id=uuid.UUID(ws.id)),
        workspace=ws.id,
        subject=f"user/{user_id}",
    ).model_copy(update={"time": events[-1].time + timedelta(seconds=5)})
    for envelope in [late_off, *events]:
        await tickets.publish(envelope)

    async def all_in() -> bool:
        found = await tickets.person(user_id)
        return found is not None and found.kind == "client" and found.display_name == "New name"

    await eventually(all_in, timeout=10)
    await tickets.settle()
    found = await tickets.person(user_id)
    assert found is not None and found.active is False


async def test_a_user_id_of_another_workspace_is_never_rewritten(tickets: TicketsApp) -> None:
    a = await tickets.new_workspace()
    b = await tickets.new_workspace()
    person = await tickets.add_user(a.id, name="Alice")
    await tickets.emit(
        UserUpdated(
            user_id=uuid.UUID(person.id),
            workspace_id=uuid.UUID(b.id),
            changes={"display_name": "Mallory"},
        ),
        b.id,
        f"user/{person.id}",
    )
    await tickets.settle()
    found = await tickets.person(person.id)
    assert found is not None and (found.workspace_id, found.display_name) == (a.id, "Alice")


# --- schema -------------------------------------------------------------------------------


async def test_migrations_build_exactly_the_models(tickets: TicketsApp) -> None:
    """The service's revisions (tickets_0002 added by hand) create what models.py declares."""
    async with tickets.runtime.engine.connect() as connection:
        differences = await connection.run_sync(
            lambda sync: drift(sync, Base.metadata, Base.metadata.tables)
        )
    assert differences == []
