"""Evaluating rules against one event, in memory: which rules the event triggers (by index,
never by scanning), whether their conditions hold, with a trace of every condition.

Nothing here touches the database, so the same code serves live events, dry runs and the
benchmark.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import JsonValue

from services.automation.rules.schemas import (
    ActorCondition,
    CommentCondition,
    Condition,
    Definition,
    FieldCondition,
    Group,
    Scope,
    Trigger,
)

TriggerKey = tuple[str, str]

ALIASES = {
    "status": "status_name",
    "assignees": "assignee_user_ids",
    "teams": "assignee_team_ids",
    "followers": "follower_ids",
    "type": "type_id",
    "project": "project_id",
    "organisation": "requester_organisation_id",
}


@dataclass(frozen=True)
class Comment:
    visibility: str
    channel: str
    body: str


@dataclass(frozen=True)
class Facts:
    """What one event tells the rules: which triggers it pulls, the item as it now is, what
    changed, who acted, and where in a chain of rule-caused changes it sits."""

    event_id: str
    event_type: str
    workspace_id: str
    triggers: Sequence[TriggerKey]
    item: Mapping[str, Any]
    changes: Mapping[str, tuple[JsonValue, JsonValue]] = field(default_factory=dict)
    actor_id: str | None = None
    actor_kind: str | None = None
    actor_teams: frozenset[str] = frozenset()
    caused_by_rule: str | None = None
    depth: int = 0
    comment: Comment | None = None
    sla_target: str | None = None
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def item_id(self) -> str | None:
        value = self.item.get("id")
        return str(value) if value is not None else None


@dataclass(frozen=True)
class CompiledRule:
    id: str
    version: int
    name: str
    position: int
    definition: Definition
    project_ids: frozenset[str]
    type_ids: frozenset[str]

    @classmethod
    def of(
        cls, rule_id: str, version: int, name: str, position: int, definition: Definition
    ) -> CompiledRule:
        scope: Scope = definition.scope
        return cls(
            rule_id,
            version,
            name,
            position,
            definition,
            frozenset(scope.project_ids),
            frozenset(scope.type_ids),
        )

    @property
    def trigger(self) -> Trigger:
        return self.definition.trigger

    def in_scope(self, item: Mapping[str, Any]) -> bool:
        if self.project_ids and str(item.get("project_id")) not in self.project_ids:
            return False
        return not self.type_ids or str(item.get("type_id")) in self.type_ids

    def pulled_by(self, facts: Facts) -> bool:
        """The trigger's own filters: a field change's from/to, an SLA target."""
        trigger = self.trigger
        if trigger.kind == "field_changed":
            change = facts.changes.get(_field_name(trigger.field or ""))
            if change is None:
                change = facts.changes.get(trigger.field or "")
            if change is None:
                return False
            old, new = change
            if trigger.from_value is not None and not _same(old, trigger.from_value):
                return False
            return trigger.to_value is None or _same(new, trigger.to_value)
        if trigger.kind in ("sla_warning", "sla_breached") and trigger.sla_target:
            return facts.sla_target == trigger.sla_target
        return True


class RuleSet:
    """One workspace's enabled rules, filed by (trigger kind, key)."""

    def __init__(self, rules: Iterable[CompiledRule]) -> None:
        self._index: dict[TriggerKey, list[CompiledRule]] = {}
        for rule in rules:
            self._index.setdefault((rule.trigger.kind, rule.trigger.key), []).append(rule)
        for bucket in self._index.values():
            bucket.sort(key=lambda r: (r.position, r.id))
        self.size = sum(len(b) for b in self._index.values())

    def candidates(self, facts: Facts) -> list[CompiledRule]:
        """Rules the event's triggers pull and whose scope holds the item, in rule order."""
        found: list[CompiledRule] = []
        for key in facts.triggers:
            for rule in self._index.get(key, ()):
                if rule.in_scope(facts.item) and rule.pulled_by(facts):
                    found.append(rule)
        if len(facts.triggers) > 1:
            found.sort(key=lambda r: (r.position, r.id))
        return found


# --- conditions -----------------------------------------------------------------------------

Trace = list[dict[str, Any]]


def evaluate(group: Group, facts: Facts) -> tuple[bool, Trace]:
    trace: Trace = []
    return _group(group, facts, trace), trace


def _group(group: Group, facts: Facts, trace: Trace) -> bool:
    if not group.conditions:
        return True
    results = [_one(condition, facts, trace) for condition in group.conditions]
    return all(results) if group.match == "all" else any(results)


def _one(condition: Condition, facts: Facts, trace: Trace) -> bool:
    if isinstance(condition, Group):
        return _group(condition, facts, trace)
    if isinstance(condition, FieldCondition):
        result = _field(condition, facts)
    elif isinstance(condition, ActorCondition):
        result = _actor(condition, facts) != condition.negate
    else:
        result = _comment(condition, facts)
    trace.append({"condition": condition.model_dump(mode="json"), "result": result})
    return result


def field_value(item: Mapping[str, Any], name: str) -> Any:
    if name.startswith("custom."):
        custom = item.get("custom") or {}
        return custom.get(name[7:])
    return item.get(_field_name(name))


def _field_name(name: str) -> str:
    return ALIASES.get(name, name)


def _field(condition: FieldCondition, facts: Facts) -> bool:
    op, expected = condition.op, condition.value
    if op in ("has_changed", "changed_from", "changed_to"):
        change = facts.changes.get(condition.field) or facts.changes.get(
            _field_name(condition.field)
        )
        if change is None:
            return False
        if op == "has_changed":
            return True
        return _same(change[0] if op == "changed_from" else change[1], expected)
    actual = field_value(facts.item, condition.field)
    if op == "is_empty":
        return actual in (None, "", [])
    if op == "is_not_empty":
        return actual not in (None, "", [])
    if op == "is":
        return _matches(actual, expected)
    if op == "is_not":
        return not _matches(actual, expected)
    if op in ("any_of", "none_of"):
        options = expected if isinstance(expected, list) else [expected]
        hit = any(_matches(actual, option) for option in options)
        return hit if op == "any_of" else not hit
    if op == "contains":
        if isinstance(actual, list):
            return any(_same(a, expected) for a in actual)
        return actual is not None and _text(expected) in _text(actual)
    if op == "starts_with":
        return actual is not None and _text(actual).startswith(_text(expected))
    if op in ("greater_than", "less_than"):
        a, b = _number(actual), _number(expected)
        if a is None or b is None:
            return False
        return a > b if op == "greater_than" else a < b
    if op in ("before", "after"):
        moment, other = _moment(actual), _moment(expected)
        if moment is None or other is None:
            return False
        return moment < other if op == "before" else moment > other
    moment = _moment(actual)
    amount = _number(expected)
    if moment is None or amount is None:
        return False
    span = timedelta(**{condition.unit: amount})
    if op == "within_last":
        return facts.now - span <= moment <= facts.now
    return facts.now <= moment <= facts.now + span  # within_next


def _actor(condition: ActorCondition, facts: Facts) -> bool:
    check, actor = condition.check, facts.actor_id
    if check == "is_rule":
        return facts.caused_by_rule is not None
    if actor is None:
        return False
    if check == "is_assignee":
        return actor in {str(u) for u in facts.item.get("assignee_user_ids") or ()}
    if check == "is_requester":
        return actor == str(facts.item.get("requester_id"))
    if check == "in_team":
        return condition.team_id is not None and condition.team_id in facts.actor_teams
    return (
        facts.actor_kind
        == {
            "is_staff": "staff",
            "is_client": "client",
            "is_collaborator": "collaborator",
        }[check]
    )


def _comment(condition: CommentCondition, facts: Facts) -> bool:
    comment = facts.comment
    if comment is None:
        return False
    if condition.visibility and comment.visibility != condition.visibility:
        return False
    if condition.channels and comment.channel not in condition.channels:
        return False
    return not condition.body_contains or _text(condition.body_contains) in _text(comment.body)


def _matches(actual: Any, expected: Any) -> bool:
    if isinstance(actual, list):
        return any(_same(a, expected) for a in actual)
    return _same(actual, expected)


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return _text(a) == _text(b)


def _text(value: Any) -> str:
    return str(value).casefold()


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except (TypeError, ValueError):
        return None


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
