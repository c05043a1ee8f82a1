"""Conditions and the trigger index, in memory: operators, AND/OR groups, actor and comment
checks, field-change triggers with from/to, and that only the rules an event pulls are
looked at."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from services.automation.rules.engine import Comment, CompiledRule, Facts, RuleSet, evaluate
from services.automation.rules.schemas import Definition, Group, RuleCreate

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ASSIGNEE = str(uuid.uuid4())
ITEM: dict[str, Any] = {
    "id": str(uuid.uuid4()),
    "title": "Spring banner: outage on mobile",
    "status_name": "New",
    "priority": "high",
    "percent_complete": 40,
    "due_date": "2026-06-03",
    "assignee_user_ids": [ASSIGNEE],
    "requester_id": None,
    "custom": {"budget": 1200, "channel": "Instagram"},
}


def facts(**changes: Any) -> Facts:
    base: dict[str, Any] = {
        "event_id": "e",
        "event_type": "t",
        "workspace_id": "w",
        "triggers": [("item_updated", "")],
        "item": ITEM,
        "actor_id": ASSIGNEE,
        "actor_kind": "staff",
        "now": NOW,
    }
    return Facts(**(base | changes))


def holds(condition: dict[str, Any], **changes: Any) -> bool:
    group = Group.model_validate({"conditions": [condition]})
    return evaluate(group, facts(**changes))[0]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "status", "op": "is", "value": "new"}, True),
        ({"field": "priority", "op": "is_not", "value": "high"}, False),
        ({"field": "priority", "op": "any_of", "value": ["urgent", "high"]}, True),
        ({"field": "priority", "op": "none_of", "value": ["urgent", "high"]}, False),
        ({"field": "title", "op": "contains", "value": "OUTAGE"}, True),
        ({"field": "title", "op": "starts_with", "value": "spring"}, True),
        ({"field": "percent_complete", "op": "greater_than", "value": 39}, True),
        ({"field": "percent_complete", "op": "less_than", "value": 40}, False),
        ({"field": "custom.budget", "op": "greater_than", "value": 1000}, True),
        ({"field": "custom.channel", "op": "is", "value": "instagram"}, True),
        ({"field": "custom.missing", "op": "is_empty"}, True),
        ({"field": "due_date", "op": "before", "value": "2026-06-04"}, True),
        ({"field": "due_date", "op": "after", "value": "2026-06-04"}, False),
        ({"field": "due_date", "op": "within_next", "value": 2, "unit": "days"}, True),
        ({"field": "due_date", "op": "within_last", "value": 2, "unit": "days"}, False),
        ({"field": "assignees", "op": "contains", "value": ASSIGNEE}, True),
    ],
)
def test_field_operators(condition: dict[str, Any], expected: bool) -> None:
    assert holds({"type": "field", **condition}) is expected


def test_changes_and_actor_and_comment_checks() -> None:
    moved = {"changes": {"priority": ("normal", "high")}}
    assert holds({"type": "field", "field": "priority", "op": "has_changed"}, **moved)
    assert holds(
        {"type": "field", "field": "priority", "op": "changed_from", "value": "normal"}, **moved
    )
    assert not holds({"type": "field", "field": "priority", "op": "changed_to", "value": "low"})
    assert holds({"type": "actor", "check": "is_assignee"})
    assert not holds({"type": "actor", "check": "is_assignee"}, actor_id=str(uuid.uuid4()))
    assert holds({"type": "actor", "check": "is_client", "negate": True})
    assert holds({"type": "actor", "check": "in_team", "team_id": "t1"}, actor_teams={"t1"})
    note = Comment("private", "app", "internal: call the client")
    assert holds({"type": "comment", "visibility": "private"}, comment=note)
    assert not holds({"type": "comment", "channels": ["email", "portal"]}, comment=note)
    assert not holds({"type": "comment"})  # no comment in the event


def test_groups_combine_and_the_trace_shows_every_condition() -> None:
    group = Group.model_validate(
        {
            "match": "all",
            "conditions": [
                {"type": "field", "field": "priority", "op": "is", "value": "high"},
                {
                    "type": "group",
                    "match": "any",
                    "conditions": [
                        {"type": "field", "field": "status", "op": "is", "value": "Done"},
                        {"type": "actor", "check": "is_assignee"},
                    ],
                },
            ],
        }
    )
    matched, trace = evaluate(group, facts())
    assert matched
    assert [t["result"] for t in trace] == [True, False, True]
    assert not evaluate(group, facts(actor_id=None))[0]


def rule(body: dict[str, Any], position: int = 0) -> CompiledRule:
    create = RuleCreate.model_validate(
        {"name": "r", "actions": [{"type": "set_percent_complete", "percent_complete": 100}]} | body
    )
    definition = Definition(
        trigger=create.trigger,
        conditions=create.conditions,
        actions=create.actions,
        scope=create.scope,
    )
    return CompiledRule.of(str(uuid.uuid4()), 1, "r", position, definition)


def test_the_index_pulls_only_rules_of_the_event_s_triggers_in_order() -> None:
    to_done = rule(
        {"trigger": {"kind": "field_changed", "field": "priority", "to_value": "high"}}, 2
    )
    from_low = rule(
        {"trigger": {"kind": "field_changed", "field": "priority", "from_value": "low"}}, 1
    )
    updated = rule({"trigger": {"kind": "item_updated"}}, 0)
    scoped = rule({"trigger": {"kind": "item_updated"}, "scope": {"project_ids": ["p2"]}}, 3)
    noise = [
        rule({"trigger": {"kind": "field_changed", "field": f"custom.f{n}"}}) for n in range(500)
    ]
    ruleset = RuleSet([to_done, from_low, updated, scoped, *noise])
    event = facts(
        triggers=[("item_updated", ""), ("field_changed", "priority")],
        changes={"priority": ("normal", "high")},
        item=ITEM | {"project_id": "p1"},
    )
    assert [r.id for r in ruleset.candidates(event)] == [updated.id, to_done.id]
    comment = facts(triggers=[("comment_added", "")])
    assert ruleset.candidates(comment) == []


def test_timed_triggers_validate_their_schedule() -> None:
    with pytest.raises(ValueError, match="cron"):
        RuleCreate.model_validate(
            {
                "name": "r",
                "trigger": {"kind": "schedule"},
                "actions": [{"type": "set_priority", "priority": "low"}],
            }
        )
    with pytest.raises(ValueError, match="time zone"):
        RuleCreate.model_validate(
            {
                "name": "r",
                "trigger": {"kind": "schedule", "cron": "0 9 * * 1", "time_zone": "Nowhere/City"},
                "actions": [{"type": "set_priority", "priority": "low"}],
            }
        )


def test_a_field_change_trigger_knows_the_names_people_write() -> None:
    reopened = rule(
        {"trigger": {"kind": "field_changed", "field": "status", "from_value": "Resolved"}}
    )
    ruleset = RuleSet([reopened])
    event = facts(
        triggers=[("status_changed", ""), ("field_changed", "status_name")],
        changes={"status_name": ("Resolved", "Open")},
    )
    assert ruleset.candidates(event) == [reopened]
    other = facts(
        triggers=[("field_changed", "status_name")], changes={"status_name": ("New", "Open")}
    )
    assert ruleset.candidates(other) == []
