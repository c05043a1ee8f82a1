"""Time and capacity reports on a small hand-built agency, with every expected figure worked
out by hand (in the comments), on real PostgreSQL — and the period keys once on SQLite.

March 2026 starts on a Sunday: its weeks start on the 2nd, 9th, 16th, 23rd and 30th, and it
has 22 working days (Monday to Friday).

The agency: clients Acme (projects Acme 1 and Acme 2, a 20 h retainer) and Globex (one
project, a 10 h retainer from March), an internal project, and Umbrella (a retainer ended
in March) and Initech (one starting in April). Bob and Carol are staff, Vic a collaborator,
Clio a client; Dave has availability but has left.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, fields
from datetime import date
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from kit.auth import Principal
from kit.db.engine import create_engine
from kit.db.migrations import upgrade
from kit.uow import UnitOfWork
from services.timetracking.models import (
    Availability,
    DayOff,
    ItemRef,
    OrganisationRef,
    PersonRef,
    ProjectRef,
    Retainer,
    TimeEntry,
)
from services.timetracking.reports import service
from services.timetracking.reports.calendar import Contract, Schedule, buckets, spread
from tests.timetracking.reporting_harness import MIGRATIONS, Harness, entry, mint, new_id, running


@dataclass(frozen=True)
class Agency:
    ws: str
    acme: str
    globex: str
    umbrella: str
    initech: str
    acme1: str
    acme2: str
    globex1: str
    internal: str
    old: str
    ticket_type: str
    task_type: str
    admin: str
    bob: str
    carol: str
    vic: str
    clio: str
    dave: str
    items: dict[str, str]


def new_agency() -> Agency:
    ids = {f.name: new_id() for f in fields(Agency) if f.name != "items"}
    return Agency(
        **ids, items={key: new_id() for key in ("I1", "I2", "I3", "I4", "I5", "I6", "I7")}
    )


def agency_rows(a: Agency) -> list[Any]:
    """The projections, availability, retainers and time of one agency."""
    ws, i = a.ws, a.items

    def item(
        key: str, project: str, type_id: str, kind: str, status: str, estimate: int | None
    ) -> ItemRef:
        return ItemRef(
            id=i[key],
            workspace_id=ws,
            number=int(key[1:]),
            title=f"Item {key}",
            project_id=project,
            type_id=type_id,
            kind=kind,
            status_category=status,
            estimate_minutes=estimate,
            deleted=key == "I5",
        )

    def work(
        user: str, key: str, project: str, org: str | None, day: date, minutes: int, **kw: Any
    ) -> TimeEntry:
        return entry(
            ws,
            user_id=user,
            item_id=i[key],
            project_id=project,
            organisation_id=org,
            worked_on=day,
            minutes=minutes,
            **kw,
        )

    def contract(user: str, weekly: int, days: list[int], start: date) -> Availability:
        return Availability(
            id=new_id(),
            workspace_id=ws,
            user_id=user,
            weekly_minutes=weekly,
            working_days=days,
            effective_from=start,
        )

    def retainer(org: str, minutes: int, start: date) -> Retainer:
        return Retainer(
            id=new_id(),
            workspace_id=ws,
            organisation_id=org,
            minutes_per_month=minutes,
            effective_from=start,
        )

    return [
        OrganisationRef(id=a.acme, workspace_id=ws, name="Acme"),
        OrganisationRef(id=a.globex, workspace_id=ws, name="Globex"),
        OrganisationRef(id=a.umbrella, workspace_id=ws, name="Umbrella"),
        OrganisationRef(id=a.initech, workspace_id=ws, name="Initech"),
        ProjectRef(id=a.acme1, workspace_id=ws, name="Acme 1", client_organisation_id=a.acme),
        ProjectRef(id=a.acme2, workspace_id=ws, name="Acme 2", client_organisation_id=a.acme),
        ProjectRef(id=a.globex1, workspace_id=ws, name="Globex 1", client_organisation_id=a.globex),
        ProjectRef(id=a.internal, workspace_id=ws, name="Internal"),
        ProjectRef(id=a.old, workspace_id=ws, name="Old", archived=True),
        PersonRef(id=a.bob, workspace_id=ws, display_name="Bob"),
        PersonRef(id=a.carol, workspace_id=ws, display_name="Carol"),
        PersonRef(id=a.vic, workspace_id=ws, display_name="Vic", kind="collaborator"),
        PersonRef(id=a.clio, workspace_id=ws, display_name="Clio", kind="client"),
        PersonRef(id=a.dave, workspace_id=ws, display_name="Dave", active=False),
        item("I1", a.acme1, a.ticket_type, "ticket", "open", 600),
        item("I2", a.acme2, a.task_type, "task", "in_progress", 300),
        item("I3", a.globex1, a.task_type, "task", "done", 100),
        item("I4", a.internal, a.ticket_type, "ticket", "new", None),
        item("I5", a.globex1, a.task_type, "task", "open", 120),  # deleted
        item("I6", a.old, a.task_type, "task", "open", 1000),  # archived project
        item("I7", a.globex1, a.task_type, "task", "waiting", 50),
        # March
        work(a.bob, "I1", a.acme1, a.acme, date(2026, 3, 2), 120),
        work(a.bob, "I2", a.acme2, a.acme, date(2026, 3, 3), 60),
        work(a.carol, "I1", a.acme1, a.acme, date(2026, 3, 9), 90, status="approved"),
        work(a.carol, "I3", a.globex1, a.globex, date(2026, 3, 10), 30, billable=False),
        work(a.vic, "I2", a.acme2, a.acme, date(2026, 3, 4), 45, status="submitted"),
        work(a.bob, "I4", a.internal, None, date(2026, 3, 5), 30, billable=False),
        work(a.carol, "I1", a.acme1, a.acme, date(2026, 3, 11), 500, status="rejected"),
        work(a.bob, "I1", a.acme1, a.acme, date(2026, 3, 12), 999, deleted=True),
        # February: outside March's reports, but it counts against I1's and I7's estimates.
        work(a.bob, "I1", a.acme1, a.acme, date(2026, 2, 27), 60),
        work(a.carol, "I7", a.globex1, a.globex, date(2026, 2, 20), 80),
        contract(a.bob, 2400, [0, 1, 2, 3, 4], date(2026, 1, 1)),
        contract(a.carol, 1440, [0, 1, 2], date(2026, 1, 1)),
        contract(a.carol, 1200, [0, 1, 2, 3], date(2026, 3, 9)),
        contract(a.dave, 2400, [0, 1, 2, 3, 4], date(2026, 1, 1)),
        DayOff(id=new_id(), workspace_id=ws, user_id=a.bob, day=date(2026, 3, 6)),
        DayOff(id=new_id(), workspace_id=ws, user_id=a.carol, day=date(2026, 3, 11)),
        DayOff(id=new_id(), workspace_id=ws, user_id=a.carol, day=date(2026, 3, 17)),
        retainer(a.acme, 1200, date(2026, 1, 1)),
        retainer(a.globex, 600, date(2026, 3, 1)),
        retainer(a.umbrella, 600, date(2026, 1, 1)),
        retainer(a.umbrella, 0, date(2026, 3, 1)),
        retainer(a.initech, 300, date(2026, 4, 1)),
    ]


@pytest.fixture(scope="module")
async def tt(pg_server_url: str, session_tag: str) -> AsyncIterator[Harness]:
    async with running(pg_server_url, f"dltest_{session_tag}_ttreports") as harness:
        yield harness


@pytest.fixture(scope="module")
async def agency(tt: Harness) -> Agency:
    a = new_agency()
    await tt.insert(*agency_rows(a))
    # Bob may view Acme 1 only; Carol is a member without any grant.
    await tt.grant(a.ws, a.acme1, a.bob, "viewer")
    # A second agency reuses the first one's client, project and people ids with lots of
    # time: none of it may show in the first one's reports.
    twin = Agency(**{**a.__dict__, "ws": new_id()})
    await tt.insert(
        *[
            entry(
                twin.ws,
                user_id=a.bob,
                item_id=a.items["I1"],
                project_id=a.acme1,
                organisation_id=a.acme,
                worked_on=date(2026, 3, 2),
                minutes=1000,
            ),
            Availability(
                id=new_id(),
                workspace_id=twin.ws,
                user_id=a.bob,
                weekly_minutes=5000,
                working_days=[0, 1, 2, 3, 4],
                effective_from=date(2026, 1, 1),
            ),
            Retainer(
                id=new_id(),
                workspace_id=twin.ws,
                organisation_id=a.acme,
                minutes_per_month=9999,
                effective_from=date(2026, 1, 1),
            ),
            ItemRef(
                id=new_id(),
                workspace_id=twin.ws,
                number=1,
                title="Twin's work",
                project_id=a.acme1,
                type_id=a.task_type,
                kind="task",
                status_category="open",
                estimate_minutes=100_000,
            ),
        ]
    )
    await tt.grant(twin.ws, a.globex1, a.bob, "manager")
    return a


def admin_of(a: Agency) -> str:
    return mint(a.ws, a.admin, role="admin")


MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


def table(rows: list[dict[str, Any]], *fields: str) -> list[tuple[Any, ...]]:
    return [tuple(row[f] for f in fields) for row in rows]


# --- hours -----------------------------------------------------------------------------


async def test_hours_per_client_per_week(tt: Harness, agency: Agency) -> None:
    a = agency
    response = await tt.get(
        "/reports/hours", admin_of(a), params=MARCH | {"group_by": "client", "period": "week"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    # Week of 2 Mar: Acme 120 + 60 + 45 (Vic's, submitted) = 225, internal 30 (no client).
    # Week of 9 Mar: Acme 90 (Carol's rejected 500 and Bob's deleted 999 do not count),
    # Globex 30 non-billable. February's hour is outside the range.
    assert table(
        body["rows"], "period_start", "key", "label", "minutes", "billable_minutes", "hours"
    ) == [
        ("2026-03-02", None, "", 30, 0, "0.50"),
        ("2026-03-02", a.acme, "Acme", 225, 225, "3.75"),
        ("2026-03-09", a.acme, "Acme", 90, 90, "1.50"),
        ("2026-03-09", a.globex, "Globex", 30, 0, "0.50"),
    ]
    assert (body["total_minutes"], body["total_hours"], body["audience"]) == (
        375,
        "6.25",
        "workspace",
    )
    assert (body["from"], body["to"], body["group_by"], body["period"]) == (
        "2026-03-01",
        "2026-03-31",
        "client",
        "week",
    )


async def test_hours_per_client_per_week_as_csv(tt: Harness, agency: Agency) -> None:
    a = agency
    for how in (
        {"params": MARCH | {"format": "csv"}},
        {"params": MARCH, "headers": {"Accept": "text/csv"}},
    ):
        response = await tt.get("/reports/hours", admin_of(a), **how)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert response.text == (
            "period_start,key,label,minutes,billable_minutes,hours,billable_hours\r\n"
            "2026-03-02,,,30,0,0.50,0.00\r\n"
            f"2026-03-02,{a.acme},Acme,225,225,3.75,3.75\r\n"
            f"2026-03-09,{a.acme},Acme,90,90,1.50,1.50\r\n"
            f"2026-03-09,{a.globex},Globex,30,0,0.50,0.00\r\n"
        )


async def test_hours_per_project_person_and_item_type_per_month(
    tt: Harness, agency: Agency
) -> None:
    a = agency

    async def rows(group_by: str) -> list[tuple[Any, ...]]:
        response = await tt.get(
            "/reports/hours", admin_of(a), params=MARCH | {"group_by": group_by, "period": "month"}
        )
        assert response.status_code == 200, response.text
        return table(response.json()["rows"], "period_start", "key", "label", "minutes")

    assert await rows("project") == [
        ("2026-03-01", a.acme1, "Acme 1", 210),  # Bob 120 + Carol 90
        ("2026-03-01", a.acme2, "Acme 2", 105),  # Bob 60 + Vic 45
        ("2026-03-01", a.globex1, "Globex 1", 30),
        ("2026-03-01", a.internal, "Internal", 30),
    ]
    assert await rows("person") == [
        ("2026-03-01", a.bob, "Bob", 210),  # 120 + 60 + 30
        ("2026-03-01", a.carol, "Carol", 120),  # 90 + 30
        ("2026-03-01", a.vic, "Vic", 45),
    ]
    assert await rows("item_type") == [
        ("2026-03-01", a.task_type, "task", 135),  # I2 105 + I3 30
        ("2026-03-01", a.ticket_type, "ticket", 240),  # I1 210 + I4 30
    ]


async def test_a_range_starting_midweek_sums_only_its_days(tt: Harness, agency: Agency) -> None:
    response = await tt.get(
        "/reports/hours",
        admin_of(agency),
        params={"from": "2026-03-04", "to": "2026-03-09", "group_by": "person"},
    )
    # Week of 2 Mar from the 4th: Vic 45, Bob 30 (internal); week of 9 Mar: Carol 90.
    assert table(response.json()["rows"], "period_start", "label", "minutes") == [
        ("2026-03-02", "Bob", 30),
        ("2026-03-02", "Vic", 45),
        ("2026-03-09", "Carol", 90),
    ]


async def test_members_see_their_projects_and_always_themselves(
    tt: Harness, agency: Agency
) -> None:
    a = agency
    response = await tt.get(
        "/reports/hours",
        mint(a.ws, a.bob),
        params=MARCH | {"group_by": "project", "period": "month"},
    )
    body = response.json()
    # Acme 1 (granted): Bob's 120 and Carol's 90; elsewhere only his own: Acme 2 60 (not
    # Vic's 45), Internal 30. Nothing of Globex 1. His grant in the twin agency counts not.
    assert table(body["rows"], "key", "minutes") == [
        (a.acme1, 210),
        (a.acme2, 60),
        (a.internal, 30),
    ]
    assert body["audience"] == "visible_projects"
    # Carol has no grant at all: her own time only.
    carol = await tt.get(
        "/reports/hours",
        mint(a.ws, a.carol),
        params=MARCH | {"group_by": "project", "period": "month"},
    )
    assert table(carol.json()["rows"], "key", "minutes") == [(a.acme1, 90), (a.globex1, 30)]


async def test_collaborators_see_only_their_own_hours(tt: Harness, agency: Agency) -> None:
    a = agency
    vic = mint(a.ws, a.vic, kind="collaborator", role="admin")
    refused = await tt.get("/reports/hours", vic, params=MARCH)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert (
        await tt.get("/reports/hours", vic, params=MARCH | {"user_id": a.bob})
    ).status_code == 403
    own = await tt.get(
        "/reports/hours", vic, params=MARCH | {"user_id": a.vic, "group_by": "project"}
    )
    assert own.status_code == 200, own.text
    assert table(own.json()["rows"], "key", "minutes") == [(a.acme2, 45)]
    assert own.json()["audience"] == "self"


async def test_clients_see_no_report(tt: Harness, agency: Agency) -> None:
    a = agency
    clio = mint(a.ws, a.clio, kind="client", org=a.acme)
    for path, params in (
        ("/reports/hours", MARCH | {"user_id": a.clio}),
        ("/reports/utilisation", MARCH),
        ("/reports/clients", {"month": "2026-03"}),
        ("/reports/capacity", {}),
    ):
        response = await tt.get(path, clio, params=params)
        assert response.status_code == 403, path
        assert response.json()["type"] == "https://deskline.dev/problems/forbidden"


async def test_collaborators_and_members_limits_on_workspace_reports(
    tt: Harness, agency: Agency
) -> None:
    a = agency
    vic = mint(a.ws, a.vic, kind="collaborator")
    assert (await tt.get("/reports/clients", vic)).status_code == 403
    assert (await tt.get("/reports/capacity", vic)).status_code == 403
    bob = mint(a.ws, a.bob)
    assert (
        await tt.get("/reports/utilisation", bob, params=MARCH | {"user_id": a.carol})
    ).status_code == 403


async def test_reports_validate_their_range(tt: Harness, agency: Agency) -> None:
    token = admin_of(agency)
    backwards = await tt.get(
        "/reports/hours", token, params={"from": "2026-03-02", "to": "2026-03-01"}
    )
    assert backwards.status_code == 400
    unknown = await tt.get("/reports/hours", token, params=MARCH | {"group_by": "colour"})
    assert unknown.status_code == 422
    month = await tt.get("/reports/clients", token, params={"month": "2026-13"})
    assert month.status_code == 400


# --- utilisation -----------------------------------------------------------------------


async def test_utilisation_per_person_per_week(tt: Harness, agency: Agency) -> None:
    a = agency
    response = await tt.get(
        "/reports/utilisation",
        admin_of(a),
        params={"from": "2026-03-02", "to": "2026-03-15", "period": "week"},
    )
    assert response.status_code == 200, response.text
    fields = (
        "name",
        "period_start",
        "available_minutes",
        "logged_minutes",
        "billable_minutes",
        "utilisation_percent",
        "billable_percent",
    )
    assert table(response.json()["rows"], *fields) == [
        # Bob: 2400 over 5 days, 480 a day, off Friday 6th: 1920. Logged 120 + 60 + 30 = 210
        # (10.9 %), billable 180 (9.4 %). Next week 2400 available and nothing logged.
        ("Bob", "2026-03-02", 1920, 210, 180, "10.9", "9.4"),
        ("Bob", "2026-03-09", 2400, 0, 0, "0.0", "0.0"),
        # Carol: 1440 on Mon-Wed; from the 9th 1200 on Mon-Thu (300 a day), off Wed 11th: 900.
        # Logged 90 + 30 = 120 (13.3 %), billable 90 (10.0 %); the rejected 500 not.
        ("Carol", "2026-03-02", 1440, 0, 0, "0.0", "0.0"),
        ("Carol", "2026-03-09", 900, 120, 90, "13.3", "10.0"),
        # Dave has left: his availability still on record is not shown.
        # Vic has no availability: logged time without a percentage.
        ("Vic", "2026-03-02", 0, 45, 45, None, None),
    ]


async def test_utilisation_clips_periods_to_the_range_and_members_see_themselves(
    tt: Harness, agency: Agency
) -> None:
    a = agency
    response = await tt.get(
        "/reports/utilisation",
        mint(a.ws, a.bob),
        params={"from": "2026-03-04", "to": "2026-03-31", "period": "month"},
    )
    body = response.json()
    # 4 to 31 March: 20 working days, less the 6th: 19 x 480 = 9120; logged from the 4th: 30.
    assert table(body["rows"], "name", "period_start", "available_minutes", "logged_minutes") == [
        ("Bob", "2026-03-01", 9120, 30)
    ]
    assert body["audience"] == "self"
    csv_text = (
        await tt.get(
            "/reports/utilisation",
            mint(a.ws, a.bob),
            params={"from": "2026-03-04", "to": "2026-03-31", "period": "month", "format": "csv"},
        )
    ).text
    assert list(csv.DictReader(io.StringIO(csv_text))) == [
        {
            "user_id": a.bob,
            "name": "Bob",
            "period_start": "2026-03-01",
            "available_minutes": "9120",
            "logged_minutes": "30",
            "billable_minutes": "0",
            "available_hours": "152.00",
            "logged_hours": "0.50",
            "utilisation_percent": "0.3",
            "billable_percent": "0.0",
        }
    ]


# --- clients: used vs sold -------------------------------------------------------------


async def test_clients_used_against_sold_with_projection(tt: Harness, agency: Agency) -> None:
    a = agency
    response = await tt.get(
        "/reports/clients", admin_of(a), params={"month": "2026-03", "as_of": "2026-03-11"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    # Up to Wednesday 11th, 8 of March's 22 working days have passed.
    assert (body["month"], body["working_days"], body["elapsed_working_days"]) == (
        "2026-03-01",
        22,
        8,
    )
    fields = (
        "organisation_name",
        "sold_minutes",
        "used_minutes",
        "nonbillable_minutes",
        "remaining_minutes",
        "projected_minutes",
        "projected_hours",
        "projected_percent",
    )
    # Acme: billable 120 + 60 + 90 + 45 = 315 of 1200; 315 x 22 / 8 = 866.25 → 866, 72.2 %.
    # Globex: nothing billable, 30 non-billable, 600 sold. Umbrella's retainer ended and
    # Initech's starts in April: neither shows.
    assert table(body["rows"], *fields) == [
        ("Acme", 1200, 315, 0, 885, 866, "14.43", "72.2"),
        ("Globex", 600, 0, 30, 600, 0, "0.00", "0.0"),
    ]


async def test_clients_projection_before_and_after_the_month(tt: Harness, agency: Agency) -> None:
    a = agency
    for as_of, elapsed in (("2026-02-27", 0), ("2026-04-02", 22)):
        response = await tt.get(
            "/reports/clients", admin_of(a), params={"month": "2026-03", "as_of": as_of}
        )
        body = response.json()
        assert body["elapsed_working_days"] == elapsed
        assert table(body["rows"], "organisation_name", "projected_minutes")[0] == ("Acme", 315)


async def test_clients_for_a_member_and_as_csv(tt: Harness, agency: Agency) -> None:
    a = agency
    response = await tt.get(
        "/reports/clients",
        mint(a.ws, a.bob),
        params={"month": "2026-03", "as_of": "2026-03-11"},
        headers={"Accept": "text/csv;q=0.9, application/json;q=0.5"},
    )
    assert response.status_code == 200, response.text
    # Bob sees Acme 1 (120 + 90) and his own Acme 2 hour: 270; 270 x 22 / 8 = 742.5 → 743.
    # Globex is none of his business.
    assert list(csv.DictReader(io.StringIO(response.text))) == [
        {
            "organisation_id": a.acme,
            "organisation_name": "Acme",
            "sold_minutes": "1200",
            "used_minutes": "270",
            "nonbillable_minutes": "0",
            "remaining_minutes": "930",
            "projected_minutes": "743",
            "sold_hours": "20.00",
            "used_hours": "4.50",
            "projected_hours": "12.38",
            "projected_percent": "61.9",
        }
    ]


# --- free capacity ---------------------------------------------------------------------


async def test_free_capacity_for_the_coming_weeks(tt: Harness, agency: Agency) -> None:
    a = agency
    response = await tt.get(
        "/reports/capacity",
        admin_of(a),
        params={"from": "2026-03-11", "weeks": 2, "needed_hours_per_week": "50"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    # From Wednesday 11th the coming weeks start Monday 16th. Supply: Bob 2400 each week;
    # Carol 1200 a week over Mon-Thu, off Tue 17th: 900, then 1200. Dave has left.
    # Demand: I1 600 - (120 + 90 + 60 in February) = 330; I2 300 - (60 + 45) = 195;
    # I7 50 - 80 → 0; I4 has no estimate; I3 is done, I5 deleted, I6 archived. 525 over two
    # weeks: 263 + 262.
    assert table(
        body["rows"], "week_start", "available_minutes", "demand_minutes", "free_minutes"
    ) == [
        ("2026-03-16", 3300, 263, 3037),
        ("2026-03-23", 3600, 262, 3338),
    ]
    assert {
        k: body[k]
        for k in (
            "first_week",
            "people",
            "open_items",
            "unestimated_items",
            "remaining_estimate_minutes",
            "free_minutes",
            "free_hours_per_week",
            "fits",
            "audience",
        )
    } == {
        "first_week": "2026-03-16",
        "people": 2,
        "open_items": 4,
        "unestimated_items": 1,
        "remaining_estimate_minutes": 525,
        "free_minutes": 6375,
        "free_hours_per_week": "53.13",  # 6375 / 2 / 60 = 53.125
        "fits": True,  # 3037 >= 3000 and 3338 >= 3000
        "audience": "workspace",
    }
    tighter = await tt.get(
        "/reports/capacity",
        admin_of(a),
        params={"from": "2026-03-11", "weeks": 2, "needed_hours_per_week": "51"},
    )
    assert tighter.json()["fits"] is False  # 3037 < 3060


async def test_free_capacity_for_a_member_and_as_csv(tt: Harness, agency: Agency) -> None:
    a = agency
    response = await tt.get(
        "/reports/capacity",
        mint(a.ws, a.bob),
        params={"from": "2026-03-16", "weeks": 2, "format": "csv"},
    )
    assert response.status_code == 200, response.text
    # Bob sees the demand of Acme 1 only: I1's 330, 165 a week.
    assert response.text == (
        "week_start,available_minutes,demand_minutes,free_minutes,"
        "available_hours,demand_hours,free_hours\r\n"
        "2026-03-16,3300,165,3135,55.00,2.75,52.25\r\n"
        "2026-03-23,3600,165,3435,60.00,2.75,57.25\r\n"
    )


# --- the service functions directly, and the pure calendar -----------------------------


async def test_service_functions_answer_without_http(tt: Harness, agency: Agency) -> None:
    principal = Principal(
        subject=agency.admin, workspace_id=agency.ws, kind="staff", workspace_role="admin"
    )
    async with tt.unit_of_work() as uow:
        report = await service.hours(
            uow,
            principal,
            group_by="client",
            period="week",
            start=date(2026, 3, 1),
            end=date(2026, 3, 31),
        )
    assert report.total_minutes == 375


def test_schedule_keeps_fractions_until_the_end() -> None:
    """37.5 h over four days is 562.5 min a day; three such days are 1687.5 → 1688."""
    schedule = Schedule([Contract(date(2026, 1, 1), 2250, (0, 1, 2, 3))], [date(2026, 3, 5)])
    assert schedule.minutes_on(date(2026, 3, 2)) == Fraction(1125, 2)
    assert schedule.minutes_between(date(2026, 3, 2), date(2026, 3, 8)) == Fraction(3375, 2)
    assert schedule.minutes_on(date(2025, 12, 31)) == 0


def test_buckets_and_spread() -> None:
    assert [
        (b.start, b.first, b.last) for b in buckets(date(2026, 1, 30), date(2026, 3, 2), "month")
    ] == [
        (date(2026, 1, 1), date(2026, 1, 30), date(2026, 1, 31)),
        (date(2026, 2, 1), date(2026, 2, 1), date(2026, 2, 28)),
        (date(2026, 3, 1), date(2026, 3, 1), date(2026, 3, 2)),
    ]
    assert spread(10, 4) == [3, 3, 2, 2]
    assert sum(spread(525, 3)) == 525


async def test_period_keys_are_the_same_on_sqlite(tmp_path: Path) -> None:
    """The embedded default runs on SQLite: weeks and months must start on the same days."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'timetracking.sqlite3'}"
    await asyncio.to_thread(upgrade, MIGRATIONS, url)
    engine = create_engine(url)
    ws, org, project, user = new_id(), new_id(), new_id(), new_id()
    days = [
        date(2026, 3, 1),
        date(2026, 3, 2),
        date(2026, 3, 8),
        date(2026, 3, 9),
        date(2026, 1, 31),
    ]
    try:
        uow = UnitOfWork(async_sessionmaker(engine, expire_on_commit=False))
        async with uow:
            uow.session.add_all(
                [
                    entry(
                        ws,
                        user_id=user,
                        item_id=new_id(),
                        project_id=project,
                        organisation_id=org,
                        worked_on=day,
                        minutes=10,
                    )
                    for day in days
                ]
            )
            await uow.commit()
        principal = Principal(subject=user, workspace_id=ws, kind="staff", workspace_role="admin")
        async with uow:
            weeks = await service.hours(
                uow,
                principal,
                group_by="client",
                period="week",
                start=date(2026, 1, 1),
                end=date(2026, 3, 31),
            )
            months = await service.hours(
                uow,
                principal,
                group_by="client",
                period="month",
                start=date(2026, 1, 1),
                end=date(2026, 3, 31),
            )
    finally:
        await engine.dispose()
    assert [(r.period_start, r.minutes) for r in weeks.rows] == [
        (date(2026, 1, 26), 10),  # Saturday 31 Jan
        (date(2026, 2, 23), 10),  # Sunday 1 Mar belongs to the week of Monday 23 Feb
        (date(2026, 3, 2), 20),  # Monday 2 and Sunday 8
        (date(2026, 3, 9), 10),
    ]
    assert [(r.period_start, r.minutes) for r in months.rows] == [
        (date(2026, 1, 1), 10),
        (date(2026, 3, 1), 40),
    ]
