"""Timers: one per person however requests race, stopped into entries the tickets service
understands, and forgotten ones flagged instead of billed."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from contracts.tickets import ItemDeleted
from contracts.timetracking import TimeLogged
from kit.launcher.host import Host
from services.timetracking.models import ItemRef
from services.timetracking.timers.service import sweep, sweep_forever
from tests.conftest import eventually
from tests.support.harness import free_port
from tests.timetracking.conftest import (
    TIMETRACKING,
    TimetrackingApp,
    item_snapshot,
    make_team,
    new_id,
)


def problem_type(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    kind: str = response.json()["type"].rsplit("/", 1)[-1]
    return kind


async def test_a_stopped_timer_becomes_an_entry_and_an_event_tickets_understands(
    timetracking: TimetrackingApp,
) -> None:
    team = await make_team(timetracking)
    token = team.contributor.token
    started = await timetracking.post(
        "/timers", token, json={"item_id": team.item_id, "note": "banner copy"}
    )
    assert started.status_code == 201, started.text
    assert started.json()["stopped_entry"] is None
    current = (await timetracking.get("/timers/current", token)).json()
    assert (current["item_id"], current["note"]) == (team.item_id, "banner copy")

    stopped = await timetracking.post("/timers/current/stop", token, json={"percent_complete": 40})
    assert stopped.status_code == 200, stopped.text
    entry = stopped.json()
    assert entry["source"] == "timer"
    assert entry["minutes"] == 1, "a few seconds round up to one minute"
    assert entry["note"] == "banner copy"
    assert (entry["billable"], entry["flagged"], entry["status"]) == (True, False, "draft")
    assert entry["project_id"] == team.project_id
    assert datetime.fromisoformat(entry["ended_at"]) > datetime.fromisoformat(entry["started_at"])
    assert problem_type(await timetracking.get("/timers/current", token)) == "no-running-timer"

    [event] = await timetracking.published("timetracking.time.logged.v1", team.id)
    logged = TimeLogged.model_validate(event)  # what the tickets service parses
    assert str(logged.entry_id) == entry["id"]
    assert (str(logged.item_id), str(logged.user_id)) == (team.item_id, team.contributor.id)
    assert (logged.minutes, logged.percent_complete, logged.billable) == (1, 40, True)
    assert logged.worked_on.isoformat() == entry["worked_on"]


async def test_starting_another_item_stops_the_running_timer_into_an_entry(
    timetracking: TimetrackingApp,
) -> None:
    team = await make_team(timetracking)
    other = await timetracking.add_item(team.id, team.project_id, title="Flyer")
    token = team.contributor.token
    await timetracking.post("/timers", token, json={"item_id": team.item_id})
    again = await timetracking.post("/timers", token, json={"item_id": team.item_id})
    assert again.status_code == 200, "the item already timed: nothing changes"
    assert again.json()["stopped_entry"] is None

    switched = await timetracking.post("/timers", token, json={"item_id": other})
    assert switched.status_code == 201
    stopped = switched.json()["stopped_entry"]
    assert (stopped["item_id"], stopped["source"]) == (team.item_id, "timer")
    assert switched.json()["item_id"] == other
    assert [t.item_id for t in await timetracking.running_timers(team.id, team.contributor.id)] == [
        other
    ]
    assert len(await timetracking.entries_of(team.id, team.contributor.id)) == 1


async def test_a_timer_started_late_is_corrected_and_bills_the_real_time(
    timetracking: TimetrackingApp,
) -> None:
    team = await make_team(timetracking)
    token = team.contributor.token
    await timetracking.post("/timers", token, json={"item_id": team.item_id, "note": "brief"})
    began = datetime.now(UTC) - timedelta(hours=2)
    changed = await timetracking.patch(
        "/timers/current", token, json={"started_at": began.isoformat(), "note": "brief v2"}
    )
    assert changed.status_code == 200, changed.text
    assert datetime.fromisoformat(changed.json()["started_at"]) == began
    assert changed.json()["note"] == "brief v2"

    future = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    refused = await timetracking.patch("/timers/current", token, json={"started_at": future})
    assert refused.status_code == 422
    assert problem_type(refused) == "timer-start-in-future"
    naive = await timetracking.patch(
        "/timers/current", token, json={"started_at": "2026-03-02T09:00:00"}
    )
    assert naive.status_code == 422, "a time without its offset is ambiguous"

    entry = (await timetracking.post("/timers/current/stop", token)).json()
    assert entry["minutes"] in (120, 121), "two hours, rounded up to the minute"
    assert (entry["note"], entry["flagged"]) == ("brief v2", False)
    nothing = await timetracking.patch("/timers/current", token, json={"note": "x"})
    assert problem_type(nothing) == "no-running-timer"

    # The next timer may not reach back over the hours that entry already holds.
    await timetracking.post("/timers", token, json={"item_id": team.item_id})
    overlap = (began + timedelta(hours=1)).isoformat()
    refused = await timetracking.patch("/timers/current", token, json={"started_at": overlap})
    assert refused.status_code == 422
    assert problem_type(refused) == "timer-overlaps-entry"
    assert datetime.fromisoformat(refused.json()["last_ended_at"]) == datetime.fromisoformat(
        entry["ended_at"]
    )
    after = datetime.fromisoformat(entry["ended_at"]) + timedelta(seconds=1)
    moved = await timetracking.patch(
        "/timers/current", token, json={"started_at": min(after, datetime.now(UTC)).isoformat()}
    )
    assert moved.status_code == 200, moved.text


async def test_discarding_writes_nothing(timetracking: TimetrackingApp) -> None:
    team = await make_team(timetracking)
    token = team.contributor.token
    await timetracking.post("/timers", token, json={"item_id": team.item_id})
    assert (await timetracking.post("/timers/current/discard", token)).status_code == 204
    assert (await timetracking.post("/timers/current/discard", token)).status_code == 404
    assert (await timetracking.post("/timers/current/stop", token)).status_code == 404
    assert await timetracking.entries_of(team.id, team.contributor.id) == []
    assert await timetracking.published("timetracking.time.logged.v1", team.id) == []


@pytest.mark.parametrize("round_", range(6))
async def test_concurrent_starts_leave_exactly_one_running_timer(
    timetracking: TimetrackingApp, round_: int
) -> None:
    """Two starts at once by one person, with no timer yet: one wins the insert, the other
    then stops it (one entry) and runs; never two timers, never a lost one."""
    team = await make_team(timetracking)
    first, second = team.item_id, await timetracking.add_item(team.id, team.project_id)
    token = team.contributor.token
    responses = await asyncio.gather(
        timetracking.post("/timers", token, json={"item_id": first}),
        timetracking.post("/timers", token, json={"item_id": second}),
    )
    assert sorted(r.status_code for r in responses) == [201, 201], [r.text for r in responses]
    running = await timetracking.running_timers(team.id, team.contributor.id)
    assert len(running) == 1
    entries = await timetracking.entries_of(team.id, team.contributor.id)
    assert len(entries) == 1, "the timer that lost was stopped into exactly one entry"
    assert {running[0].item_id, entries[0].item_id} == {first, second}
    stopped = [r.json()["stopped_entry"] for r in responses if r.json()["stopped_entry"]]
    assert [s["id"] for s in stopped] == [entries[0].id]


@pytest.mark.parametrize("round_", range(6))
async def test_concurrent_starts_over_a_running_timer_stop_it_exactly_once(
    timetracking: TimetrackingApp, round_: int
) -> None:
    team = await make_team(timetracking)
    target = await timetracking.add_item(team.id, team.project_id, title="Target")
    token = team.contributor.token
    await timetracking.post("/timers", token, json={"item_id": team.item_id})
    responses = await asyncio.gather(
        *(timetracking.post("/timers", token, json={"item_id": target}) for _ in range(2))
    )
    assert sorted(r.status_code for r in responses) == [200, 201], [r.text for r in responses]
    running = await timetracking.running_timers(team.id, team.contributor.id)
    assert [t.item_id for t in running] == [target]
    entries = await timetracking.entries_of(team.id, team.contributor.id)
    assert [e.item_id for e in entries] == [team.item_id], "only the earlier timer became time"
    assert len(await timetracking.published("timetracking.time.logged.v1", team.id)) == 1


async def test_a_burst_of_starts_on_different_items_keeps_one_timer(
    timetracking: TimetrackingApp,
) -> None:
    team = await make_team(timetracking)
    items = [await timetracking.add_item(team.id, team.project_id) for _ in range(5)]
    token = team.contributor.token
    responses = await asyncio.gather(
        *(timetracking.post("/timers", token, json={"item_id": i}) for i in items)
    )
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    assert len(await timetracking.running_timers(team.id, team.contributor.id)) == 1
    assert len(await timetracking.entries_of(team.id, team.contributor.id)) == len(items) - 1


async def test_a_timer_past_the_limit_is_flagged_not_billed(timetracking: TimetrackingApp) -> None:
    team = await make_team(timetracking, estimate_minutes=600)
    policy = await timetracking.put(
        "/policy",
        team.admin.token,
        json={"approval_required": False, "timer_flag_after_minutes": 1},
    )
    assert policy.status_code == 200, policy.text
    token = team.contributor.token
    await timetracking.post("/timers", token, json={"item_id": team.item_id})
    await timetracking.backdate_timer(team.id, team.contributor.id, timedelta(minutes=90))
    entry = (await timetracking.post("/timers/current/stop", token)).json()
    assert (entry["flagged"], entry["billable"]) == (True, False)
    assert 90 <= entry["minutes"] <= 91
    assert await timetracking.published("timetracking.time.logged.v1", team.id) == [], (
        "unconfirmed hours move nothing in tickets"
    )

    flagged = (await timetracking.get("/entries?flagged=true", team.manager.token)).json()
    assert [e["id"] for e in flagged["items"]] == [entry["id"]]

    confirmed = await timetracking.patch(
        f"/entries/{entry['id']}", token, json={"minutes": 60, "billable": True}
    )
    assert confirmed.status_code == 200, confirmed.text
    body = confirmed.json()
    assert (body["flagged"], body["billable"], body["minutes"]) == (False, True, 60)
    [event] = await timetracking.published("timetracking.time.logged.v1", team.id)
    assert (event["entry_id"], event["minutes"]) == (entry["id"], 60)


async def test_the_sweep_flags_forgotten_timers_once_even_when_two_processes_sweep(
    timetracking: TimetrackingApp,
) -> None:
    strict = await make_team(timetracking)
    await timetracking.put(
        "/policy",
        strict.admin.token,
        json={"approval_required": False, "timer_flag_after_minutes": 1},
    )
    relaxed = await make_team(timetracking)  # the default limit: 12 hours
    for team, user in (
        (strict, strict.contributor),
        (strict, strict.manager),
        (relaxed, relaxed.contributor),
        (relaxed, relaxed.manager),
    ):
        await timetracking.post("/timers", user.token, json={"item_id": team.item_id})
    await timetracking.backdate_timer(strict.id, strict.contributor.id, timedelta(minutes=5))
    await timetracking.backdate_timer(relaxed.id, relaxed.contributor.id, timedelta(hours=13))
    await timetracking.backdate_timer(relaxed.id, relaxed.manager.id, timedelta(hours=11))

    async def one_sweep() -> int:
        async with timetracking.runtime.unit_of_work() as uow:
            swept = await sweep(uow, moment=datetime.now(UTC))
            await uow.commit()
        return swept

    counts = await asyncio.gather(one_sweep(), one_sweep())
    for team, user, forgotten in (
        (strict, strict.contributor, True),
        (strict, strict.manager, False),  # started just now: under the minute
        (relaxed, relaxed.contributor, True),
        (relaxed, relaxed.manager, False),  # 11 h: under the default 12 h
    ):
        running = await timetracking.running_timers(team.id, user.id)
        entries = await timetracking.entries_of(team.id, user.id)
        assert (len(running), len(entries)) == ((0, 1) if forgotten else (1, 0))
        if forgotten:
            assert (entries[0].flagged, entries[0].billable, entries[0].source) == (
                True,
                False,
                "timer",
            )
    assert sum(counts) >= 2, "both forgotten timers were swept (other tests' may be too)"


async def test_the_background_sweep_runs_on_its_own(timetracking: TimetrackingApp) -> None:
    team = await make_team(timetracking)
    await timetracking.post("/timers", team.contributor.token, json={"item_id": team.item_id})
    await timetracking.backdate_timer(team.id, team.contributor.id, timedelta(hours=12, minutes=1))
    sweeping = asyncio.create_task(sweep_forever(timetracking.runtime.unit_of_work, interval=0.05))
    try:

        async def flagged() -> bool:
            entries = await timetracking.entries_of(team.id, team.contributor.id)
            return [e.flagged for e in entries] == [True]

        await eventually(flagged, timeout=10)
    finally:
        sweeping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeping
    assert await timetracking.running_timers(team.id, team.contributor.id) == []


async def test_who_may_run_a_timer(timetracking: TimetrackingApp) -> None:
    team = await make_team(timetracking)
    viewer = await timetracking.post("/timers", team.viewer.token, json={"item_id": team.item_id})
    assert viewer.status_code == 403
    assert problem_type(viewer) == "forbidden"
    outsider = await timetracking.post(
        "/timers", team.outsider.token, json={"item_id": team.item_id}
    )
    unknown = await timetracking.post("/timers", team.outsider.token, json={"item_id": new_id()})
    assert (outsider.status_code, unknown.status_code) == (404, 404)
    assert outsider.json()["detail"] == unknown.json()["detail"], "no hint that it exists"

    client = await timetracking.add_user(team.id, kind="client")
    await timetracking.grant(team.id, team.project_id, client.id, "contributor")
    assert (
        await timetracking.post("/timers", client.token, json={"item_id": team.item_id})
    ).status_code == 403

    other = await make_team(timetracking)
    foreign = await timetracking.post("/timers", other.admin.token, json={"item_id": team.item_id})
    assert foreign.status_code == 404, "another workspace's item does not exist for its admin"
    admin = await timetracking.post("/timers", team.admin.token, json={"item_id": team.item_id})
    assert admin.status_code == 201, "admins manage every project of their workspace"
    assert await timetracking.running_timers(other.id, other.admin.id) == []


async def test_a_deleted_item_takes_no_new_timer(timetracking: TimetrackingApp) -> None:
    team = await make_team(timetracking)
    await timetracking.post("/timers", team.contributor.token, json={"item_id": team.item_id})
    snapshot = item_snapshot(team.item_id, team.project_id)
    await timetracking.emit(ItemDeleted(item=snapshot), team.id, f"item/{team.item_id}")

    async def deleted() -> bool:
        row = await timetracking.row(ItemRef, team.item_id)
        return bool(row.deleted)

    await eventually(deleted, timeout=10)
    refused = await timetracking.post("/timers", team.manager.token, json={"item_id": team.item_id})
    assert refused.status_code == 404
    stopped = await timetracking.post("/timers/current/stop", team.contributor.token)
    assert stopped.status_code == 200, "time already running on it is still recorded"


async def test_a_running_timer_survives_a_restart(timetracking: TimetrackingApp) -> None:
    """The timer is a row: another process on the same database (a restarted one) stops it."""
    team = await make_team(timetracking)
    started = await timetracking.post(
        "/timers", team.contributor.token, json={"item_id": team.item_id}
    )
    port = free_port()
    settings = timetracking.host.settings.model_copy(update={"port": port})
    restarted = Host(settings, [TIMETRACKING])
    serving = asyncio.create_task(restarted.serve("127.0.0.1", port))
    base = f"http://127.0.0.1:{port}/api/timetracking"
    headers = {"Authorization": f"Bearer {team.contributor.token}"}
    try:

        async def up() -> bool:
            try:
                return (await timetracking.client.get(f"{base}/healthz")).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(up, timeout=30)
        current = await timetracking.client.get(f"{base}/timers/current", headers=headers)
        assert current.json()["id"] == started.json()["id"]
        stopped = await timetracking.client.post(f"{base}/timers/current/stop", headers=headers)
        assert stopped.status_code == 200, stopped.text
    finally:
        restarted.request_stop()
        await asyncio.wait_for(serving, 30)
    assert (await timetracking.get("/timers/current", team.contributor.token)).status_code == 404
