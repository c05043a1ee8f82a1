"""A rule as admins write it: a trigger, conditions in AND/OR groups, actions, a scope."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter  # type: ignore[import-untyped]
from jinja2 import TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

TriggerKind = Literal[
    "item_created",
    "item_updated",
    "status_changed",
    "field_changed",
    "comment_added",
    "time_logged",
    "sla_warning",
    "sla_breached",
    "due_date_approaching",
    "schedule",
]
TIMED_TRIGGERS = frozenset({"due_date_approaching", "schedule"})

FIELD_ALIASES = {
    "status": "status_name",
    "assignees": "assignee_user_ids",
    "teams": "assignee_team_ids",
    "followers": "follower_ids",
    "type": "type_id",
    "project": "project_id",
    "organisation": "requester_organisation_id",
}
"""Names people write for the item fields events carry."""


def field_key(name: str) -> str:
    return FIELD_ALIASES.get(name, name)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Trigger(_Strict):
    kind: TriggerKind
    field: str | None = Field(
        default=None,
        max_length=200,
        description="field_changed: `status`, `priority`, `assignees`, `custom.<key>`, ….",
    )
    from_value: JsonValue = Field(default=None, description="field_changed: only from this.")
    to_value: JsonValue = Field(default=None, description="field_changed: only to this.")
    sla_target: Literal["first_response", "next_response", "resolution"] | None = None
    cron: str | None = Field(default=None, max_length=120, description="schedule: when.")
    days_before: int = Field(default=1, ge=0, le=60, description="due_date_approaching.")
    at_minute: int = Field(
        default=540, ge=0, lt=1440, description="Local minute of the day a timed rule runs."
    )
    time_zone: str = Field(default="UTC", max_length=64)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    @model_validator(mode="after")
    def _complete(self) -> Trigger:
        if self.kind == "field_changed" and not self.field:
            raise ValueError("a field_changed trigger names its `field`")
        if self.kind == "schedule" and not (self.cron and croniter.is_valid(self.cron)):
            raise ValueError("a schedule trigger needs a valid five-field `cron`")
        return self

    @property
    def key(self) -> str:
        """What the rule index files the rule under beside its kind."""
        return field_key(self.field or "") if self.kind == "field_changed" else ""


Operator = Literal[
    "is",
    "is_not",
    "any_of",
    "none_of",
    "contains",
    "starts_with",
    "greater_than",
    "less_than",
    "before",
    "after",
    "within_last",
    "within_next",
    "has_changed",
    "changed_from",
    "changed_to",
    "is_empty",
    "is_not_empty",
]


class FieldCondition(_Strict):
    type: Literal["field"] = "field"
    field: str = Field(
        min_length=1,
        max_length=200,
        description="An item field (`status_name`, `priority`, `due_date`, …) or `custom.<key>`.",
    )
    op: Operator
    value: JsonValue = None
    unit: Literal["minutes", "hours", "days"] = Field(
        default="days", description="within_last / within_next: the unit of `value`."
    )


ActorCheck = Literal[
    "is_assignee", "is_requester", "is_staff", "is_client", "is_collaborator", "in_team", "is_rule"
]


class ActorCondition(_Strict):
    type: Literal["actor"] = "actor"
    check: ActorCheck
    team_id: str | None = Field(default=None, max_length=36)
    negate: bool = False


class CommentCondition(_Strict):
    type: Literal["comment"] = "comment"
    visibility: Literal["public", "private"] | None = None
    channels: list[str] = Field(default_factory=list, max_length=10)
    body_contains: str | None = Field(default=None, max_length=500)


class Group(_Strict):
    type: Literal["group"] = "group"
    match: Literal["all", "any"] = "all"
    conditions: list[Condition] = Field(default_factory=list, max_length=50)


Condition = Annotated[
    FieldCondition | ActorCondition | CommentCondition | Group, Field(discriminator="type")
]


class SetStatusAction(_Strict):
    type: Literal["set_status"] = "set_status"
    status_id: str | None = Field(default=None, max_length=36)
    status_name: str | None = Field(default=None, max_length=200)
    status_category: Literal["new", "open", "in_progress", "waiting", "done", "closed"] | None = (
        None
    )

    @model_validator(mode="after")
    def _one(self) -> SetStatusAction:
        given = [self.status_id, self.status_name, self.status_category]
        if sum(v is not None for v in given) != 1:
            raise ValueError("name exactly one of status_id, status_name, status_category")
        return self


class SetFieldAction(_Strict):
    type: Literal["set_field"] = "set_field"
    field: str = Field(min_length=1, max_length=200)
    value: JsonValue = None


class SetPriorityAction(_Strict):
    type: Literal["set_priority"] = "set_priority"
    priority: str = Field(min_length=1, max_length=40)


class AssignAction(_Strict):
    type: Literal["assign"] = "assign"
    user_ids: list[str] = Field(default_factory=list, max_length=50)
    team_ids: list[str] = Field(default_factory=list, max_length=50)
    round_robin_team_id: str | None = Field(
        default=None, max_length=36, description="Assign the team's next member in turn."
    )
    replace: bool = False


class FollowerAction(_Strict):
    type: Literal["add_follower", "remove_follower"] = "add_follower"
    user_id: str | None = Field(default=None, max_length=36)
    the_actor: bool = Field(default=False, description="Whoever caused the event.")


class PercentAction(_Strict):
    type: Literal["set_percent_complete"] = "set_percent_complete"
    percent_complete: int = Field(ge=0, le=100)


def _template(value: str) -> str:
    try:
        _SYNTAX.parse(value)
    except TemplateSyntaxError as error:
        raise ValueError(f"template error on line {error.lineno}: {error.message}") from error
    return value


_SYNTAX = ImmutableSandboxedEnvironment()


class CommentAction(_Strict):
    type: Literal["post_comment"] = "post_comment"
    visibility: Literal["public", "private"] = "public"
    template: str = Field(min_length=1, max_length=20_000, description="Jinja, sandboxed.")

    _check = field_validator("template")(_template)


class Recipient(_Strict):
    user_id: str | None = Field(default=None, max_length=36)
    email: str | None = Field(default=None, max_length=320)
    role: Literal["requester", "assignees", "followers", "staff_followers"] | None = None


class MessageAction(_Strict):
    type: Literal["send_message"] = "send_message"
    recipients: list[Recipient] = Field(min_length=1, max_length=50)
    channel: Literal["mail", "in_app", "both"] = "both"
    subject: str = Field(min_length=1, max_length=998)
    template: str = Field(min_length=1, max_length=20_000)
    visibility: Literal["public", "private"] = "private"

    _check = field_validator("template", "subject")(_template)


class WebhookAction(_Strict):
    type: Literal["fire_webhook"] = "fire_webhook"
    endpoint_id: str = Field(min_length=1, max_length=36)
    event_name: str = Field(default="rule.fired", min_length=1, max_length=200)


class ApplyPolicyAction(_Strict):
    type: Literal["apply_sla_policy"] = "apply_sla_policy"
    policy_id: str = Field(min_length=1, max_length=36)


Action = Annotated[
    SetStatusAction
    | SetFieldAction
    | SetPriorityAction
    | AssignAction
    | FollowerAction
    | PercentAction
    | CommentAction
    | MessageAction
    | WebhookAction
    | ApplyPolicyAction,
    Field(discriminator="type"),
]


class Scope(_Strict):
    project_ids: list[str] = Field(default_factory=list, max_length=200)
    type_ids: list[str] = Field(default_factory=list, max_length=200)


class RuleCreate(_Strict):
    name: str = Field(min_length=1, max_length=200)
    trigger: Trigger
    conditions: Group = Field(default_factory=Group)
    actions: list[Action] = Field(min_length=1, max_length=20)
    scope: Scope = Field(default_factory=Scope)
    enabled: bool = True
    position: int | None = Field(default=None, ge=0, description="Default: after the others.")


class RuleUpdate(_Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    trigger: Trigger | None = None
    conditions: Group | None = None
    actions: list[Action] | None = Field(default=None, min_length=1, max_length=20)
    scope: Scope | None = None
    enabled: bool | None = None
    position: int | None = Field(default=None, ge=0)


class Definition(_Strict):
    """What a rule version stores (everything but name, order and switch)."""

    trigger: Trigger
    conditions: Group
    actions: list[Action]
    scope: Scope


class Rule(BaseModel):
    id: str
    name: str
    version: int
    enabled: bool
    position: int
    trigger: Trigger
    conditions: Group
    actions: list[Action]
    scope: Scope
    created_at: datetime
    updated_at: datetime


class RuleVersion(BaseModel):
    version: int
    name: str
    enabled: bool
    position: int
    deleted: bool
    definition: dict[str, Any]
    changed_by: str | None
    changed_at: datetime


class RulePage(BaseModel):
    items: list[Rule]
    next_cursor: str | None


class Execution(BaseModel):
    id: str
    rule_id: str
    rule_version: int
    event_id: str
    event_type: str
    item_id: str | None
    depth: int
    outcome: str
    reason: str
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    at: datetime


class ExecutionPage(BaseModel):
    items: list[Execution]
    next_cursor: str | None


class DryRunRequest(_Strict):
    rule: RuleCreate | None = Field(default=None, description="A draft; else `rule_id`.")
    rule_id: str | None = Field(default=None, max_length=36)
    item_ids: list[str] = Field(default_factory=list, max_length=500)
    limit: int = Field(default=100, ge=1, le=500, description="Items, when none are named.")

    @model_validator(mode="after")
    def _one(self) -> DryRunRequest:
        if (self.rule is None) == (self.rule_id is None):
            raise ValueError("give exactly one of `rule` and `rule_id`")
        return self


class DryRunOutcome(BaseModel):
    item_id: str
    matched: bool
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]


class DryRun(BaseModel):
    evaluated: int
    matched: int
    outcomes: list[DryRunOutcome]
