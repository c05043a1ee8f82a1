"""Time entries: logging with precise validation, who sees and changes what, history of every
change, the approval flow, and tenants kept apart."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from contracts.identity import GrantChanged
from contracts.timetracking import TimeLogged
from kit.http.problems import Problem
from services.timetracking.entries.service import entry_problems, write_entry
from tests.conftest import eventually
from tests.timetracking.conftest import Team, TimetrackingApp, User, make_team, mint, new_id

TODAY = datetime.now(UTC).date()


def problem_type(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    kind: str = response.json()["type"].rsplit("/", 1)[-1]
    return kind


def errors(response: httpx.Response) -> set[tuple[str, str]]:
    """(field, kind) of every problem of a 422."""
    assert response.status_code == 422, response.text
    return {(e["field"], e["kind"]) for e in response.json()["errors"]}


async def log(
    app: TimetrackingApp, user: User, item_id: str, minutes: int = 30, **fields: Any
) -> dict[str, Any]:
    body = {"item_id": item_id, "worked_on": TODAY.isoformat(), "minutes": minutes, **fields}
    response = await app.post("/entries", user.token, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def listed(app: TimetrackingApp, user: User, query: str = "") -> list[str]:
    response = await app.get(f"/entries{query}", user.token)
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()["items"]]


# --- logging --------------------------------------------------------------------------------


async def test_logging_time_writes_an_entry_and_announces_it(
    timetracking: TimetrackingApp,
) -> None:
    ws = await timetracking.new_workspace()
    organisation = await timetracking.add_organisation(ws.id, "Globex")
    project = await timetracking.add_project(ws.id, "Globex site", organisation)
    item = await timetracking.add_item(ws.id, project)
    person = await timetracking.add_user(ws.id)
    await timetracking.grant(ws.id, project, person.id, "contributor")

    entry = await log(
        timetracking,
        person,
        item,
        minutes=45,
        note="wireframes",
        billable=False,
        activity_type="design",
        percent_complete=30,
    )
    assert entry["user_id"] == person.id
    assert (entry["project_id"], entry["organisation_id"]) == (project, organisation)
    assert (entry["minutes"], entry["billable"], entry["activity_type"]) == (45, False, "design")
    assert (entry["source"], entry["status"], entry["flagged"]) == ("manual", "draft", False)
    [event] = await timetracking.published("timetracking.time.logged.v1", ws.id)
    logged = TimeLogged.model_validate(event)
    assert (str(logged.entry_id), logged.minutes, logged.percent_complete) == (entry["id"], 45, 30)
    assert (logged.worked_on, logged.billable) == (TODAY, False)


async def test_an_interval_is_rounded_up_to_the_minute(timetracking: TimetrackingApp) -> None:
    team = await make_team(timetracking)
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    response = await timetracking.post(
        "/entries",
        team.contributor.token,
        json={
            "item_id": team.item_id,
            "started_at": start.isoformat(),
            "ended_at": (start + timedelta(minutes=50, seconds=1)).isoformat(),
        },
    )
    assert response.status_code == 201, response.text
    entry = response.json()
    assert (entry["minutes"], entry["worked_on"]) == (51, "2026-03-02")


async def test_invalid_entries_are_refused_with_every_problem_named(
    timetracking: TimetrackingApp,
) -> None:
    team = await make_team(timetracking)
    token = team.contributor.token
    base = {"item_id": team.item_id, "worked_on": TODAY.isoformat()}
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    async def refused(body: dict[str, Any]) -> set[tuple[str, str]]:
        return errors(await timetracking.post("/entries", token, json=body))

    assert await refused({**base, "minutes": 0}) == {("minutes", "not-positive")}
    assert await refused({**base, "minutes": -15}) == {("minutes", "not-positive")}
    assert await refused({**base, "minutes": 24 * 60 + 1}) == {("minutes", "too-long")}
    assert await refused(base) == {("minutes", "required")}
    assert await refused(
        {
            "item_id": team.item_id,
            "started_at": start.isoformat(),
            "ended_at": (start - timedelta(minutes=5)).isoformat(),
        }
    ) == {("ended_at", "end-before-start")}
    assert await refused(
        {**base, "minutes": 10, "started_at": start.isoformat(), "ended_at": start.isoformat()}
    ) == {("minutes", "ambiguous-duration")}
    assert await refused({**base, "started_at": start.isoformat()}) == {("ended_at", "required")}
    tomorrow, later = TODAY + timedelta(days=1), TODAY + timedelta(days=2)
    assert (
        await timetracking.post(
            "/entries", token, json={**base, "worked_on": tomorrow.isoformat(), "minutes": 5}
        )
    ).status_code == 201, "tomorrow in UTC is today somewhere"
    assert await refused({**base, "worked_on": later.isoformat(), "minutes": 5}) == {
        ("worked_on", "future-date")
    }
    assert await refused({**base, "item_id": new_id(), "minutes": -1}) == {
        ("item_id", "unknown-item"),
        ("minutes", "not-positive"),
    }, "every problem at once"
    naive = await timetracking.post(
        "/entries",
        token,
        json={"item_id": team.item_id, "started_at": "2026-03-02T09:00:00", "ended_at": None},
    )
    assert problem_type(naive) == "validation-error", "times need their offset"
    assert len(await timetracking.published("timetracking.time.logged.v1", team.id)) == 1, (
        "only tomorrow's entry was written"
    )


async def test_who_may_log_time(timetracking: TimetrackingApp) -> None:
    team = await make_team(timetracking)
    body = {"item_id": team.item_id, "worked_on": TODAY.isoformat(), "minutes": 10}
    viewer = await timetracking.post("/entries", team.viewer.token, json=body)
    assert (viewer.status_code, problem_type(viewer)) == (403, "forbidden")
    outsider = await timetracking.post("/entries", team.outsider.token, json=body)
    unknown = await timetracking.post(
        "/entries", team.outsider.token, json={**body, "item_id": new_id()}
    )
    assert errors(outsider) == errors(unknown) == {("item_id", "unknown-item")}, (
        "an item out of reach looks exactly like one that does not exist"
    )
    for user in (team.contributor, team.manager, team.admin):
        await log(timetracking, user, team.item_id)


# --- reading ---------------------------------------------------------------------------------


async def test_a_read_key_sees_what_its_person_sees_and_changes_nothing(
    timetracking: TimetrackingApp,
) -> None:
    team = await make_team(timetracking)
    theirs = await log(timetracking, team.contributor, team.item_id)
    for person in (team.manager, team.admin):
        key = mint(
            team.id,
            person.id,
            role="admin" if person is team.admin else "member",
            api_key=(new_id(), ["read"]),
        )
        listed_by_key = await timetracking.get("/entries", key)
        assert theirs["id"] in {e["id"] for e in listed_by_key.json()["items"]}
        one = await timetracking.get(f"/entries/{theirs['id']}", key)
        assert one.status_code == 200, one.text
        refused = await timetracking.post(f"/entries/{theirs['id']}/approve", key)
        assert (refused.status_code, problem_type(refused)) == (403, "insufficient-scope")


async def test_people_see_their_own_managers_their_projects_admins_all(
    timetracking: TimetrackingApp,
) -> None:
    team = await make_team(timetracking)
    side = await timetracking.add_project(team.id, "Side project")
    side_item = await timetracking.add_item(team.id, side)
    await timetracking.grant(team.id, side, team.contributor.id, "contributor")
    mine = await log(timetracking, team.contributor, team.item_id)
    mine_elsewhere = await log(timetracking, team.contributor, side_item)
    managers = await log(timetracking, team.manager, team.item_id)
    admins = await log(timetracking, team.admin, side_item)

    assert set(await listed(timetracking, team.contributor)) == {mine["id"], mine_elsewhere["id"]}
    assert set(await listed(timetracking, team.manager)) == {mine["id"], managers["id"]}
    assert set(await listed(timetracking, team.admin)) == {
        mine["id"],
        mine_elsewhere["id"],
        managers["id"],
        admins["id"],
    }
    assert await listed(timetracking, team.viewer) == []
    assert (await timetracking.get(f"/entries/{mine['id']}", team.manager.token)).status_code == 200
    for who, entry in (
        (team.viewer, mine),
        (team.manager, mine_elsewhere),
        (team.contributor, managers),
    ):
        assert (await timetracking.get(f"/entries/{entry['id']}", who.token)).status_code == 404
        patched = await timetracking.patch(
            f"/entries/{entry['id']}", who.token, json={"note": "mine now"}
        )
        assert patched.status_code == 404
        assert (await timetracking.delete(f"/entries/{entry['id']}", who.token)).status_code == 404

    by_team_grant = await timetracking.add_user(team.id, teams=["team-lead"])
    team_id = new_id()
    await timetracking.grant(team.id, side, team_id, "manager", subject_type="team")
    lead = User(
        by_team_grant.id,
        timetracking.token(team.id, by_team_grant.id, teams=[team_id]),
        team.id,
    )
    assert set(await listed(timetracking, lead)) == {mine_elsewhere["id"], admins["id"]}


async def test_filters_and_cursor_pages(timetracking: TimetrackingApp) -> None:
    team = await make_team(timetracking)
    other_item = await timetracking.add_item(team.id, team.project_id, title="Other")
    days = [TODAY - timedelta(days=n) for n in range(5)]
    written = [
        await log(timetracking, team.contributor, item, worked_on=day.isoformat())
        for day in days
        for item in (team.item_id, other_item)
    ]
    await log(timetracking, team.manager, team.item_id)
    token = team.manager

    assert len(await listed(timetracking, token, f"?user_id={team.contributor.id}")) == 10
    assert len(await listed(timetracking, token, f"?item_id={other_item}")) == 5
    assert len(await listed(timetracking, token, f"?project_id={team.project_id}")) == 11
    window = f"?from={days[3].isoformat()}&to={days[1].isoformat()}&user_id={team.contributor.id}"
    ranged = await listed(timetracking, token, window)
    assert {
        e["id"] for e in written if days[3] <= date.fromisoformat(e["worked_on"]) <= days[1]
    } == set(ranged)
    assert await listed(timetracking, token, "?status=approved") == []
    assert len(await listed(timetracking, token, "?status=draft")) == 11

    seen: list[str] = []
    cursor: str | None = None
    while True:
        query = "?limit=4" + (f"&cursor={cursor}" if cursor else "")
        page = (await timetracking.get(f"/entries{query}", token.token)).json()
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 11
    worked = [
        (e["worked_on"], e["id"])
        for e in (await timetracking.get("/entries?limit=200", token.token)).json()["items"]
    ]
    assert worked == sorted(worked, reverse=True), "newest day first"
    bad = await timetracking.get("/entries?cursor=not-a-cursor", token.token)
    assert problem_type(bad) == "invalid-cursor"


# --- correcting ------------------------------------------------------------------------------


async def test_edits_and_deletions_keep_the_previous_state(timetracking: TimetrackingApp) -> None:
    team = await make_team(timetracking)
    other_item = await timetracking.add_item(team.id, team.project_id, title="Other")
    entry = await log(timetracking, team.contributor, team.item_id, minutes=30, note="first")
    edited = await timetracking.patch(
        f"/entries/{entry['id']}",
        team.contributor.token,
        json={"minutes": 45, "note": "second", "item_id": other_item},
    )
    assert edited.status_code == 200, edited.text
    assert (edited.json()["minutes"], edited.json()["item_id"]) == (45, other_item)
    by_manager = await timetracking.patch(
        f"/entries/{entry['id']}", team.manager.token, json={"billable": False}
    )
    assert by_manager.status_code == 200
    bad = await timetracking.patch(
        f"/entries/{entry['id']}", team.contributor.token, json={"minutes": 0}
    )
    assert errors(bad) == {("minutes", "not-positive")}
    assert (
        await timetracking.delete(f"/entries/{entry['id']}", team.contributor.token)
    ).status_code == 204

    assert (
        await timetracking.get(f"/entries/{entry['id']}", team.contributor.token)
    ).status_code == 404
    assert entry["id"] not in await listed(timetracking, team.admin)
    history = (
        await timetracking.get(f"/entries/{entry['id']}/revisions", team.manager.token)
    ).json()
    assert [(r["change"], r["changed_by"]) for r in history] == [
        ("update", team.contributor.id),
        ("update", team.manager.id),
        ("delete", team.contributor.id),
    ]
    first, second, last = (r["snapshot"] for r in history)
    assert (first["minutes"], first["note"], first["item_id"]) == (30, "first", team.item_id)
    assert (second["minutes"], second["note"], second["billable"]) == (45, "second", True)
    assert (last["billable"], last["item_id"]) == (False, other_item)


async def test_an_owner_who_lost_access_may_no_longer_change_entries(
    timetracking: TimetrackingApp,
) -> None:
    team = await make_team(timetracking)
    person = await timetracking.add_user(team.id)
    grant = await timetracking.grant(team.id, team.project_id, person.id, "contributor")
    written = await log(timetracking, person, team.item_id)
    await timetracking.emit(
        GrantChanged(
            grant_id=uuid.UUID(grant),
            workspace_id=uuid.UUID(team.id),
            project_id=uuid.UUID(team.project_id),
            subject_type="user",
            subject_id=uuid.UUID(person.id),
            role="viewer",
            previous_role="contributor",
        ),
        team.id,
        f"project/{team.project_id}",
    )

    async def downgraded() -> bool:
        response = await timetracking.patch(
            f"/entries/{written['id']}", person.token, json={"note": "late edit"}
        )
        return response.status_code == 403

    await eventually(downgraded, timeout=10)
    assert (await timetracking.get(f"/entries/{written['id']}", person.token)).status_code == 200


# --- approval --------------------------------------------------------------------------------


async def require_approval(app: TimetrackingApp, team: Team) -> None:
    response = await app.put(
        "/policy",
        team.admin.token,
        json={"approval_required": True, "timer_flag_after_minutes": 720},
    )
    assert response.status_code == 200, response.text


async def test_the_approval_flow(timetracking: TimetrackingApp) -> None:
    team = await make_team(timetracking)
    entry = await log(timetracking, team.contributor, team.item_id)
    path = f"/entries/{entry['id']}"
    not_required = await timetracking.post(f"{path}/submit", team.contributor.token)
    assert (not_required.status_code, problem_type(not_required)) == (409, "approval-not-required")
    await require_approval(timetracking, team)

    assert (await timetracking.post(f"{path}/submit", team.manager.token)).status_code == 403
    submitted = await timetracking.post(f"{path}/submit", team.contributor.token)
    assert submitted.json()["status"] == "submitted"
    assert (await timetracking.post(f"{path}/submit", team.contributor.token)).status_code == 409
    assert (
        await timetracking.post(f"{path}/approve", team.contributor.token)
    ).status_code == 403, "owners do not approve their own time unless they manage the project"
    no_reason = await timetracking.post(f"{path}/reject", team.manager.token, json={"note": " "})
    assert errors(no_reason) == {("note", "required")}
    rejected = await timetracking.post(
        f"{path}/reject", team.manager.token, json={"note": "Which banner?"}
    )
    assert rejected.status_code == 200
    assert (rejected.json()["status"], rejected.json()["decision_note"]) == (
        "rejected",
        "Which banner?",
    )
    assert rejected.json()["decided_by"] == team.manager.id
    assert (await timetracking.post(f"{path}/approve", team.manager.token)).status_code == 409

    fixed = await timetracking.patch(path, team.contributor.token, json={"note": "Spring banner"})
    assert fixed.status_code == 200
    await timetracking.post(f"{path}/submit", team.contributor.token)
    resubmitted = await timetracking.patch(path, team.contributor.token, json={"minutes": 40})
    assert resubmitted.json()["status"] == "draft", "changed after submission: submit again"
    await timetracking.post(f"{path}/submit", team.contributor.token)
    approved = await timetracking.post(f"{path}/approve", team.admin.token)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"

    for attempt in (
        timetracking.patch(path, team.contributor.token, json={"note": "sneaky"}),
        timetracking.patch(path, team.admin.token, json={"minutes": 10}),
        timetracking.delete(path, team.manager.token),
    ):
        locked = await attempt
        assert (locked.status_code, problem_type(locked)) == (409, "entry-locked")
    assert [e for e in await listed(timetracking, team.manager, "?status=approved")] == [
        entry["id"]
    ]
    changes = [
        r["change"]
        for r in (await timetracking.get(f"{path}/revisions", team.contributor.token)).json()
    ]
    assert changes == ["submit", "reject", "update", "submit", "update", "submit", "approve"]


async def test_only_admins_set_the_policy(timetracking: TimetrackingApp) -> None:
    team = await make_team(timetracking)
    defaults = (await timetracking.get("/policy", team.contributor.token)).json()
    assert defaults == {"approval_required": False, "timer_flag_after_minutes": 720}
    body = {"approval_required": True, "timer_flag_after_minutes": 600}
    assert (await timetracking.put("/policy", team.manager.token, json=body)).status_code == 403
    assert (await timetracking.put("/policy", team.admin.token, json=body)).json() == body
    other = await make_team(timetracking)
    assert (await timetracking.get("/policy", other.admin.token)).json() == defaults
    too_short = {"approval_required": True, "timer_flag_after_minutes": 0}
    assert (await timetracking.put("/policy", team.admin.token, json=too_short)).status_code == 422


# --- tenants ---------------------------------------------------------------------------------


async def test_workspaces_never_see_each_others_time(timetracking: TimetrackingApp) -> None:
    mine, theirs = await make_team(timetracking), await make_team(timetracking)
    entry = await log(timetracking, mine.contributor, mine.item_id)
    assert entry["id"] not in await listed(timetracking, theirs.admin)
    assert (await timetracking.get(f"/entries?item_id={mine.item_id}", theirs.admin.token)).json()[
        "items"
    ] == []
    for method in ("GET", "PATCH", "DELETE"):
        response = await timetracking.request(
            method,
            f"/entries/{entry['id']}",
            theirs.admin.token,
            **({"json": {"note": "x"}} if method == "PATCH" else {}),
        )
        assert response.status_code == 404, method
    approve = await timetracking.post(f"/entries/{entry['id']}/approve", theirs.admin.token)
    assert approve.status_code == 404
    foreign = await timetracking.post(
        "/entries",
        theirs.admin.token,
        json={"item_id": mine.item_id, "worked_on": TODAY.isoformat(), "minutes": 5},
    )
    assert errors(foreign) == {("item_id", "unknown-item")}
    # The same user id in another workspace's token is another principal altogether.
    impostor = timetracking.token(theirs.id, mine.contributor.id, role="admin")
    assert (await timetracking.get(f"/entries/{entry['id']}", impostor)).status_code == 404


# --- the function other code calls -----------------------------------------------------------


async def test_write_entry_validates_and_is_idempotent_by_import_key(
    timetracking: TimetrackingApp,
) -> None:
    team = await make_team(timetracking)
    runtime = timetracking.runtime
    fields: dict[str, Any] = {
        "workspace_id": team.id,
        "user_id": team.contributor.id,
        "item_id": team.item_id,
        "worked_on": TODAY,
        "minutes": 90,
        "source": "import",
        "import_key": "sheet-1:row-2",
    }
    for _ in range(2):
        async with runtime.unit_of_work() as uow:
            written = await write_entry(uow, **fields)
            await uow.commit()
    entries = await timetracking.entries_of(team.id, team.contributor.id)
    assert [(e.id, e.source, e.minutes) for e in entries] == [(written.id, "import", 90)]
    assert len(await timetracking.published("timetracking.time.logged.v1", team.id)) == 1

    async with runtime.unit_of_work() as uow:
        with pytest.raises(Problem) as refused:
            await write_entry(
                uow,
                **{**fields, "import_key": None, "item_id": new_id(), "minutes": -5},
            )
    assert {e["field"] for e in refused.value.extensions["errors"]} == {"item_id", "minutes"}
    assert entry_problems(worked_on=TODAY + timedelta(days=3), minutes=10)[0].kind == "future-date"
