"""Tables owned by the time-tracking service (outbox, inbox and access projection come from
the kit).

Items, projects, client organisations and people are local projections of the tickets and
identity services' events, so reports never call another service. Every tenant row
carries `workspace_id`, and every query filters on it.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kit.db import new_metadata

Id = String(36)


class Base(DeclarativeBase):
    metadata = new_metadata()


class ItemRef(Base):
    """Projection of tickets' items: what reports group by and percent complete needs."""

    __tablename__ = "item_refs"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id, index=True)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(500))
    project_id: Mapped[str] = mapped_column(Id)
    type_id: Mapped[str] = mapped_column(Id)
    kind: Mapped[str] = mapped_column(String(8))
    status_category: Mapped[str] = mapped_column(String(16))
    estimate_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    requester_organisation_id: Mapped[str | None] = mapped_column(Id, nullable=True)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)


class ProjectRef(Base):
    __tablename__ = "project_refs"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id, index=True)
    name: Mapped[str] = mapped_column(String(200))
    client_organisation_id: Mapped[str | None] = mapped_column(Id, nullable=True)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)


class OrganisationRef(Base):
    __tablename__ = "organisation_refs"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id, index=True)
    name: Mapped[str] = mapped_column(String(200))


class PersonRef(Base):
    __tablename__ = "person_refs"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id, index=True)
    email: Mapped[str] = mapped_column(String(320), default="")
    display_name: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(16), default="staff")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class WorkspacePolicy(Base):
    """Per-workspace time rules: whether entries need a manager's approval, when a running
    timer is flagged."""

    __tablename__ = "workspace_policies"

    workspace_id: Mapped[str] = mapped_column(Id, primary_key=True)
    approval_required: Mapped[bool] = mapped_column(Boolean, default=False)
    timer_flag_after_minutes: Mapped[int] = mapped_column(Integer, default=12 * 60)


class RunningTimer(Base):
    """At most one per person: the primary key is the person, so two concurrent starts
    cannot both win."""

    __tablename__ = "running_timers"

    workspace_id: Mapped[str] = mapped_column(Id, primary_key=True)
    user_id: Mapped[str] = mapped_column(Id, primary_key=True)
    timer_id: Mapped[str] = mapped_column(Id, unique=True)
    item_id: Mapped[str] = mapped_column(Id)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    note: Mapped[str] = mapped_column(Text, default="")


class TimeEntry(Base):
    __tablename__ = "time_entries"
    __table_args__ = (
        Index("ix_time_entries_user_day", "workspace_id", "user_id", "worked_on"),
        Index("ix_time_entries_day", "workspace_id", "worked_on"),
        Index("ix_time_entries_item", "workspace_id", "item_id"),
        UniqueConstraint("workspace_id", "import_key"),
    )

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    user_id: Mapped[str] = mapped_column(Id)
    item_id: Mapped[str] = mapped_column(Id)
    # Denormalised when written, so reports group without joins and keep history stable.
    project_id: Mapped[str] = mapped_column(Id)
    organisation_id: Mapped[str | None] = mapped_column(Id, nullable=True)
    worked_on: Mapped[date] = mapped_column(Date)
    minutes: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    billable: Mapped[bool] = mapped_column(Boolean, default=True)
    activity_type: Mapped[str] = mapped_column(String(50), default="")
    # draft → submitted → approved | rejected (when the workspace requires approval)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    source: Mapped[str] = mapped_column(String(8), default="manual")  # timer|manual|import
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    import_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_by: Mapped[str | None] = mapped_column(Id, nullable=True)
    decision_note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class EntryRevision(Base):
    """The entry as it was before each edit or deletion."""

    __tablename__ = "entry_revisions"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    entry_id: Mapped[str] = mapped_column(Id, index=True)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    change: Mapped[str] = mapped_column(String(16))
    changed_by: Mapped[str | None] = mapped_column(Id, nullable=True)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Rate(Base):
    """An hourly rate; the most specific scope wins (user > project > organisation >
    workspace), and within a scope the latest `effective_from` on or before the day."""

    __tablename__ = "rates"
    __table_args__ = (
        Index("ix_rates_scope", "workspace_id", "scope", "scope_id", "effective_from"),
    )

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    scope: Mapped[str] = mapped_column(String(16))  # workspace|organisation|project|user
    scope_id: Mapped[str | None] = mapped_column(Id, nullable=True)
    hourly_rate: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    effective_from: Mapped[date] = mapped_column(Date)


class Availability(Base):
    """A person's weekly hours from a date on."""

    __tablename__ = "availability"
    __table_args__ = (Index("ix_availability_user", "workspace_id", "user_id", "effective_from"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    user_id: Mapped[str] = mapped_column(Id)
    weekly_minutes: Mapped[int] = mapped_column(Integer)
    working_days: Mapped[list[int]] = mapped_column(JSON, default=lambda: [0, 1, 2, 3, 4])
    effective_from: Mapped[date] = mapped_column(Date)


class DayOff(Base):
    __tablename__ = "days_off"
    __table_args__ = (UniqueConstraint("workspace_id", "user_id", "day"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    user_id: Mapped[str] = mapped_column(Id)
    day: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")


class Retainer(Base):
    """Hours sold to a client organisation per month, from a month on."""

    __tablename__ = "retainers"
    __table_args__ = (
        Index("ix_retainers_org", "workspace_id", "organisation_id", "effective_from"),
    )

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    organisation_id: Mapped[str] = mapped_column(Id)
    minutes_per_month: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[date] = mapped_column(Date)
