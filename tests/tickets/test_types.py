"""Item types (W3): workflows that change without corrupting items, custom fields and the
rules items apply with them (validation, "no brief, no start", restricted transitions)."""

from __future__ import annotations

import random
import uuid
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from kit.http.problems import Problem
from services.tickets.ids import new_id, now
from services.tickets.models import Activity, Item
from services.tickets.types import service as types
from services.tickets.types.definition import FieldDef, StatusDef, TypeDefinition
from tests.tickets.conftest import TicketsApp, Workspace

# --- helpers ------------------------------------------------------------------------------


def statuses_of(body: dict[str, Any]) -> dict[str, str]:
    """Status name → id of a type as the API returns it."""
    return {s["name"]: s["id"] for s in body["statuses"]}


async def ticket_type(tickets: TicketsApp, ws: Workspace) -> dict[str, Any]:
    response = await tickets.get(f"/types/{ws.ticket_type_id}", ws.admin_token)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def add_items(
    tickets: TicketsApp, ws: Workspace, status: str, count: int, *, deleted: int = 0, **values: Any
) -> list[str]:
    """Items of the workspace's Ticket type in a status, written straight to the database
    (this file tests types, not the items API)."""
    body = await ticket_type(tickets, ws)
    status_id = statuses_of(body)[status]
    category = next(s["category"] for s in body["statuses"] if s["id"] == status_id)
    ids = []
    async with tickets.runtime.session_factory() as session:
        for n in range(count + deleted):
            item = Item(
                id=new_id(),
                workspace_id=ws.id,
                number=random.randrange(1, 2**31),
                project_id=ws.support_project_id,
                type_id=ws.ticket_type_id,
                status_id=status_id,
                status_category=category,
                title=f"Item {n}",
                custom_values=dict(values),
                created_at=now(),
                updated_at=now(),
                deleted_at=now() if n >= count else None,
            )
            session.add(item)
            ids.append(item.id)
        await session.commit()
    return ids


async def items(tickets: TicketsApp, ids: list[str]) -> list[Item]:
    async with tickets.runtime.session_factory() as session:
        rows = await session.execute(select(Item).where(Item.id.in_(ids)).order_by(Item.id))
        return list(rows.scalars())


def workflow(body: dict[str, Any], *, drop: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The type's workflow as a PUT body, less some statuses."""
    return [
        {"id": s["id"], "name": s["name"], "category": s["category"]}
        for s in body["statuses"]
        if s["name"] not in drop
    ]


DESIGN_REQUEST: dict[str, Any] = {
    "name": "Design request",
    "icon": "brush",
    "kind": "task",
    "statuses": [
        {"name": "Brief", "category": "new"},
        {"name": "Design", "category": "in_progress"},
        {"name": "Review", "category": "waiting"},
        {"name": "Delivered", "category": "done"},
    ],
    "transitions": [
        {"from_status_id": "Brief", "to_status_id": "Design"},
        {"from_status_id": "Design", "to_status_id": "Review"},
        {"from_status_id": "Review", "to_status_id": "Design"},
        {"from_status_id": "Review", "to_status_id": "Delivered"},
    ],
    "fields": [
        {
            "key": "brief",
            "label": "Brief",
            "field_type": "long_text",
            "required_from_status_id": "Design",
            "client_visible": True,
        },
        {"key": "budget", "label": "Budget", "field_type": "number"},
        {
            "key": "channel",
            "label": "Channel",
            "field_type": "single_choice",
            "options": ["Web", "Print"],
            "client_visible": True,
        },
    ],
}


# --- types through the API ------------------------------------------------------------------


async def test_admins_create_types_with_their_workflow_fields_and_moves(
    tickets: TicketsApp,
) -> None:
    ws = await tickets.new_workspace()
    created = await tickets.post("/types", ws.admin_token, json=DESIGN_REQUEST)
    assert created.status_code == 201, created.text
    body = created.json()
    ids = statuses_of(body)
    assert list(ids) == ["Brief", "Design", "Review", "Delivered"]
    assert [s["position"] for s in body["statuses"]] == [0, 1, 2, 3]
    assert sorted((t["from_status_id"], t["to_status_id"]) for t in body["transitions"]) == sorted(
        [
            (ids["Brief"], ids["Design"]),
            (ids["Design"], ids["Review"]),
            (ids["Review"], ids["Design"]),
            (ids["Review"], ids["Delivered"]),
        ]
    )
    fields = {f["key"]: f for f in body["fields"]}
    assert fields["brief"]["required_from_status_id"] == ids["Design"]
    assert fields["channel"]["options"] == ["Web", "Print"]

    event = (await tickets.published("tickets.type.changed.v1", ws.id))[-1]
    assert event["type_id"] == body["id"] and event["kind"] == "task"
    assert [s["name"] for s in event["statuses"]] == list(ids)
    assert {f["key"]: f["client_visible"] for f in event["fields"]} == {
        "brief": True,
        "budget": False,
        "channel": True,
    }

    plain = await tickets.post("/types", ws.admin_token, json={"name": "Lead", "kind": "ticket"})
    assert plain.json()["statuses"][0]["name"] == "New"  # the kind's default

    clash = await tickets.post(
        "/types", ws.admin_token, json={"name": "design REQUEST", "kind": "task"}
    )
    assert clash.status_code == 409 and clash.json()["type"].endswith("/type-exists")


async def test_everyone_reads_types_clients_only_their_fields_and_only_admins_write(
    tickets: TicketsApp,
) -> None:
    ws = await tickets.new_workspace()
    type_id = (await tickets.post("/types", ws.admin_token, json=DESIGN_REQUEST)).json()["id"]
    staff = await tickets.add_user(ws.id)
    vendor = await tickets.add_user(ws.id, kind="collaborator")
    client = await tickets.add_user(ws.id, kind="client", org=str(uuid.uuid4()))
    for reader, keys in (
        (staff, ["brief", "budget", "channel"]),
        (vendor, ["brief", "budget", "channel"]),
        (client, ["brief", "channel"]),
    ):
        one = await tickets.get(f"/types/{type_id}", reader.token)
        assert [f["key"] for f in one.json()["fields"]] == keys
        listed = {t["id"]: t for t in (await tickets.get("/types", reader.token)).json()}
        assert [f["key"] for f in listed[type_id]["fields"]] == keys

    field_id = (await tickets.get(f"/types/{type_id}", ws.admin_token)).json()["fields"][0]["id"]
    status_id = (await tickets.get(f"/types/{type_id}", ws.admin_token)).json()["statuses"][0]["id"]
    writes: list[tuple[str, str, Any]] = [
        ("POST", "/types", {"name": "Mine", "kind": "task"}),
        ("PATCH", f"/types/{type_id}", {"name": "Mine"}),
        ("POST", f"/types/{type_id}/archive", None),
        ("PUT", f"/types/{type_id}/workflow", {"statuses": [{"name": "Only", "category": "new"}]}),
        ("DELETE", f"/types/{type_id}/statuses/{status_id}", None),
        ("POST", f"/types/{type_id}/fields", {"key": "x", "label": "X", "field_type": "text"}),
        ("PATCH", f"/types/{type_id}/fields/{field_id}", {"label": "X"}),
        ("DELETE", f"/types/{type_id}/fields/{field_id}", None),
    ]
    for user in (staff, vendor, client):
        for method, path, body in writes:
            refused = await tickets.request(method, path, user.token, json=body)
            assert refused.status_code == 403, (method, path, refused.text)
            assert refused.json()["type"].endswith("/admin-only")


async def test_types_are_renamed_archived_and_restored(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    renamed = await tickets.patch(
        f"/types/{ws.task_type_id}", ws.admin_token, json={"name": "Job", "icon": "hammer"}
    )
    assert (renamed.json()["name"], renamed.json()["icon"]) == ("Job", "hammer")
    taken = await tickets.patch(
        f"/types/{ws.task_type_id}", ws.admin_token, json={"name": "ticket"}
    )
    assert taken.status_code == 409
    archived = await tickets.post(f"/types/{ws.task_type_id}/archive", ws.admin_token)
    assert archived.json()["archived"] is True
    assert [t["name"] for t in (await tickets.get("/types", ws.admin_token)).json()] == ["Ticket"]
    everything = await tickets.get("/types", ws.admin_token, params={"include_archived": True})
    assert [t["name"] for t in everything.json()] == ["Ticket", "Job"]
    await tickets.post(f"/types/{ws.task_type_id}/restore", ws.admin_token)
    events = await tickets.published("tickets.type.changed.v1", ws.id)
    assert [(e["name"], e["archived"]) for e in events[-3:]] == [
        ("Job", False),
        ("Job", True),
        ("Job", False),
    ]


# --- workflows ------------------------------------------------------------------------------


async def test_removing_a_status_items_use_needs_an_explicit_migration(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    waiting = await add_items(tickets, ws, "Waiting on client", 2, deleted=1)
    untouched = await add_items(tickets, ws, "Open", 1)
    before = await ticket_type(tickets, ws)
    ids = statuses_of(before)

    refused = await tickets.put(
        f"/types/{ws.ticket_type_id}/workflow",
        ws.admin_token,
        json={"statuses": workflow(before, drop=("Waiting on client",))},
    )
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["type"].endswith("/status-in-use")
    assert problem["statuses"] == [
        {"status_id": ids["Waiting on client"], "name": "Waiting on client", "items": 3}
    ]
    assert await ticket_type(tickets, ws) == before  # nothing changed
    single = await tickets.delete(
        f"/types/{ws.ticket_type_id}/statuses/{ids['Waiting on client']}", ws.admin_token
    )
    assert single.status_code == 422 and single.json()["statuses"][0]["items"] == 3

    changed = await tickets.put(
        f"/types/{ws.ticket_type_id}/workflow",
        ws.admin_token,
        json={
            "statuses": workflow(before, drop=("Waiting on client",)),
            "status_migrations": {ids["Waiting on client"]: "In progress"},
        },
    )
    assert changed.status_code == 200, changed.text
    assert list(statuses_of(changed.json())) == ["New", "Open", "In progress", "Resolved", "Closed"]
    assert statuses_of(changed.json())["Open"] == ids["Open"]  # kept statuses keep their ids

    moved = await items(tickets, waiting)
    assert {(i.status_id, i.status_category) for i in moved} == {
        (ids["In progress"], "in_progress")
    }
    assert [i.status_id for i in await items(tickets, untouched)] == [ids["Open"]]
    async with tickets.runtime.session_factory() as session:
        history = list(
            (await session.execute(select(Activity).where(Activity.item_id.in_(waiting)))).scalars()
        )
    live = [i.id for i in moved if i.deleted_at is None]
    assert sorted(a.item_id for a in history) == sorted(live)  # deleted items move silently
    assert {(a.kind, a.changes["from"], a.changes["to"], a.actor) for a in history} == {
        ("status_changed", "Waiting on client", "In progress", ws.admin.id)
    }
    events = await tickets.published("tickets.item.status_changed.v1", ws.id)
    assert sorted(e["item"]["id"] for e in events) == sorted(live)
    assert {
        (e["from_category"], e["to_category"], e["item"]["status_name"], e["item"]["kind"])
        for e in events
    } == {("waiting", "in_progress", "In progress", "ticket")}
    latest = (await tickets.published("tickets.type.changed.v1", ws.id))[-1]
    assert [s["name"] for s in latest["statuses"]] == list(statuses_of(changed.json()))


async def test_removing_one_status_by_itself(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    ids = statuses_of(await ticket_type(tickets, ws))
    closed = await add_items(tickets, ws, "Closed", 1)
    url = f"/types/{ws.ticket_type_id}/statuses/{ids['Closed']}"
    removed = await tickets.delete(
        url, ws.admin_token, params={"migrate_to_status_id": ids["Resolved"]}
    )
    assert removed.status_code == 200, removed.text
    assert "Closed" not in statuses_of(removed.json())
    assert [(i.status_id, i.status_category) for i in await items(tickets, closed)] == [
        (ids["Resolved"], "done")
    ]
    assert (await tickets.delete(url, ws.admin_token)).status_code == 404  # already gone
    unused = await tickets.delete(
        f"/types/{ws.ticket_type_id}/statuses/{ids['Waiting on client']}", ws.admin_token
    )
    assert unused.status_code == 200  # no items: no migration needed


async def test_workflow_edits_rename_reorder_recategorise_and_bring_back(
    tickets: TicketsApp,
) -> None:
    ws = await tickets.new_workspace()
    before = await ticket_type(tickets, ws)
    ids = statuses_of(before)
    in_progress = await add_items(tickets, ws, "In progress", 2)
    url = f"/types/{ws.ticket_type_id}/workflow"

    # swap two names through their ids, move one status, change a category
    steps = {s["name"]: dict(s) for s in workflow(before)}
    steps["Open"]["name"], steps["In progress"]["name"] = "In progress", "Open"
    steps["In progress"]["category"] = "open"
    order = ["New", "In progress", "Open", "Waiting on client", "Resolved", "Closed"]
    swapped = await tickets.put(url, ws.admin_token, json={"statuses": [steps[n] for n in order]})
    assert swapped.status_code == 200, swapped.text
    after = statuses_of(swapped.json())
    assert after["Open"] == ids["In progress"] and after["In progress"] == ids["Open"]
    assert [s["name"] for s in swapped.json()["statuses"]][:3] == ["New", "Open", "In progress"]
    # the items' denormalised category follows their status's new category
    assert {i.status_category for i in await items(tickets, in_progress)} == {"open"}

    # a removed status comes back, with its id, when a status of its name is added again
    dropped = await tickets.put(
        url, ws.admin_token, json={"statuses": workflow(swapped.json(), drop=("Closed",))}
    )
    assert "Closed" not in statuses_of(dropped.json())
    back = await tickets.put(
        url,
        ws.admin_token,
        json={"statuses": [*workflow(dropped.json()), {"name": "closed", "category": "closed"}]},
    )
    assert statuses_of(back.json())["closed"] == ids["Closed"]

    # a kept status may take the name of a removed one
    retaken = await tickets.put(
        url,
        ws.admin_token,
        json={
            "statuses": [
                {"id": ids["New"], "name": "New", "category": "new"},
                {"id": ids["Resolved"], "name": "Closed", "category": "closed"},
            ],
            "status_migrations": {ids["Open"]: "New", ids["In progress"]: "New"},
        },
    )
    assert retaken.status_code == 200, retaken.text
    assert statuses_of(retaken.json()) == {"New": ids["New"], "Closed": ids["Resolved"]}


async def test_workflow_edits_that_make_no_sense_are_refused(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    before = await ticket_type(tickets, ws)
    ids = statuses_of(before)
    url = f"/types/{ws.ticket_type_id}/workflow"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"statuses": [*workflow(before), {"name": "new", "category": "new"}]}, "duplicate-status"),
        (
            {"statuses": [{"id": str(uuid.uuid4()), "name": "X", "category": "new"}]},
            "unknown-status",
        ),
        (
            {"statuses": workflow(before), "status_migrations": {ids["Open"]: "New"}},
            "invalid-status-migration",
        ),
        (
            {
                "statuses": workflow(before, drop=("Open",)),
                "status_migrations": {ids["Open"]: "Nowhere"},
            },
            "unknown-status",
        ),
        (
            {
                "statuses": workflow(before),
                "transitions": [{"from_status_id": "New", "to_status_id": "Limbo"}],
            },
            "unknown-status",
        ),
        ({"statuses": []}, "validation-error"),
        ({"statuses": [{"name": "X", "category": "someday"}]}, "validation-error"),
    ]
    for body, kind in cases:
        refused = await tickets.put(url, ws.admin_token, json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["type"].endswith(f"/{kind}"), (body, refused.json())
    assert await ticket_type(tickets, ws) == before
    other = await tickets.new_workspace()
    foreign = await tickets.put(url, other.admin_token, json={"statuses": workflow(before)})
    assert foreign.status_code == 404


async def test_transitions_are_restricted_and_released(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    before = await ticket_type(tickets, ws)
    ids = statuses_of(before)
    url = f"/types/{ws.ticket_type_id}/workflow"
    restricted = await tickets.put(
        url,
        ws.admin_token,
        json={
            "statuses": workflow(before),
            "transitions": [
                {"from_status_id": ids["New"], "to_status_id": "Open"},
                {"from_status_id": "Open", "to_status_id": "Resolved"},
                {"from_status_id": "Open", "to_status_id": "Open"},  # staying put: implied
            ],
        },
    )
    pairs = {(t["from_status_id"], t["to_status_id"]) for t in restricted.json()["transitions"]}
    assert pairs == {(ids["New"], ids["Open"]), (ids["Open"], ids["Resolved"])}
    async with tickets.runtime.session_factory() as session:
        definition = await types.load_type(session, ws.id, ws.ticket_type_id)
    assert types.transition_allowed(definition, ids["New"], ids["Open"])
    assert not types.transition_allowed(definition, ids["New"], ids["Resolved"])
    # removing a status drops the moves through it, and keeps the others
    without = await tickets.delete(
        f"/types/{ws.ticket_type_id}/statuses/{ids['Resolved']}", ws.admin_token
    )
    assert [(t["from_status_id"], t["to_status_id"]) for t in without.json()["transitions"]] == [
        (ids["New"], ids["Open"])
    ]
    released = await tickets.put(url, ws.admin_token, json={"statuses": workflow(without.json())})
    assert released.json()["transitions"] is None


async def test_a_gate_on_a_removed_status_moves_to_the_next_one(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    ids = statuses_of(await ticket_type(tickets, ws))
    added = await tickets.post(
        f"/types/{ws.ticket_type_id}/fields",
        ws.admin_token,
        json={
            "key": "brief",
            "label": "Brief",
            "field_type": "long_text",
            "required_from_status_id": ids["In progress"],
        },
    )
    assert added.status_code == 201
    removed = await tickets.delete(
        f"/types/{ws.ticket_type_id}/statuses/{ids['In progress']}", ws.admin_token
    )
    gate = removed.json()["fields"][0]["required_from_status_id"]
    assert gate == ids["Waiting on client"]  # "from here on" still starts at the same point


# --- fields ---------------------------------------------------------------------------------


async def test_fields_are_added_changed_hidden_and_brought_back(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    url = f"/types/{ws.ticket_type_id}/fields"
    ids = statuses_of(await ticket_type(tickets, ws))
    created = await tickets.post(
        url,
        ws.admin_token,
        json={
            "key": "channel",
            "label": "Channel",
            "field_type": "single_choice",
            "options": ["Web"],
        },
    )
    assert created.status_code == 201, created.text
    field_id = created.json()["fields"][0]["id"]
    tagged = await add_items(tickets, ws, "New", 1, channel="Web")

    changed = await tickets.patch(
        f"{url}/{field_id}",
        ws.admin_token,
        json={
            "label": "Sales channel",
            "options": ["Web", "Print"],
            "required_from_status_id": "Open",
            "client_visible": True,
        },
    )
    assert changed.status_code == 200, changed.text
    field = changed.json()["fields"][0]
    assert (field["label"], field["options"], field["required_from_status_id"]) == (
        "Sales channel",
        ["Web", "Print"],
        ids["Open"],
    )
    cleared = await tickets.patch(
        f"{url}/{field_id}", ws.admin_token, json={"required_from_status_id": None}
    )
    assert cleared.json()["fields"][0]["required_from_status_id"] is None

    hidden = await tickets.delete(f"{url}/{field_id}", ws.admin_token)
    assert hidden.json()["fields"] == []
    assert (await items(tickets, tagged))[0].custom_values == {"channel": "Web"}  # kept
    assert (
        await tickets.patch(f"{url}/{field_id}", ws.admin_token, json={"label": "x"})
    ).status_code == 404

    wrong_kind = await tickets.post(
        url, ws.admin_token, json={"key": "channel", "label": "Channel", "field_type": "text"}
    )
    assert wrong_kind.status_code == 409 and wrong_kind.json()["type"].endswith("/field-key-taken")
    again = await tickets.post(
        url,
        ws.admin_token,
        json={
            "key": "channel",
            "label": "Channel",
            "field_type": "single_choice",
            "options": ["Web"],
        },
    )
    assert again.status_code == 201
    assert again.json()["fields"][0]["id"] == field_id  # the same field, values and all
    duplicate = await tickets.post(
        url,
        ws.admin_token,
        json={"key": "channel", "label": "C", "field_type": "single_choice", "options": ["A"]},
    )
    assert duplicate.status_code == 409 and duplicate.json()["type"].endswith("/field-exists")


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"key": "c", "label": "C", "field_type": "single_choice"}, "invalid-options"),
        (
            {"key": "c", "label": "C", "field_type": "multi_choice", "options": ["A", "a"]},
            "invalid-options",
        ),
        ({"key": "c", "label": "C", "field_type": "text", "options": ["A"]}, "invalid-options"),
        (
            {"key": "c", "label": "C", "field_type": "text", "required_from_status_id": "Nope"},
            "unknown-status",
        ),
        ({"key": "Bad Key", "label": "C", "field_type": "text"}, "validation-error"),
        ({"key": "c", "label": "C", "field_type": "colour"}, "validation-error"),
    ],
)
async def test_fields_that_cannot_hold_values_are_refused(
    tickets: TicketsApp, body: dict[str, Any], kind: str
) -> None:
    ws = await tickets.new_workspace()
    refused = await tickets.post(f"/types/{ws.ticket_type_id}/fields", ws.admin_token, json=body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"].endswith(f"/{kind}")


async def test_defaults_for_items_follow_the_oldest_active_type(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    lead = await tickets.post("/types", ws.admin_token, json={"name": "Lead", "kind": "ticket"})
    async with tickets.runtime.session_factory() as session:
        found = await types.default_ticket_type(session, ws.id)
        assert found is not None and found.id == ws.ticket_type_id
        assert await types.default_type_id(session, ws.id, "task") == ws.task_type_id
    await tickets.post(f"/types/{ws.ticket_type_id}/archive", ws.admin_token)
    await tickets.post(f"/types/{ws.task_type_id}/archive", ws.admin_token)
    async with tickets.runtime.session_factory() as session:
        found = await types.default_ticket_type(session, ws.id)
        assert found is not None and found.id == lead.json()["id"]
        with pytest.raises(Problem) as refused:
            await types.default_type_id(session, ws.id, "task")
        assert refused.value.status == 422
        with pytest.raises(Problem) as missing:
            await types.load_type(session, ws.id, str(uuid.uuid4()))
        assert missing.value.status == 404
        assert await types.find_type(session, ws.id, lead.json()["id"]) is not None
        other = await tickets.new_workspace()
        assert await types.find_type(session, other.id, lead.json()["id"]) is None


# --- the rules items apply (pure) -------------------------------------------------------------

NEW = StatusDef("s-new", "New", "new", 0)
DOING = StatusDef("s-doing", "Doing", "in_progress", 1)
REVIEW = StatusDef("s-review", "Review", "waiting", 2)
DONE = StatusDef("s-done", "Done", "done", 3)
USER = str(uuid.uuid4())


def field(key: str, field_type: Any, *options: str, **extra: Any) -> FieldDef:
    attributes: dict[str, Any] = {
        "required": False,
        "required_from_status_id": None,
        "client_visible": False,
        "position": 0,
    }
    attributes.update(extra)
    return FieldDef(
        id=f"f-{key}",
        key=key,
        label=key.title(),
        field_type=field_type,
        options=options,
        **attributes,
    )


def definition(
    *fields: FieldDef, moves: frozenset[tuple[str, str]] | None = None
) -> TypeDefinition:
    return TypeDefinition(
        id="t",
        workspace_id="w",
        name="Campaign",
        icon="",
        kind="task",
        archived=False,
        statuses=(NEW, DOING, REVIEW, DONE),
        restrict_transitions=moves is not None,
        transitions=moves or frozenset(),
        fields=fields,
    )


EVERY_TYPE = definition(
    field("text", "text"),
    field("notes", "long_text"),
    field("budget", "number"),
    field("launch", "date"),
    field("channel", "single_choice", "Web", "Print", "Radio"),
    field("markets", "multi_choice", "FR", "DE", "UK"),
    field("owner", "user"),
    field("approved", "checkbox"),
)


@pytest.mark.parametrize(
    ("key", "value", "stored"),
    [
        ("text", "Spring sale", "Spring sale"),
        ("text", "", None),
        ("notes", "line\n" * 5_000, "line\n" * 5_000),
        ("budget", 1200, 1200),
        ("budget", 99.5, 99.5),
        ("budget", 0, 0),
        ("budget", -3, -3),
        ("launch", "2026-03-01", "2026-03-01"),
        ("launch", date(2026, 3, 1), "2026-03-01"),
        ("channel", "Print", "Print"),
        ("markets", ["UK", "FR", "UK"], ["FR", "UK"]),  # deduplicated, in the options' order
        ("markets", [], None),
        ("owner", USER.upper(), USER),
        ("approved", True, True),
        ("approved", False, False),
        ("channel", None, None),  # clearing an optional field
    ],
)
def test_good_values_are_accepted_and_normalised(key: str, value: Any, stored: Any) -> None:
    assert types.validate_custom_values(EVERY_TYPE, {key: value}, partial=True) == {key: stored}


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("text", 12),
        ("text", "x" * 1_001),
        ("notes", ["a"]),
        ("notes", "x" * 100_001),
        ("budget", "12"),
        ("budget", True),
        ("budget", float("nan")),
        ("budget", float("inf")),
        ("budget", 1e16),
        ("launch", "2026-02-30"),
        ("launch", "01/03/2026"),
        ("launch", "2026-03-01T10:00:00"),
        ("launch", 20260301),
        ("channel", "TV"),
        ("channel", "print"),
        ("channel", ["Web"]),
        ("markets", "FR"),
        ("markets", ["FR", "US"]),
        ("markets", [1]),
        ("owner", "not-a-user"),
        ("owner", 42),
        ("approved", "yes"),
        ("approved", 1),
        ("colour", "red"),  # no such field
    ],
)
def test_bad_values_are_refused_naming_the_field(key: str, value: Any) -> None:
    with pytest.raises(Problem) as refused:
        types.validate_custom_values(EVERY_TYPE, {key: value}, partial=True)
    problem = refused.value
    assert (problem.status, problem.kind) == (422, "invalid-custom-fields")
    assert [e["field"] for e in problem.extensions["errors"]] == [key]
    assert problem.extensions["errors"][0]["message"]


def test_required_fields_are_needed_at_creation_and_never_cleared() -> None:
    typed = definition(field("brief", "long_text", required=True), field("budget", "number"))
    with pytest.raises(Problem) as missing:
        types.validate_custom_values(typed, {"budget": 3}, partial=False)
    assert missing.value.extensions["errors"] == [
        {"field": "brief", "message": "This field is required."}
    ]
    assert types.validate_custom_values(typed, {"budget": 3}, partial=True) == {"budget": 3}
    for empty in (None, "", "   "):
        with pytest.raises(Problem):
            types.validate_custom_values(typed, {"brief": empty}, partial=True)
    with pytest.raises(Problem) as several:
        types.validate_custom_values(typed, {"budget": "x", "nope": 1}, partial=False)
    assert sorted(e["field"] for e in several.value.extensions["errors"]) == [
        "brief",
        "budget",
        "nope",
    ]


def test_no_brief_no_start() -> None:
    """A field required from a status is required to enter it and every later one."""
    typed = definition(
        field("brief", "long_text", required_from_status_id=DOING.id),
        field("approved", "checkbox", required_from_status_id=DONE.id),
        field("budget", "number", required=True),
        field("notes", "text"),
    )
    blank: dict[str, Any] = {}
    assert types.missing_for_status(typed, blank, NEW.id) == ["budget"]
    assert types.missing_for_status(typed, blank, DOING) == ["brief", "budget"]
    assert types.missing_for_status(typed, blank, REVIEW.id) == ["brief", "budget"]
    assert types.missing_for_status(typed, blank, DONE.id) == ["brief", "approved", "budget"]
    filled = {"brief": "Do it", "budget": 10, "approved": False}
    assert types.missing_for_status(typed, filled, DONE.id) == ["approved"]  # unticked
    assert types.missing_for_status(typed, {**filled, "approved": True}, DONE.id) == []
    assert types.missing_for_status(typed, {**filled, "brief": "  "}, DOING.id) == ["brief"]
    problem = types.missing_fields_problem(typed, ["brief", "budget"], DOING)
    assert (problem.status, problem.kind) == (422, "required-fields-missing")
    assert problem.extensions["missing_fields"] == [
        {"field": "brief", "label": "Brief"},
        {"field": "budget", "label": "Budget"},
    ]
    assert "Brief, Budget" in (problem.detail or "")


def test_transitions_are_free_unless_restricted() -> None:
    free = definition()
    assert types.transition_allowed(free, NEW.id, DONE.id)
    assert types.transition_allowed(free, DONE.id, NEW.id)
    assert not types.transition_allowed(free, NEW.id, "elsewhere")
    strict = definition(moves=frozenset({(NEW.id, DOING.id), (DOING.id, REVIEW.id)}))
    assert types.transition_allowed(strict, NEW.id, DOING.id)
    assert not types.transition_allowed(strict, DOING.id, NEW.id)
    assert not types.transition_allowed(strict, NEW.id, DONE.id)
    assert types.transition_allowed(strict, REVIEW.id, REVIEW.id)  # staying put
    assert types.transition_allowed(strict, "retired-status", NEW.id)  # never stuck


def test_clients_get_only_client_visible_values() -> None:
    typed = definition(field("brief", "text", client_visible=True), field("margin", "number"))
    values = {"brief": "b", "margin": 40, "removed_field": "kept but hidden"}
    assert types.client_values(typed, values) == {"brief": "b"}
    assert typed.status(DOING.id) == DOING
    with pytest.raises(Problem) as unknown:
        typed.status("s-other")
    assert (unknown.value.status, unknown.value.kind) == (422, "unknown-status")
