"""Rules over HTTP and on events: versions kept, admins only, problem+json errors, the
execution log, dry runs that change nothing, mail caps, scope, SLA-triggered rules, and
due-date reminders run by the scheduler."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from contracts.identity import TeamChanged
from services.automation.models import Team
from services.automation.scheduler.service import fire_due
from tests.automation.conftest import AutomationApp, Workspace, always_open
from tests.conftest import eventually

URGENT_NOTE = {
    "name": "Urgent: tell the team",
    "trigger": {"kind": "item_created"},
    "conditions": {
        "match": "any",
        "conditions": [
            {"type": "field", "field": "priority", "op": "is", "value": "urgent"},
            {"type": "field", "field": "title", "op": "contains", "value": "outage"},
        ],
    },
    "actions": [
        {"type": "post_comment", "visibility": "private", "template": "Urgent: {{ item.title }}"},
        {"type": "set_percent_complete", "percent_complete": 5},
    ],
}


async def test_rules_are_versioned_admin_only_and_refuse_bad_input(
    automation: AutomationApp, workspace: Workspace
) -> None:
    ws = workspace
    created = await automation.post("/rules", ws.admin, json=URGENT_NOTE)
    assert created.status_code == 201, created.text
    rule = created.json()
    assert rule["version"] == 1 and rule["position"] == 0

    edited = await automation.patch(f"/rules/{rule['id']}", ws.admin, json={"enabled": False})
    assert edited.status_code == 200 and edited.json()["version"] == 2
    versions = (await automation.get(f"/rules/{rule['id']}/versions", ws.admin)).json()
    assert [(v["version"], v["enabled"]) for v in versions] == [(1, True), (2, False)]

    member = automation.token(ws.id, await automation.add_user(ws.id))
    assert (await automation.get("/rules", member)).status_code == 403
    other = await automation.new_workspace()
    assert (await automation.get(f"/rules/{rule['id']}", other.admin)).status_code == 404

    bad: dict[str, Any] = {**URGENT_NOTE, "trigger": {"kind": "schedule", "cron": "every day"}}
    refused = await automation.post("/rules", ws.admin, json=bad)
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    no_actions = await automation.post("/rules", ws.admin, json={**URGENT_NOTE, "actions": []})
    assert no_actions.status_code == 422
    two_statuses = {
        **URGENT_NOTE,
        "actions": [{"type": "set_status", "status_name": "Open", "status_category": "open"}],
    }
    assert (await automation.post("/rules", ws.admin, json=two_statuses)).status_code == 422
    broken = {**URGENT_NOTE, "actions": [{"type": "post_comment", "template": "{{ item.title "}]}
    refused = await automation.post("/rules", ws.admin, json=broken)
    assert refused.status_code == 422 and "template error" in refused.text


async def test_an_event_runs_matching_rules_in_scope_and_logs_every_evaluation(
    automation: AutomationApp, workspace: Workspace
) -> None:
    ws = workspace
    rule = (await automation.post("/rules", ws.admin, json=URGENT_NOTE)).json()
    elsewhere = {**URGENT_NOTE, "name": "Other project", "scope": {"project_ids": [ws.id]}}
    scoped = (await automation.post("/rules", ws.admin, json=elsewhere)).json()

    urgent = await automation.create_item(ws, priority="urgent")
    calm = await automation.create_item(ws)

    async def both_logged() -> bool:
        return await automation.executions_count(rule["id"]) >= 2

    await eventually(both_logged, timeout=10)
    runs = {r.item_id: r for r in await automation.executions(rule["id"])}
    assert runs[urgent].outcome == "fired" and runs[urgent].rule_version == 1
    assert [a["command"] for a in runs[urgent].actions] == [
        "tickets.command.post_comment.v1",
        "tickets.command.set_percent_complete.v1",
    ]
    assert runs[calm].outcome == "not_matched"
    assert [c["result"] for c in runs[calm].conditions] == [False, False]
    assert await automation.executions_count(scoped["id"]) == 0  # out of scope: not pulled

    [note] = await automation.published_about("tickets.command.post_comment.v1", urgent)
    assert note["body_html"] == "Urgent: Logo is blurry" and note["visibility"] == "private"
    assert note["origin"]["rule_id"] == rule["id"] and note["origin"]["depth"] == 1

    log = await automation.get(f"/executions?rule_id={rule['id']}&limit=1", ws.admin)
    assert log.status_code == 200
    page = log.json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    rest = await automation.get(
        f"/executions?rule_id={rule['id']}&cursor={page['next_cursor']}", ws.admin
    )
    assert {e["item_id"] for e in page["items"] + rest.json()["items"]} == {urgent, calm}


async def test_a_dry_run_shows_what_a_rule_would_do_and_changes_nothing(
    automation: AutomationApp, workspace: Workspace
) -> None:
    ws = workspace
    urgent = await automation.create_item(ws, priority="urgent")
    calm = await automation.create_item(ws)
    before = len(await automation.published("tickets.command.set_status.v1"))
    draft = {
        "name": "Urgent goes to In progress",
        "trigger": {"kind": "item_updated"},
        "conditions": {
            "conditions": [
                {"type": "field", "field": "priority", "op": "any_of", "value": ["urgent", "high"]}
            ]
        },
        "actions": [{"type": "set_status", "status_name": "In progress"}],
    }
    response = await automation.post("/rules/dry-run", ws.admin, json={"rule": draft})
    assert response.status_code == 200, response.text
    outcomes = {o["item_id"]: o for o in response.json()["outcomes"]}
    assert outcomes[urgent]["matched"] and not outcomes[calm]["matched"]
    [action] = outcomes[urgent]["actions"]
    assert action["outcome"] == "would_send"
    assert action["data"]["status_id"] == str(ws.type.statuses["In progress"].id)
    assert len(await automation.published("tickets.command.set_status.v1")) == before
    both = await automation.post("/rules/dry-run", ws.admin, json={"rule": draft, "rule_id": "x"})
    assert both.status_code == 422


async def test_rule_mail_is_capped_per_item(
    automation: AutomationApp, workspace: Workspace
) -> None:
    ws = workspace
    agent = await automation.add_user(ws.id)
    rule = (
        await automation.post(
            "/rules",
            ws.admin,
            json={
                "name": "Tell the requester about every comment",
                "trigger": {"kind": "comment_added"},
                "actions": [
                    {
                        "type": "send_message",
                        "recipients": [{"role": "requester"}],
                        "channel": "mail",
                        "subject": "New on {{ item.title }}",
                        "template": "<p>{{ comment.body }}</p>",
                        "visibility": "public",
                    }
                ],
            },
        )
    ).json()
    item_id = await automation.create_item(ws)
    for _ in range(12):
        await automation.comment(ws, item_id, agent)

    async def all_logged() -> bool:
        return await automation.executions_count(rule["id"]) >= 12

    await eventually(all_logged, timeout=15)
    outcomes = [r.actions[0]["outcome"] for r in await automation.executions(rule["id"])]
    assert outcomes.count("sent") == 10 and outcomes.count("skipped") == 2
    sent = await automation.published_about("notifications.command.send_message.v1", item_id)
    assert len(sent) == 10
    assert sent[0]["subject"] == "New on Logo is blurry"


async def test_a_breach_pulls_sla_rules(automation: AutomationApp, workspace: Workspace) -> None:
    ws = workspace
    calendar = (await automation.post("/calendars", ws.admin, json=always_open())).json()
    await automation.post(
        "/sla-policies",
        ws.admin,
        json={"name": "Fast", "calendar_id": calendar["id"], "targets": {"resolution": 1}},
    )
    rule = (
        await automation.post(
            "/rules",
            ws.admin,
            json={
                "name": "Breached: raise the priority",
                "trigger": {"kind": "sla_breached", "sla_target": "resolution"},
                "actions": [{"type": "set_priority", "priority": "urgent"}],
            },
        )
    ).json()
    item_id = await automation.create_item(ws, at=datetime.now(UTC) - timedelta(minutes=5))

    async def fired() -> bool:
        await fire_due(automation.runtime.unit_of_work)
        return await automation.executions_count(rule["id"]) >= 1

    await eventually(fired, timeout=10)
    [run] = await automation.executions(rule["id"])
    assert run.outcome == "fired" and run.item_id == item_id
    [command] = await automation.published_about("tickets.command.set_field.v1", item_id)
    assert command["field"] == "priority" and command["value"] == "urgent"


async def test_due_date_reminders_run_on_their_day(
    automation: AutomationApp, workspace: Workspace
) -> None:
    ws = workspace
    rule = (
        await automation.post(
            "/rules",
            ws.admin,
            json={
                "name": "Due tomorrow",
                "trigger": {"kind": "due_date_approaching", "days_before": 1, "at_minute": 0},
                "actions": [
                    {"type": "post_comment", "visibility": "private", "template": "Due tomorrow."}
                ],
            },
        )
    ).json()
    [tick] = await automation.jobs(rule["id"])
    assert tick.kind == "rule_tick" and tick.due_at > datetime.now(UTC)
    run_day = tick.due_at.date()  # the next midnight, UTC
    due_next_day = await automation.create_item(
        ws, due_date=(run_day + timedelta(days=1)).isoformat()
    )
    due_later = await automation.create_item(ws, due_date=(run_day + timedelta(days=5)).isoformat())

    await fire_due(automation.runtime.unit_of_work, now=lambda: tick.due_at)  # as at midnight
    fired_on = {r.item_id for r in await automation.executions(rule["id"]) if r.outcome == "fired"}
    assert fired_on == {due_next_day}
    assert due_later not in fired_on
    [note] = await automation.published_about("tickets.command.post_comment.v1", due_next_day)
    assert note["body_html"] == "Due tomorrow."
    ticks = await automation.jobs(rule["id"])
    assert len(ticks) == 2 and ticks[0].fired_at is not None and ticks[1].fired_at is None
    assert ticks[1].due_at == ticks[0].due_at + timedelta(days=1)


async def test_a_scheduled_rule_runs_at_its_cron_time_and_missed_runs_fold_into_one(
    automation: AutomationApp, workspace: Workspace
) -> None:
    ws = workspace
    rule = (
        await automation.post(
            "/rules",
            ws.admin,
            json={
                "name": "Mondays 9:00 Paris: nudge waiting tickets",
                "trigger": {"kind": "schedule", "cron": "0 9 * * 1", "time_zone": "Europe/Paris"},
                "conditions": {
                    "conditions": [
                        {
                            "type": "field",
                            "field": "status",
                            "op": "is",
                            "value": "Waiting on client",
                        }
                    ]
                },
                "actions": [{"type": "post_comment", "template": "Any news on {{ item.title }}?"}],
            },
        )
    ).json()
    waiting = await automation.create_item(ws, status="Waiting on client")
    await automation.create_item(ws)
    [tick] = await automation.jobs(rule["id"])
    local = tick.due_at.astimezone(ZoneInfo("Europe/Paris"))
    assert (local.weekday(), local.hour, local.minute) == (0, 9, 0)

    three_weeks_late = tick.due_at + timedelta(weeks=3)
    await fire_due(automation.runtime.unit_of_work, now=lambda: three_weeks_late)
    runs = await automation.executions(rule["id"])
    assert {r.item_id for r in runs if r.outcome == "fired"} == {waiting}
    assert len([r for r in runs if r.outcome == "fired"]) == 1  # one run, not three
    ticks = await automation.jobs(rule["id"])
    assert len(ticks) == 2 and ticks[1].due_at > three_weeks_late


async def test_round_robin_assigns_the_team_s_members_in_turn(
    automation: AutomationApp, workspace: Workspace
) -> None:
    ws = workspace
    members = sorted([await automation.add_user(ws.id) for _ in range(3)])
    team_id = str(uuid.uuid4())
    await automation.emit(
        TeamChanged(
            team_id=uuid.UUID(team_id),
            workspace_id=uuid.UUID(ws.id),
            name="Support",
            member_ids=[uuid.UUID(m) for m in members],
        ),
        ws.id,
        f"team/{team_id}",
    )
    rule = (
        await automation.post(
            "/rules",
            ws.admin,
            json={
                "name": "Share new tickets",
                "trigger": {"kind": "item_created"},
                "actions": [{"type": "assign", "round_robin_team_id": team_id}],
            },
        )
    ).json()

    async def team_known() -> bool:
        async with automation.runtime.session_factory() as session:
            return await session.get(Team, team_id) is not None

    await eventually(team_known, timeout=10)
    items = [await automation.create_item(ws) for _ in range(4)]

    async def all_assigned() -> bool:
        return await automation.executions_count(rule["id"]) >= 4

    await eventually(all_assigned, timeout=10)
    chosen = []
    for item_id in items:
        [command] = await automation.published_about("tickets.command.assign.v1", item_id)
        chosen.append(command["user_ids"][0])
    assert chosen == [members[0], members[1], members[2], members[0]]


async def test_rules_add_and_remove_followers(
    automation: AutomationApp, workspace: Workspace
) -> None:
    ws = workspace
    watcher, leaver = await automation.add_user(ws.id), await automation.add_user(ws.id)
    rule = (
        await automation.post(
            "/rules",
            ws.admin,
            json={
                "name": "Hand over the watch",
                "trigger": {"kind": "item_created"},
                "actions": [
                    {"type": "add_follower", "user_id": watcher},
                    {"type": "remove_follower", "user_id": leaver},
                ],
            },
        )
    ).json()
    item_id = await automation.create_item(ws)

    async def fired() -> bool:
        return await automation.executions_count(rule["id"]) >= 1

    await eventually(fired, timeout=10)
    [added] = await automation.published_about("tickets.command.add_follower.v1", item_id)
    [removed] = await automation.published_about("tickets.command.remove_follower.v1", item_id)
    assert added["user_id"] == watcher and removed["user_id"] == leaver
