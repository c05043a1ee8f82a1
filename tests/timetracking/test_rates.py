"""Rates, availability, days off, retainers and the billing export, on real PostgreSQL.

The heart is one table of pricing cases: which rate applies (most specific scope, then
the latest effective date on or before the day) and what the entry is billed. The same
table is checked against the pure `rate_for` and, end to end, against the billing export.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from services.timetracking.models import (
    ItemRef,
    OrganisationRef,
    PersonRef,
    ProjectRef,
    Rate,
    TimeEntry,
    WorkspacePolicy,
)
from services.timetracking.rates.service import amount, rate_for
from tests.timetracking.reporting_harness import Harness, entry, mint, new_id, running

WS = new_id()
OTHER_WS = new_id()
ORG_A, ORG_B = new_id(), new_id()
P_A1, P_A2, P_B = new_id(), new_id(), new_id()  # P_A1 and P_A2 belong to ORG_A, P_B to ORG_B
JUNIOR, SENIOR, FUTURE, ODD = new_id(), new_id(), new_id(), new_id()

RATES = [
    # (scope, scope_id, hourly rate, effective from)
    ("workspace", None, "100.00", date(2026, 1, 1)),
    ("workspace", None, "110.00", date(2026, 3, 1)),
    ("organisation", ORG_A, "120.00", date(2026, 1, 1)),
    ("project", P_A1, "130.00", date(2026, 2, 15)),
    ("user", SENIOR, "150.00", date(2026, 1, 1)),
    ("user", SENIOR, "160.00", date(2026, 3, 10)),
    ("user", FUTURE, "200.00", date(2026, 6, 1)),
    ("user", ODD, "100.50", date(2026, 1, 1)),
]


@dataclass(frozen=True)
class Case:
    name: str
    user_id: str
    project_id: str
    organisation_id: str
    day: date
    minutes: int
    rate: str | None
    amount: str | None


CASES = [
    Case("workspace rate", JUNIOR, P_B, ORG_B, date(2026, 2, 10), 60, "100.00", "100.00"),
    Case("day before a rise", JUNIOR, P_B, ORG_B, date(2026, 2, 28), 90, "100.00", "150.00"),
    Case("rise effective that day", JUNIOR, P_B, ORG_B, date(2026, 3, 1), 90, "110.00", "165.00"),
    Case("client beats workspace", JUNIOR, P_A2, ORG_A, date(2026, 3, 5), 45, "120.00", "90.00"),
    Case("project not yet", JUNIOR, P_A1, ORG_A, date(2026, 2, 14), 20, "120.00", "40.00"),
    Case("project beats client", JUNIOR, P_A1, ORG_A, date(2026, 2, 15), 20, "130.00", "43.33"),
    Case("user beats project", SENIOR, P_A1, ORG_A, date(2026, 2, 15), 50, "150.00", "125.00"),
    Case("user's newer rate", SENIOR, P_A1, ORG_A, date(2026, 3, 10), 7, "160.00", "18.67"),
    Case("user's old rate still", SENIOR, P_A1, ORG_A, date(2026, 3, 9), 7, "150.00", "17.50"),
    Case("user rate not yet", FUTURE, P_A1, ORG_A, date(2026, 3, 10), 30, "130.00", "65.00"),
    Case("half-up to cents", ODD, P_B, ORG_B, date(2026, 3, 2), 3, "100.50", "5.03"),
    Case("no rate yet", JUNIOR, P_B, ORG_B, date(2025, 12, 31), 60, None, None),
]


def rate_rows(workspace_id: str) -> list[Rate]:
    return [
        Rate(
            id=new_id(),
            workspace_id=workspace_id,
            scope=scope,
            scope_id=scope_id,
            hourly_rate=Decimal(value),
            currency="EUR",
            effective_from=start,
        )
        for scope, scope_id, value, start in RATES
    ]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_rate_precedence_and_effective_dates(case: Case) -> None:
    found = rate_for(
        rate_rows(WS),
        day=case.day,
        user_id=case.user_id,
        project_id=case.project_id,
        organisation_id=case.organisation_id,
    )
    if case.rate is None:
        assert found is None
        return
    assert found is not None
    assert found.hourly_rate == Decimal(case.rate)
    assert amount(found.hourly_rate, case.minutes) == Decimal(case.amount or "")


@pytest.fixture(scope="module")
async def tt(pg_server_url: str, session_tag: str) -> AsyncIterator[Harness]:
    async with running(pg_server_url, f"dltest_{session_tag}_ttrates") as harness:
        await harness.insert(
            *rate_rows(WS),
            # Another tenant prices the same people and client differently: never applies here.
            Rate(
                id=new_id(),
                workspace_id=OTHER_WS,
                scope="user",
                scope_id=JUNIOR,
                hourly_rate=Decimal("999.00"),
                currency="EUR",
                effective_from=date(2020, 1, 1),
            ),
        )
        yield harness


def admin(workspace_id: str = WS) -> str:
    return mint(workspace_id, new_id(), role="admin")


async def test_billing_prices_every_case_of_the_table(tt: Harness) -> None:
    ids = {case.name: new_id() for case in CASES}
    await tt.insert(
        *[
            entry(
                WS,
                entry_id=ids[c.name],
                user_id=c.user_id,
                item_id=new_id(),
                project_id=c.project_id,
                organisation_id=c.organisation_id,
                worked_on=c.day,
                minutes=c.minutes,
            )
            for c in CASES
        ]
    )
    lines: dict[str, dict[str, Any]] = {}
    for org in (ORG_A, ORG_B):
        response = await tt.get(
            "/billing",
            admin(),
            params={"organisation_id": org, "from": "2025-12-01", "to": "2026-03-31"},
            headers={"Accept": "application/json"},
        )
        assert response.status_code == 200, response.text
        lines |= {line["entry_id"]: line for line in response.json()["lines"]}
    for case in CASES:
        line = lines[ids[case.name]]
        assert (line["hourly_rate"], line["amount"]) == (case.rate, case.amount), case.name
        assert line["currency"] == (None if case.rate is None else "EUR")


# --- the export itself -----------------------------------------------------------------


@dataclass(frozen=True)
class BillingWorld:
    workspace_id: str
    organisation_id: str
    entries: tuple[str, str, str, str]


async def billing_world(tt: Harness, *, approval: bool) -> BillingWorld:
    """One client with one project and two items; Ann gets her own rate from 10 March.

    Entries, all billable for the client unless said otherwise: E1 Ann 2 Mar 90 min,
    E2 Ben 3 Mar 20 min, E3 Ann 11 Mar 45 min (approved); E4 Ann 12 Mar 30 min (submitted
    only); and what is never billed: non-billable, a flagged timer, deleted, rejected, another
    client's, and April's. Ann also has an approved hour in December, before any rate.
    """
    ws, org, other_org, project = new_id(), new_id(), new_id(), new_id()
    item1, item2, ann, ben = new_id(), new_id(), new_id(), new_id()
    e1, e2, e3, e4 = sorted(new_id() for _ in range(4))
    await tt.insert(
        WorkspacePolicy(workspace_id=ws, approval_required=approval, timer_flag_after_minutes=720),
        OrganisationRef(id=org, workspace_id=ws, name="Acme, Inc."),
        ProjectRef(id=project, workspace_id=ws, name="Website", client_organisation_id=org),
        PersonRef(id=ann, workspace_id=ws, email="ann@example.test", display_name="Ann"),
        PersonRef(id=ben, workspace_id=ws, email="ben@example.test", display_name=""),
        ItemRef(
            id=item1,
            workspace_id=ws,
            number=1001,
            title="Landing page",
            project_id=project,
            type_id=new_id(),
            kind="task",
            status_category="in_progress",
        ),
        ItemRef(
            id=item2,
            workspace_id=ws,
            number=1002,
            title="=HYPERLINK(evil)",
            project_id=project,
            type_id=new_id(),
            kind="ticket",
            status_category="open",
        ),
        *[
            Rate(
                id=new_id(),
                workspace_id=ws,
                scope=scope,
                scope_id=scope_id,
                hourly_rate=Decimal(value),
                currency="EUR",
                effective_from=start,
            )
            for scope, scope_id, value, start in (
                ("workspace", None, "90.00", date(2026, 1, 1)),
                ("user", ann, "120.00", date(2026, 3, 10)),
            )
        ],
    )

    def add(
        day: date,
        user: str,
        item: str,
        minutes: int,
        *,
        status: str = "approved",
        billable: bool = True,
        flagged: bool = False,
        deleted: bool = False,
        note: str = "",
        activity_type: str = "",
        entry_id: str | None = None,
        organisation_id: str = org,
    ) -> TimeEntry:
        return entry(
            ws,
            user_id=user,
            item_id=item,
            project_id=project,
            organisation_id=organisation_id,
            worked_on=day,
            minutes=minutes,
            status=status,
            billable=billable,
            flagged=flagged,
            deleted=deleted,
            note=note,
            activity_type=activity_type,
            entry_id=entry_id,
        )

    await tt.insert(
        add(
            date(2026, 3, 2), ann, item1, 90, note="Hero, copy", activity_type="design", entry_id=e1
        ),
        add(date(2026, 3, 3), ben, item2, 20, note="-1 bug", entry_id=e2),
        add(date(2026, 3, 11), ann, item1, 45, entry_id=e3),
        add(date(2026, 3, 12), ann, item1, 30, status="submitted", entry_id=e4),
        add(date(2026, 3, 12), ann, item1, 60, billable=False),
        add(date(2026, 3, 13), ben, item1, 700, flagged=True),
        add(date(2026, 3, 13), ben, item1, 50, deleted=True),
        add(date(2026, 3, 13), ben, item1, 40, status="rejected"),
        add(date(2026, 3, 5), ann, item1, 300, organisation_id=other_org),
        add(date(2026, 4, 1), ann, item1, 15),
        add(date(2025, 12, 15), ann, item1, 60),
    )
    return BillingWorld(ws, org, (e1, e2, e3, e4))


def march(world: BillingWorld, **extra: str) -> dict[str, str]:
    return {
        "organisation_id": world.organisation_id,
        "from": "2026-03-01",
        "to": "2026-03-31",
    } | extra


async def test_billing_csv_is_ready_for_an_invoicing_tool(tt: Harness) -> None:
    """Approval required: only approved, billable, unflagged entries of the client and
    period; a header row, ISO dates, dot decimals, quoting, and formulas defused."""
    world = await billing_world(tt, approval=True)
    e1, e2, e3, _ = world.entries
    response = await tt.get("/billing", admin(world.workspace_id), params=march(world))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        'attachment; filename="billing-Acme__Inc.-2026-03-01-2026-03-31.csv"'
    )
    assert response.text == (
        "date,entry_id,item_number,item_title,project_name,person_name,activity_type,note,"
        "minutes,hours,hourly_rate,currency,amount\r\n"
        f'2026-03-02,{e1},1001,Landing page,Website,Ann,design,"Hero, copy",'
        "90,1.50,90.00,EUR,135.00\r\n"
        f"2026-03-03,{e2},1002,'=HYPERLINK(evil),Website,ben@example.test,,'-1 bug,"
        "20,0.33,90.00,EUR,30.00\r\n"
        f"2026-03-11,{e3},1001,Landing page,Website,Ann,,,45,0.75,120.00,EUR,90.00\r\n"
    )


async def test_billing_json_has_totals_and_what_was_held_back(tt: Harness) -> None:
    """Without approval, submitted entries are billed too; the flagged timer is held back."""
    world = await billing_world(tt, approval=False)
    response = await tt.get(
        "/billing",
        admin(world.workspace_id),
        params=march(world),
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [line["entry_id"] for line in body["lines"]] == list(world.entries)
    assert body["lines"][3]["amount"] == "60.00"
    assert body["organisation_name"] == "Acme, Inc."
    assert (body["from"], body["to"], body["approval_required"]) == (
        "2026-03-01",
        "2026-03-31",
        False,
    )
    assert body["totals"] == [
        {"currency": "EUR", "minutes": 185, "hours": "3.08", "amount": "315.00"}
    ]
    assert (body["flagged_minutes"], body["unrated_minutes"]) == (700, 0)


async def test_billing_lists_work_without_a_rate_without_an_amount(tt: Harness) -> None:
    world = await billing_world(tt, approval=False)
    response = await tt.get(
        "/billing",
        admin(world.workspace_id),
        params=march(world, **{"from": "2025-12-01", "to": "2025-12-31", "format": "json"}),
    )
    body = response.json()
    assert [(line["minutes"], line["hourly_rate"], line["amount"]) for line in body["lines"]] == [
        (60, None, None)
    ]
    assert (body["unrated_minutes"], body["totals"]) == (60, [])


async def test_billing_grouped_per_item_and_person_splits_at_a_rate_change(tt: Harness) -> None:
    world = await billing_world(tt, approval=False)
    response = await tt.get(
        "/billing", admin(world.workspace_id), params=march(world, group="item_person")
    )
    assert response.status_code == 200, response.text
    assert response.text == (
        "item_number,item_title,project_name,person_name,first_date,last_date,"
        "minutes,hours,hourly_rate,currency,amount\r\n"
        "1001,Landing page,Website,Ann,2026-03-02,2026-03-02,90,1.50,90.00,EUR,135.00\r\n"
        "1001,Landing page,Website,Ann,2026-03-11,2026-03-12,75,1.25,120.00,EUR,150.00\r\n"
        "1002,'=HYPERLINK(evil),Website,ben@example.test,2026-03-03,2026-03-03,"
        "20,0.33,90.00,EUR,30.00\r\n"
    )


async def test_billing_is_for_admins_only(tt: Harness) -> None:
    world = await billing_world(tt, approval=False)
    for token in (
        mint(world.workspace_id, new_id()),
        mint(world.workspace_id, new_id(), kind="client", org=world.organisation_id),
        # A collaborator's token claiming admin gets nothing more (kit.auth).
        mint(world.workspace_id, new_id(), kind="collaborator", role="admin"),
    ):
        response = await tt.get("/billing", token, params=march(world))
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "https://deskline.dev/problems/admin-only"


async def test_billing_never_reads_another_workspace(tt: Harness) -> None:
    world = await billing_world(tt, approval=False)
    response = await tt.get(
        "/billing", admin(), params=march(world), headers={"Accept": "application/json"}
    )
    body = response.json()
    assert (body["lines"], body["organisation_name"], body["flagged_minutes"]) == ([], "", 0)


async def test_billing_refuses_a_backwards_period_and_unknown_formats(tt: Harness) -> None:
    world = await billing_world(tt, approval=False)
    backwards = await tt.get(
        "/billing", admin(world.workspace_id), params=march(world, **{"from": "2026-04-01"})
    )
    assert backwards.status_code == 400
    assert backwards.headers["content-type"] == "application/problem+json"
    refused = await tt.get(
        "/billing", admin(world.workspace_id), params=march(world), headers={"Accept": "image/png"}
    )
    assert refused.status_code == 406


# --- configuration: rates, availability, days off, retainers -----------------------------


async def test_admins_manage_rates(tt: Harness) -> None:
    ws = new_id()
    token = admin(ws)
    project = new_id()
    created = await tt.post(
        "/rates",
        token,
        json={
            "scope": "project",
            "scope_id": project,
            "hourly_rate": "95.5",
            "effective_from": "2026-01-01",
        },
    )
    assert created.status_code == 201, created.text
    rate = created.json()
    assert (rate["hourly_rate"], rate["currency"], rate["scope_id"]) == ("95.50", "EUR", project)
    again = await tt.post(
        "/rates",
        token,
        json={
            "scope": "project",
            "scope_id": project,
            "hourly_rate": "99",
            "effective_from": "2026-01-01",
        },
    )
    assert again.status_code == 409
    changed = await tt.patch(f"/rates/{rate['id']}", token, json={"hourly_rate": "97.25"})
    assert changed.json()["hourly_rate"] == "97.25"
    listed = await tt.get("/rates", token, params={"scope": "project"})
    assert [r["hourly_rate"] for r in listed.json()] == ["97.25"]
    assert (await tt.delete(f"/rates/{rate['id']}", token)).status_code == 204
    assert (await tt.get(f"/rates/{rate['id']}", token)).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"scope": "workspace", "scope_id": "x", "hourly_rate": "1", "effective_from": "2026-01-01"},
        {"scope": "user", "hourly_rate": "1", "effective_from": "2026-01-01"},
        {"scope": "workspace", "hourly_rate": "-1", "effective_from": "2026-01-01"},
        {"scope": "workspace", "hourly_rate": "1.005", "effective_from": "2026-01-01"},
        {
            "scope": "workspace",
            "hourly_rate": "1",
            "currency": "eur",
            "effective_from": "2026-01-01",
        },
        {"scope": "team", "hourly_rate": "1", "effective_from": "2026-01-01"},
        {
            "scope": "workspace",
            "hourly_rate": "1",
            "effective_from": "2026-01-01",
            "workspace_id": "x",
        },
    ],
)
async def test_rates_are_validated(tt: Harness, body: dict[str, str]) -> None:
    response = await tt.post("/rates", admin(new_id()), json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_rates_are_admin_business_and_per_workspace(tt: Harness) -> None:
    ws = new_id()
    body = {"scope": "workspace", "hourly_rate": "80", "effective_from": "2026-01-01"}
    member = mint(ws, new_id())
    assert (await tt.post("/rates", member, json=body)).status_code == 403
    assert (await tt.get("/rates", member)).status_code == 403
    rate = (await tt.post("/rates", admin(ws), json=body)).json()
    stranger = admin()  # an admin of another workspace
    assert (await tt.get(f"/rates/{rate['id']}", stranger)).status_code == 404
    assert (
        await tt.patch(f"/rates/{rate['id']}", stranger, json={"hourly_rate": "1"})
    ).status_code == 404
    assert (await tt.delete(f"/rates/{rate['id']}", stranger)).status_code == 404
    assert rate["id"] not in {r["id"] for r in (await tt.get("/rates", stranger)).json()}


async def test_availability_is_written_by_admins_and_read_by_its_person(tt: Harness) -> None:
    ws, me, colleague = new_id(), new_id(), new_id()
    token = admin(ws)
    for user, minutes in ((me, 2400), (colleague, 1200)):
        created = await tt.post(
            "/availability",
            token,
            json={
                "user_id": user,
                "weekly_minutes": minutes,
                "working_days": [3, 0, 1],
                "effective_from": "2026-01-01",
            },
        )
        assert created.status_code == 201, created.text
        assert created.json()["working_days"] == [0, 1, 3]
    clash = await tt.post(
        "/availability",
        token,
        json={"user_id": me, "weekly_minutes": 60, "effective_from": "2026-01-01"},
    )
    assert clash.status_code == 409
    mine = mint(ws, me)
    assert [a["weekly_minutes"] for a in (await tt.get("/availability", mine)).json()] == [2400]
    assert (await tt.get("/availability", mine, params={"user_id": colleague})).status_code == 403
    assert len((await tt.get("/availability", token)).json()) == 2
    availability_id = (await tt.get("/availability", mine)).json()[0]["id"]
    assert (
        await tt.patch(f"/availability/{availability_id}", mine, json={"weekly_minutes": 1})
    ).status_code == 403
    changed = await tt.patch(
        f"/availability/{availability_id}", token, json={"weekly_minutes": 1800}
    )
    assert changed.json()["weekly_minutes"] == 1800
    no_days = await tt.patch(f"/availability/{availability_id}", token, json={"working_days": []})
    assert no_days.status_code == 422
    bad_day = await tt.post(
        "/availability",
        token,
        json={
            "user_id": me,
            "weekly_minutes": 1,
            "working_days": [7],
            "effective_from": "2026-02-01",
        },
    )
    assert bad_day.status_code == 422


async def test_days_off(tt: Harness) -> None:
    ws, me = new_id(), new_id()
    token = admin(ws)
    body = {"user_id": me, "day": "2026-03-06", "note": "dentist"}
    created = await tt.post("/days-off", token, json=body)
    assert created.status_code == 201, created.text
    assert (await tt.post("/days-off", token, json=body)).status_code == 409
    assert (
        await tt.post("/days-off", mint(ws, me), json=body | {"day": "2026-03-07"})
    ).status_code == 403
    listed = await tt.get(
        "/days-off", mint(ws, me), params={"from": "2026-03-01", "to": "2026-03-31"}
    )
    assert [(d["day"], d["note"]) for d in listed.json()] == [("2026-03-06", "dentist")]
    outside = await tt.get("/days-off", token, params={"from": "2026-04-01"})
    assert outside.json() == []
    assert (await tt.delete(f"/days-off/{created.json()['id']}", admin())).status_code == 404
    assert (await tt.delete(f"/days-off/{created.json()['id']}", token)).status_code == 204


async def test_the_same_day_off_twice_at_once_is_one_day_off(tt: Harness) -> None:
    ws, me = new_id(), new_id()
    body = {"user_id": me, "day": "2026-03-09"}
    first, second = await asyncio.gather(
        tt.post("/days-off", admin(ws), json=body), tt.post("/days-off", admin(ws), json=body)
    )
    assert sorted([first.status_code, second.status_code]) == [201, 409]


async def test_retainers(tt: Harness) -> None:
    ws, org = new_id(), new_id()
    token = admin(ws)
    mid_month = await tt.post(
        "/retainers",
        token,
        json={"organisation_id": org, "minutes_per_month": 1200, "effective_from": "2026-03-15"},
    )
    assert mid_month.status_code == 422
    created = await tt.post(
        "/retainers",
        token,
        json={"organisation_id": org, "minutes_per_month": 1200, "effective_from": "2026-03-01"},
    )
    assert created.status_code == 201, created.text
    retainer_id = created.json()["id"]
    changed = await tt.patch(f"/retainers/{retainer_id}", token, json={"minutes_per_month": 1800})
    assert changed.json()["minutes_per_month"] == 1800
    listed = await tt.get("/retainers", token, params={"organisation_id": org})
    assert [r["minutes_per_month"] for r in listed.json()] == [1800]
    assert (await tt.get("/retainers", mint(ws, new_id()))).status_code == 403
    assert (await tt.delete(f"/retainers/{retainer_id}", token)).status_code == 204
    assert (await tt.get("/retainers", token)).json() == []
