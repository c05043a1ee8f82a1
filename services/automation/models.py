"""Tables owned by the automation service (its outbox, inbox and access projection come from
the kit).

Items, item types, people and teams are local projections of tickets' and identity's
events, so evaluating a rule or an SLA never calls another service. Every tenant row
carries `workspace_id`, and every query filters on it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kit.db import new_metadata

Id = String(36)


class Base(DeclarativeBase):
    metadata = new_metadata()


# --- projections ----------------------------------------------------------------------------


class ItemView(Base):
    """An item as its latest event described it, plus the custom values seen in updates."""

    __tablename__ = "items"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id, index=True)
    project_id: Mapped[str] = mapped_column(Id)
    type_id: Mapped[str] = mapped_column(Id)
    status_category: Mapped[str] = mapped_column(String(16))
    due_on: Mapped[str | None] = mapped_column(String(10), nullable=True)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    custom: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    applied_policy_id: Mapped[str | None] = mapped_column(Id, nullable=True)
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (Index("ix_items_due", "workspace_id", "due_on"),)


class ItemHistory(Base):
    """What SLA clocks are recomputed from: creation, status moves, replies, client messages."""

    __tablename__ = "item_history"

    event_id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    item_id: Mapped[str] = mapped_column(Id)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(16))
    status_id: Mapped[str | None] = mapped_column(Id, nullable=True)
    category: Mapped[str | None] = mapped_column(String(16), nullable=True)

    __table_args__ = (Index("ix_item_history_item", "item_id", "at"),)


class TypeView(Base):
    __tablename__ = "item_types"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id, index=True)
    name: Mapped[str] = mapped_column(String(200))
    statuses: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class Person(Base):
    __tablename__ = "people"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id, index=True)
    kind: Mapped[str] = mapped_column(String(16), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id, index=True)
    name: Mapped[str] = mapped_column(String(200))
    member_ids: Mapped[list[str]] = mapped_column(JSON)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)


# --- rules ----------------------------------------------------------------------------------


class Rule(Base):
    """The current version of a rule; `trigger`/`trigger_key` index it for evaluation."""

    __tablename__ = "rules"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    name: Mapped[str] = mapped_column(String(200))
    trigger: Mapped[str] = mapped_column(String(32))
    trigger_key: Mapped[str] = mapped_column(String(200), default="")
    position: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_rules_trigger", "workspace_id", "trigger", "trigger_key", "enabled"),
        Index("ix_rules_position", "workspace_id", "position"),
    )


class RuleVersion(Base):
    """Every edit of a rule, kept: the execution log names the version that ran."""

    __tablename__ = "rule_versions"

    rule_id: Mapped[str] = mapped_column(Id, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    name: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean)
    position: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RuleRevision(Base):
    """Bumped on every rule edit of a workspace: processes keep compiled rules until it moves."""

    __tablename__ = "rule_revisions"

    workspace_id: Mapped[str] = mapped_column(Id, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)


class Execution(Base):
    """One rule evaluated against one event: conditions, actions taken, or why not."""

    __tablename__ = "executions"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    rule_id: Mapped[str] = mapped_column(Id)
    rule_version: Mapped[int] = mapped_column(Integer)
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(120))
    item_id: Mapped[str | None] = mapped_column(Id, nullable=True)
    depth: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(Text, default="")
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_executions_workspace", "workspace_id", "id"),
        Index("ix_executions_rule", "workspace_id", "rule_id", "id"),
        Index("ix_executions_item", "workspace_id", "item_id", "id"),
    )


class IssuedCommand(Base):
    """A command a rule sent: the events it causes name it as their cause, which gives the
    chain its depth and the rule that must not react to its own change."""

    __tablename__ = "issued_commands"

    command_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    rule_id: Mapped[str] = mapped_column(Id)
    rule_version: Mapped[int] = mapped_column(Integer)
    depth: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[str | None] = mapped_column(Id, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MailSent(Base):
    """Rule-sent mails, counted against the per-item and per-workspace caps."""

    __tablename__ = "mails_sent"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    item_id: Mapped[str | None] = mapped_column(Id, nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_mails_sent_workspace", "workspace_id", "at"),
        Index("ix_mails_sent_item", "item_id", "at"),
    )


class RoundRobin(Base):
    __tablename__ = "round_robin"

    workspace_id: Mapped[str] = mapped_column(Id, primary_key=True)
    team_id: Mapped[str] = mapped_column(Id, primary_key=True)
    last_user_id: Mapped[str | None] = mapped_column(Id, nullable=True)


# --- SLAs -----------------------------------------------------------------------------------


class Calendar(Base):
    __tablename__ = "calendars"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id, index=True)
    name: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64))
    week: Mapped[dict[str, Any]] = mapped_column(JSON)
    holidays: Mapped[list[str]] = mapped_column(JSON)
    holiday_country: Mapped[str | None] = mapped_column(String(8), nullable=True)
    holiday_subdivision: Mapped[str | None] = mapped_column(String(16), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)


class Policy(Base):
    __tablename__ = "sla_policies"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id, index=True)
    name: Mapped[str] = mapped_column(String(200))
    calendar_id: Mapped[str] = mapped_column(Id)
    position: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    applies_to: Mapped[dict[str, Any]] = mapped_column(JSON)
    targets: Mapped[dict[str, Any]] = mapped_column(JSON)
    pause_status_ids: Mapped[list[str]] = mapped_column(JSON)
    pause_categories: Mapped[list[str]] = mapped_column(JSON)
    warning_minutes: Mapped[int] = mapped_column(Integer, default=15)
    version: Mapped[int] = mapped_column(Integer, default=1)


class Clock(Base):
    """One SLA target of one item, as last computed from the item's history."""

    __tablename__ = "sla_clocks"

    item_id: Mapped[str] = mapped_column(Id, primary_key=True)
    target: Mapped[str] = mapped_column(String(16), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id, index=True)
    policy_id: Mapped[str] = mapped_column(Id)
    state: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    met_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    paused_minutes: Mapped[int] = mapped_column(Integer, default=0)
    used_minutes: Mapped[int] = mapped_column(Integer, default=0)
    breached: Mapped[bool] = mapped_column(Boolean, default=False)
    breached_by_minutes: Mapped[int] = mapped_column(Integer, default=0)
    announced_met_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )


# --- the scheduler --------------------------------------------------------------------------


class Job(Base):
    """One due event (an SLA warning or breach, a reminder day, a scheduled rule's run).

    `key` makes scheduling idempotent; `fired_at` is set in the same transaction as the
    job's effects, by exactly one process (claimed `FOR UPDATE SKIP LOCKED` on PostgreSQL,
    and by a conditional update everywhere)."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    kind: Mapped[str] = mapped_column(String(24))
    key: Mapped[str] = mapped_column(String(300))
    subject_id: Mapped[str] = mapped_column(Id)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    fired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    fired_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        UniqueConstraint("key"),
        Index("ix_jobs_due", "fired_at", "due_at"),
        Index("ix_jobs_subject", "subject_id", "kind"),
    )
