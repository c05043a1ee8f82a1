"""CSV import of timesheets: a per-row report before anything is written, then exactly the
good rows (announced as TimeLogged), and nothing more when the same file comes again; over
HTTP and through `deskline timesheets import`."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from typer.testing import CliRunner

from contracts.tickets import ItemCreated
from kit.launcher.cli import app as deskline
from services.timetracking.models import ItemRef, TimeEntry
from tests.conftest import eventually
from tests.timetracking.conftest import (
    Team,
    TimetrackingApp,
    User,
    item_snapshot,
    make_team,
    new_id,
)

PREVIEW = "/imports/timesheets/preview"
IMPORT = "/imports/timesheets"


def email(user: User) -> str:
    """As the test harness announces people."""
    return f"{user.id[:8]}@example.test"


def mixed_csv(team: Team) -> str:
    """Two good rows, six bad ones and a repeat of the first (billable is not in the key)."""
    carl, vera = email(team.contributor), email(team.viewer)
    return "\n".join(
        [
            "date,item,person,hours,note,billable",
            f"2024-05-02,#1000,{carl},1.5,Design,yes",  # 2 ok
            f"2024-05-02,1000,{team.contributor.id},1:30,Review,no",  # 3 ok
            f"2024-13-02,#1000,{carl},1,bad date,",  # 4
            f"2024-05-03,#4242,{carl},1,unknown item,",  # 5
            "2024-05-03,#1000,nobody@example.test,1,unknown person,",  # 6
            f"2024-05-03,#1000,{carl},-1,negative,",  # 7
            f"2024-05-03,#1000,{carl},25,too long,",  # 8
            f"2024-05-02,#1000,{carl.upper()},1.5,Design,true",  # 9 duplicate of line 2
            f"2024-05-04,#1000,{vera},1,viewer,",  # 10 viewers do not log time
            "",
        ]
    )


BAD = {
    4: ("date", "bad-date"),
    5: ("item", "unknown-item"),
    6: ("person", "unknown-person"),
    7: ("hours", "not-positive"),
    8: ("hours", "too-long"),
    10: ("item", "not-allowed"),
}


def by_line(report: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {row["line"]: row for row in report["rows"]}


async def send(
    app: TimetrackingApp,
    path: str,
    user: User,
    text: str | bytes,
    *,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    content = text.encode() if isinstance(text, str) else text
    return await app.post(
        path, user.token, content=content, params=params, headers={"content-type": "text/csv"}
    )


async def imported(app: TimetrackingApp, team: Team) -> list[TimeEntry]:
    async with app.runtime.session_factory() as session:
        rows = await session.scalars(
            select(TimeEntry)
            .where(TimeEntry.workspace_id == team.id, TimeEntry.source == "import")
            .order_by(TimeEntry.worked_on, TimeEntry.id)
        )
        return list(rows)


async def logged(app: TimetrackingApp, team: Team) -> list[dict[str, Any]]:
    return await app.published("timetracking.time.logged.v1", team.id)


async def test_preview_reports_every_bad_row_and_writes_nothing(
    timetracking: TimetrackingApp,
) -> None:
    team = await make_team(timetracking)
    response = await send(timetracking, PREVIEW, team.admin, mixed_csv(team))
    assert response.status_code == 200, response.text
    report = response.json()
    rows = by_line(report)
    assert report["counts"] == {"rows": 9, "ok": 2, "duplicates": 1, "errors": 6}
    for line in (2, 3):
        assert rows[line]["status"] == "ok", rows[line]
        assert rows[line]["entry"]["item_id"] == team.item_id
        assert rows[line]["entry"]["user_id"] == team.contributor.id
        assert rows[line]["entry"]["minutes"] == 90
    assert rows[3]["entry"]["billable"] is False
    for line, (field, kind) in BAD.items():
        assert rows[line]["status"] == "error", rows[line]
        assert [(p["field"], p["kind"]) for p in rows[line]["problems"]] == [(field, kind)]
    assert rows[5]["problems"][0]["message"] == "unknown item #4242"
    assert rows[9]["status"] == "duplicate"
    assert rows[9]["problems"][0]["message"] == "same as line 2"
    assert await imported(timetracking, team) == []


async def test_errors_refuse_the_import_until_valid_rows_are_accepted_and_twice_adds_nothing(
    timetracking: TimetrackingApp,
) -> None:
    team = await make_team(timetracking)
    text = mixed_csv(team)

    refused = await send(timetracking, IMPORT, team.admin, text)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"].endswith("/import-has-errors")
    assert refused.json()["report"]["counts"]["errors"] == 6
    assert await imported(timetracking, team) == []

    accepted = await send(timetracking, IMPORT, team.admin, text, params={"accept": "valid-only"})
    assert accepted.status_code == 200, accepted.text
    result = accepted.json()
    assert (result["written"], result["duplicates"], result["errors"]) == (2, 1, 6)
    entries = await imported(timetracking, team)
    assert sorted((e.note, e.minutes, e.billable) for e in entries) == [
        ("Design", 90, True),
        ("Review", 90, False),
    ]
    assert {e.user_id for e in entries} == {team.contributor.id}
    assert all(e.import_key and len(e.import_key) == 64 for e in entries)

    async def announced() -> bool:
        return len(await logged(timetracking, team)) == 2

    await eventually(announced, timeout=10)
    events = await logged(timetracking, team)
    assert {e["entry_id"] for e in events} == {e.id for e in entries}

    again = await send(timetracking, IMPORT, team.admin, text, params={"accept": "valid-only"})
    assert again.status_code == 200, again.text
    assert (again.json()["written"], again.json()["duplicates"]) == (0, 3)
    statuses = {r["line"]: r["status"] for r in again.json()["report"]["rows"]}
    assert statuses[2] == statuses[3] == statuses[9] == "duplicate"
    assert len(await imported(timetracking, team)) == 2
    assert len(await logged(timetracking, team)) == 2


async def test_mapping_semicolons_and_a_byte_order_mark(timetracking: TimetrackingApp) -> None:
    team = await make_team(timetracking)
    carl = email(team.contributor)
    text = f"Day;Ticket;Who;Time;Comment\n06.05.2024;#1000;{carl};1,25;Call\n"
    data = b"\xef\xbb\xbf" + text.encode()
    mapping = {"date": "Day", "item": "Ticket", "person": "Who", "hours": "Time", "note": "Comment"}

    preview = await timetracking.post(
        PREVIEW,
        team.admin.token,
        files={"file": ("sheet.csv", data, "text/csv")},
        data={"mapping": json.dumps(mapping)},
    )
    assert preview.status_code == 200, preview.text
    (row,) = preview.json()["rows"]
    assert row["status"] == "ok", row
    assert (row["entry"]["worked_on"], row["entry"]["minutes"]) == ("2024-05-06", 75)

    unmapped = await send(timetracking, PREVIEW, team.admin, data)
    assert unmapped.status_code == 422
    assert unmapped.json()["type"].endswith("/missing-columns")

    done = await send(
        timetracking, IMPORT, team.admin, data, params={"mapping": json.dumps(mapping)}
    )
    assert done.status_code == 200, done.text
    assert done.json()["written"] == 1
    (entry,) = await imported(timetracking, team)
    assert (entry.note, entry.minutes, entry.user_id) == ("Call", 75, team.contributor.id)


async def test_a_member_imports_only_their_own_time(timetracking: TimetrackingApp) -> None:
    team = await make_team(timetracking)
    text = "\n".join(
        [
            "date,item,person,minutes",
            f"2024-05-07,#1000,{email(team.contributor)},30",
            f"2024-05-07,#1000,{email(team.manager)},45",
        ]
    )
    response = await send(
        timetracking, IMPORT, team.contributor, text, params={"accept": "valid-only"}
    )
    assert response.status_code == 200, response.text
    rows = by_line(response.json()["report"])
    assert rows[2]["status"] == "ok"
    assert rows[3]["status"] == "error"
    assert rows[3]["problems"][0]["kind"] == "not-allowed"
    assert rows[3]["problems"][0]["message"].startswith("not allowed")
    (entry,) = await imported(timetracking, team)
    assert (entry.user_id, entry.minutes) == (team.contributor.id, 30)


async def test_items_by_number_or_id(timetracking: TimetrackingApp) -> None:
    team = await make_team(timetracking)
    other = new_id()
    snapshot = item_snapshot(other, team.project_id, number=1042, title="Footer")
    await timetracking.emit(ItemCreated(item=snapshot), team.id, f"item/{other}")

    async def known() -> bool:
        return await timetracking.row(ItemRef, other) is not None

    await eventually(known, timeout=10)
    carl = email(team.contributor)
    text = (
        f"date,item,person,hours\n2024-05-08,#1042,{carl},1\n2024-05-08,{team.item_id},{carl},2\n"
    )
    response = await send(timetracking, PREVIEW, team.admin, text)
    assert response.status_code == 200, response.text
    assert [r["entry"]["item_id"] for r in response.json()["rows"]] == [other, team.item_id]


# --- the CLI ----------------------------------------------------------------------------------


def run_cli(args: list[str], env: dict[str, str]) -> Any:
    return CliRunner().invoke(deskline, ["timesheets", "import", *args], env=env)


async def test_the_cli_reports_refuses_accepts_and_adds_nothing_twice(
    timetracking: TimetrackingApp, tmp_path: Path
) -> None:
    team = await make_team(timetracking)
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(mixed_csv(team), encoding="utf-8")
    env = {
        "DESKLINE_TIMETRACKING_DATABASE_URL": timetracking.runtime.engine.url.render_as_string(
            hide_password=False
        ),
        "DESKLINE_VAR_DIR": str(tmp_path / "var"),
    }
    args = [str(sheet), "--workspace", team.id]

    refused = await asyncio.to_thread(run_cli, args, env)
    assert refused.exit_code == 1, refused.output
    assert "line 4: bad date '2024-13-02'" in refused.stdout
    assert "line 5: unknown item #4242" in refused.stdout
    assert "line 6: unknown person 'nobody@example.test'" in refused.stdout
    assert "line 9: duplicate, skipped: same as line 2" in refused.stdout
    assert "nothing written" in refused.stdout
    assert await imported(timetracking, team) == []

    dry = await asyncio.to_thread(run_cli, [*args, "--dry-run", "--accept-valid-only"], env)
    assert dry.exit_code == 0, dry.output
    assert await imported(timetracking, team) == []

    accepted = await asyncio.to_thread(run_cli, [*args, "--accept-valid-only"], env)
    assert accepted.exit_code == 0, accepted.output
    assert "written: 2, duplicates: 1, errors: 6" in accepted.stdout
    assert len(await imported(timetracking, team)) == 2

    again = await asyncio.to_thread(run_cli, [*args, "--accept-valid-only"], env)
    assert again.exit_code == 0, again.output
    assert "written: 0, duplicates: 3, errors: 6" in again.stdout
    assert len(await imported(timetracking, team)) == 2

    async def announced() -> bool:
        return len(await logged(timetracking, team)) == 2

    await eventually(announced, timeout=10)


async def test_the_cli_refuses_bad_arguments(timetracking: TimetrackingApp, tmp_path: Path) -> None:
    env = {
        "DESKLINE_TIMETRACKING_DATABASE_URL": timetracking.runtime.engine.url.render_as_string(
            hide_password=False
        ),
        "DESKLINE_VAR_DIR": str(tmp_path / "var"),
    }
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("day,hours\n2024-05-02,1\n", encoding="utf-8")
    workspace = str(uuid.uuid4())
    cases = [
        [str(tmp_path / "missing.csv"), "--workspace", workspace],
        [str(sheet), "--workspace", "not-an-id"],
        [str(sheet), "--workspace", workspace, "--mapping", "{nope"],
        [str(sheet), "--workspace", workspace, "--mapping", '{"colour": "x"}'],
        [str(sheet), "--workspace", workspace],  # no date or item column
    ]
    for args in cases:
        result = await asyncio.to_thread(run_cli, args, env)
        assert result.exit_code == 2, (args, result.output)
        assert "error:" in result.stderr
