"""Rule evaluation against 1,000 enabled rules in one workspace, and SLA due times.

Rules are spread over the triggers as an agency's would be (most on field changes, a few
per other trigger); events are a mix of custom-field updates, status moves and comments.
Measured, each beside a baseline from the same run:

- evaluation in memory (`RuleSet.candidates` + conditions of the pulled rules) per event,
  against an empty rule set, and against scanning all 1,000 rules without the index;
- the whole consumer path on PostgreSQL (projection, rule revision check, evaluation, the
  execution log row of every pulled rule, commands through the outbox, one transaction per
  event), events/s with 1,000 rules against the same events with no rules;
- SLA clocks for an item (five history entries, a split-day calendar with national
  holidays, three targets, a pause) against the same on an always-open calendar.

Target: evaluation ≤ 1 ms per event on average.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts import Envelope, registry
from contracts.tickets import (
    CommentAdded,
    FieldChange,
    ItemCreated,
    ItemSnapshot,
    ItemStatusChanged,
    ItemUpdated,
)
from kit.auth import Principal
from kit.db.engine import drop_database
from kit.db.migrations import upgrade
from kit.launcher.host import Host
from kit.settings import Settings
from kit.testing import infra
from services.automation.module import module as automation_module
from services.automation.projections.consumers import on_item_event
from services.automation.rules import service as rules
from services.automation.rules.engine import Comment, CompiledRule, Facts, RuleSet
from services.automation.rules.schemas import Definition, RuleCreate
from services.automation.sla.business_time import BusinessCalendar
from services.automation.sla.clock import Moment, Rules, compute

RULES = 1000
FIELDS = 250
EVENTS = int(os.environ.get("BENCH_EVENTS", "20000"))
DB_EVENTS = int(os.environ.get("BENCH_DB_EVENTS", "300"))
ITEMS_FOR_SLA = int(os.environ.get("BENCH_SLA_ITEMS", "2000"))
STATUSES = ["New", "Open", "In progress", "Waiting on client", "Resolved"]
PRIORITIES = ["low", "normal", "high", "urgent"]


def rule_bodies(rng: random.Random) -> list[dict[str, Any]]:
    """1,000 rules: 750 on field changes (3 per custom field), 50 each on the others."""
    bodies: list[dict[str, Any]] = []
    note = [{"type": "post_comment", "visibility": "private", "template": "{{ item.title }}"}]

    def condition() -> dict[str, Any]:
        return {
            "match": "all",
            "conditions": [
                {"type": "field", "field": "priority", "op": "is", "value": rng.choice(PRIORITIES)},
                {
                    "type": "group",
                    "match": "any",
                    "conditions": [
                        {"type": "field", "field": "title", "op": "contains", "value": "zz"},
                        {"type": "actor", "check": "is_assignee"},
                    ],
                },
            ],
        }

    for n in range(FIELDS * 3):
        field = f"custom.f{n % FIELDS}"
        bodies.append(
            {"trigger": {"kind": "field_changed", "field": field}, "conditions": condition()}
        )
    for kind in ("item_created", "item_updated", "status_changed", "comment_added", "time_logged"):
        bodies += [{"trigger": {"kind": kind}, "conditions": condition()} for _ in range(50)]
    return [{"name": f"Rule {i}", "actions": note, **body} for i, body in enumerate(bodies[:RULES])]


def compiled(bodies: list[dict[str, Any]]) -> list[CompiledRule]:
    out = []
    for i, body in enumerate(bodies):
        create = RuleCreate.model_validate(body)
        definition = Definition(
            trigger=create.trigger,
            conditions=create.conditions,
            actions=create.actions,
            scope=create.scope,
        )
        out.append(CompiledRule.of(str(uuid.uuid4()), 1, create.name, i, definition))
    return out


def snapshot(item_id: str, workspace_project: str, rng: random.Random) -> ItemSnapshot:
    status = rng.choice(STATUSES)
    return ItemSnapshot(
        id=uuid.UUID(item_id),
        number=rng.randint(1, 99999),
        title="Banner for the spring campaign",
        project_id=uuid.UUID(workspace_project),
        type_id=uuid.UUID(int=1),
        kind="ticket",
        status_id=uuid.UUID(int=STATUSES.index(status) + 10),
        status_name=status,
        status_category="open",
        priority=rng.choice(PRIORITIES),
        assignee_user_ids=[uuid.UUID(int=7)],
    )


def facts_mix(workspace: str, project: str, rng: random.Random, count: int) -> list[Facts]:
    out = []
    for n in range(count):
        item = snapshot(str(uuid.uuid4()), project, rng).model_dump(mode="json")
        item["custom"] = {}
        roll = rng.random()
        if roll < 0.6:
            key = f"custom.f{rng.randrange(FIELDS)}"
            triggers = [("item_updated", ""), ("field_changed", key)]
            changes: dict[str, Any] = {key: (None, n)}
            comment = None
        elif roll < 0.8:
            triggers = [("status_changed", ""), ("item_updated", "")]
            changes = {"status_name": (None, item["status_name"])}
            comment = None
        else:
            triggers = [("comment_added", "")]
            changes = {}
            comment = Comment("public", "app", "Thanks")
        out.append(
            Facts(
                event_id=str(n),
                event_type="bench",
                workspace_id=workspace,
                triggers=triggers,
                item=item,
                changes=changes,
                actor_id=str(uuid.UUID(int=rng.choice([7, 8]))),
                actor_kind="staff",
                comment=comment,
            )
        )
    return out


def per_event_us(
    ruleset: RuleSet | None, all_rules: list[CompiledRule], facts: list[Facts]
) -> tuple[float, int]:
    pulled = 0
    started = time.perf_counter()
    for one in facts:
        candidates = (
            ruleset.candidates(one)
            if ruleset is not None
            else [
                r
                for r in all_rules
                if (r.trigger.kind, r.trigger.key) in one.triggers
                and r.in_scope(one.item)
                and r.pulled_by(one)
            ]
        )
        for rule in candidates:
            rule.evaluate(one)
        pulled += len(candidates)
    elapsed = time.perf_counter() - started
    return elapsed / len(facts) * 1e6, pulled


def envelopes(workspace: str, project: str, rng: random.Random, count: int) -> list[Envelope]:
    """Item events for a pool of items: each item created first, then updates and comments."""
    items = [str(uuid.uuid4()) for _ in range(max(1, count // 10))]
    out: list[Envelope] = []
    for item_id in items:
        out.append(
            registry.envelope(
                ItemCreated(item=snapshot(item_id, project, rng)),
                workspace=workspace,
                subject=f"item/{item_id}",
            )
        )
    while len(out) < count:
        item_id = rng.choice(items)
        snap = snapshot(item_id, project, rng)
        roll = rng.random()
        data: Any
        if roll < 0.6:
            key = f"custom.f{rng.randrange(FIELDS)}"
            data = ItemUpdated(item=snap, changes={key: FieldChange(old=None, new=len(out))})
        elif roll < 0.8:
            data = ItemStatusChanged(
                item=snap,
                from_status_id=uuid.UUID(int=10),
                from_category="new",
                to_status_id=snap.status_id,
                to_category="open",
            )
        else:
            data = CommentAdded(
                comment_id=uuid.uuid4(),
                item=snap,
                author_id=uuid.UUID(int=7),
                visibility="public",
                channel="app",
                body="Thanks",
            )
        out.append(
            registry.envelope(
                data, workspace=workspace, subject=f"item/{item_id}", actor=str(uuid.UUID(int=7))
            )
        )
    return out


async def consumer_rate(host: Host, events: list[Envelope]) -> float:
    runtime = host.runtimes[0]
    started = time.perf_counter()
    for envelope in events:
        async with runtime.unit_of_work() as uow:
            await on_item_event(envelope, uow)
            await uow.commit()
    return len(events) / (time.perf_counter() - started)


def sla_per_item_us(count: int) -> tuple[float, float]:
    office = BusinessCalendar.build(
        "Europe/Paris", [[(540, 720), (780, 1080)]] * 5 + [[], []], country="FR"
    )
    wall = BusinessCalendar.build("UTC", [[(0, 1440)]] * 7)
    targets = Rules(
        targets={"first_response": 180, "next_response": 360, "resolution": 2400},
        pause_status_ids=frozenset(),
        pause_categories=frozenset({"waiting"}),
    )
    rng = random.Random(3)
    histories = []
    for _ in range(count):
        start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(525_600))
        histories.append(
            [
                Moment(start, "created", "s1", "new"),
                Moment(start + timedelta(hours=2), "reply"),
                Moment(start + timedelta(hours=5), "status", "s2", "waiting"),
                Moment(start + timedelta(hours=30), "client_message"),
                Moment(start + timedelta(hours=31), "status", "s3", "open"),
            ]
        )
    now = datetime(2027, 6, 1, tzinfo=UTC)

    def timed(calendar: BusinessCalendar) -> float:
        started = time.perf_counter()
        for history in histories:
            compute(history, targets, calendar, now)
        return (time.perf_counter() - started) / count * 1e6

    timed(office)  # warm the per-day window cache, as a running service has it
    return timed(office), timed(wall)


async def run() -> None:
    rng = random.Random(1)
    workspace, project = str(uuid.uuid4()), str(uuid.uuid4())
    bodies = rule_bodies(rng)
    all_rules = compiled(bodies)
    ruleset = RuleSet(all_rules)
    facts = facts_mix(workspace, project, rng, EVENTS)
    empty_us, _ = per_event_us(RuleSet([]), [], facts)
    indexed_us, pulled = per_event_us(ruleset, all_rules, facts)
    scan_us, _ = per_event_us(None, all_rules, facts[: max(1, EVENTS // 10)])

    pg = infra.resolve(infra.POSTGRES)
    tag = uuid.uuid4().hex[:8]
    settings = Settings(
        database_url=infra.database_url(pg, f"dlbench_{tag}"),
        namespace=f"bench-{tag}",
        redis_url=None,
        bus_url="memory://",
    )
    url = settings.database_url_for("automation")
    await drop_database(url)
    await asyncio.to_thread(upgrade, automation_module.migrations, url)
    host = Host(settings, [automation_module])
    runtime = host.runtimes[0]
    try:
        empty_ws, full_ws = str(uuid.uuid4()), str(uuid.uuid4())
        admin = Principal(str(uuid.uuid4()), full_ws, "staff", workspace_role="admin")
        async with runtime.unit_of_work() as uow:
            for body in bodies:
                await rules.create_rule(uow, admin, RuleCreate.model_validate(body))
            await uow.commit()
        baseline_events = envelopes(empty_ws, project, random.Random(2), DB_EVENTS)
        rule_events = envelopes(full_ws, project, random.Random(2), DB_EVENTS)
        await consumer_rate(host, baseline_events[:20])  # warm connections and caches
        empty_rate = await consumer_rate(host, baseline_events)
        full_rate = await consumer_rate(host, rule_events)
    finally:
        await runtime.stop()
        await host.bus.close()
        await host.redis.aclose()
        await drop_database(url)
    sla_us, wall_us = sla_per_item_us(ITEMS_FOR_SLA)

    print(f"automation rules, {RULES} enabled rules in one workspace:")
    print(
        f"  evaluation in memory, {EVENTS} events ({pulled / EVENTS:.1f} rules pulled per event):"
    )
    print(f"    empty rule set      {empty_us:8.1f} us/event")
    print(
        f"    1,000 rules indexed {indexed_us:8.1f} us/event  ratio to empty "
        f"{indexed_us / max(empty_us, 1e-9):6.1f}  ({1e6 / indexed_us:,.0f} events/s)"
    )
    print(
        f"    1,000 rules scanned {scan_us:8.1f} us/event  ratio to indexed "
        f"{scan_us / indexed_us:6.1f}"
    )
    print("    target: <= 1000 us/event")
    print(f"  consumer on PostgreSQL, {DB_EVENTS} events, one transaction each:")
    print(f"    no rules            {empty_rate:8.1f} events/s")
    print(
        f"    1,000 rules         {full_rate:8.1f} events/s  ratio to no rules "
        f"{full_rate / empty_rate:5.2f}"
    )
    print(f"  SLA clocks per item ({ITEMS_FOR_SLA} items, 3 targets, a pause):")
    print(f"    always-open calendar {wall_us:8.1f} us/item")
    print(
        f"    business hours + FR holidays {sla_us:8.1f} us/item  ratio to always-open "
        f"{sla_us / wall_us:5.2f}"
    )
