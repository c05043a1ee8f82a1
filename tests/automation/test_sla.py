"""SLA clocks from an item's history: paused time, met and breached targets, next response
after a client's message, and recomputation when a policy changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.automation.scheduler.service import fire_due
from tests.automation.conftest import AutomationApp, Workspace, always_open
from tests.conftest import eventually


async def policy(automation: AutomationApp, ws: Workspace, targets: dict[str, int]) -> str:
    calendar = await automation.post("/calendars", ws.admin, json=always_open())
    assert calendar.status_code == 201, calendar.text
    created = await automation.post(
        "/sla-policies",
        ws.admin,
        json={"name": "Standard", "calendar_id": calendar.json()["id"], "targets": targets},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


@pytest.fixture(params=["postgresql", "sqlite"])
def either_database(request: pytest.FixtureRequest) -> AutomationApp:
    """The service on PostgreSQL, and on the embedded SQLite database of `deskline run`."""
    name = "automation" if request.param == "postgresql" else "automation_embedded"
    found: AutomationApp = request.getfixturevalue(name)
    return found


async def test_clocks_pause_in_waiting_meet_on_reply_and_follow_policy_changes(
    either_database: AutomationApp,
) -> None:
    automation = either_database
    ws = await automation.new_workspace()
    policy_id = await policy(
        automation, ws, {"first_response": 60, "next_response": 120, "resolution": 240}
    )
    client = await automation.add_user(ws.id, kind="client")
    agent = await automation.add_user(ws.id)
    now = datetime.now(UTC).replace(microsecond=0)
    created = now - timedelta(hours=3)
    item_id = await automation.create_item(ws, at=created, requester_id=client, channel="email")
    await automation.comment(ws, item_id, agent, at=created + timedelta(minutes=30))
    await automation.move(ws, item_id, "New", "Waiting on client", at=now - timedelta(hours=2))
    await automation.comment(
        ws, item_id, client, status="Waiting on client", at=now - timedelta(minutes=90)
    )
    await automation.move(ws, item_id, "Waiting on client", "Open", at=now - timedelta(hours=1))

    async def settled() -> bool:
        return len(await automation.history(item_id)) >= 6

    await eventually(settled, timeout=10)
    sla = await automation.get(f"/items/{item_id}/sla", ws.admin)
    assert sla.status_code == 200, sla.text
    clocks = {c["target"]: c for c in sla.json()["clocks"]}

    first = clocks["first_response"]
    assert first["state"] == "met" and not first["breached"]
    assert first["used_minutes"] == 30
    # The client's message came while waiting: the next response clock started paused and
    # runs from the move back to Open; two hours from then.
    nxt = clocks["next_response"]
    assert nxt["state"] == "running"
    assert datetime.fromisoformat(nxt["due_at"]) == now - timedelta(hours=1) + timedelta(hours=2)
    # Resolution: four hours of business time plus the hour spent waiting.
    resolution = clocks["resolution"]
    assert datetime.fromisoformat(resolution["due_at"]) == created + timedelta(hours=5)
    assert resolution["paused_minutes"] == 60

    met = await automation.published_about("automation.sla.met.v1", item_id)
    assert [m["target"] for m in met] == ["first_response"]

    # A stricter resolution target: the open item's due time is recomputed from history.
    changed = await automation.patch(
        f"/sla-policies/{policy_id}",
        ws.admin,
        json={"targets": {"first_response": 60, "resolution": 90}},
    )
    assert changed.status_code == 200, changed.text
    await fire_due(automation.runtime.unit_of_work)
    clocks_now = await automation.clocks(item_id)
    assert set(clocks_now) == {"first_response", "resolution"}
    due_at = clocks_now["resolution"].due_at
    assert due_at is not None
    assert due_at.replace(tzinfo=UTC) == created + timedelta(hours=2, minutes=30)  # SQLite: naive
    assert clocks_now["resolution"].breached
    assert clocks_now["resolution"].breached_by_minutes >= 30


async def test_sla_state_is_hidden_from_outsiders_and_validation_is_problem_json(
    automation: AutomationApp, workspace: Workspace
) -> None:
    ws = workspace
    await policy(automation, ws, {"resolution": 60})
    item_id = await automation.create_item(ws)
    outsider = automation.token(ws.id, await automation.add_user(ws.id))
    hidden = await automation.get(f"/items/{item_id}/sla", outsider)
    assert hidden.status_code == 404
    assert hidden.headers["content-type"].startswith("application/problem+json")

    client_id = await automation.add_user(ws.id, kind="client")
    own = await automation.create_item(ws, requester_id=client_id)
    client = automation.token(ws.id, client_id, kind="client")
    assert (await automation.get(f"/items/{own}/sla", client)).status_code == 404
    assert (await automation.get(f"/items/{own}/sla", ws.admin)).status_code == 200

    member = await automation.post("/calendars", outsider, json=always_open())
    assert member.status_code == 403

    bad = always_open() | {
        "time_zone": "Mars/Olympus",
        "week": {"mon": [{"start": "17:00", "end": "09:00"}]},
    }
    refused = await automation.post("/calendars", ws.admin, json=bad)
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    locations = [e["location"] for e in refused.json()["errors"]]
    assert ["body", "time_zone"] in locations

    no_country = always_open() | {"holiday_country": "XX"}
    assert (await automation.post("/calendars", ws.admin, json=no_country)).status_code == 422
    national = always_open() | {"holiday_country": "FR", "holidays": ["2026-12-24"]}
    assert (await automation.post("/calendars", ws.admin, json=national)).status_code == 201
