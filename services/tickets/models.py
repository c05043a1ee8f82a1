"""Tables owned by the tickets service (its outbox, inbox and access projection come from
the kit).

Every tenant row carries `workspace_id`, and every query filters on it. The
indexes follow the list filters (project, status, assignee, requester, due
date), so lists stay fast at hundreds of thousands of items.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kit.db import new_metadata
from services.tickets.ids import new_id

Id = String(36)


class Base(DeclarativeBase):
    metadata = new_metadata()


def table_of(model: type[Base]) -> Table:
    """A model's Core table, for statements on hot paths that need nothing of the ORM."""
    return cast(Table, model.__table__)


class Folder(Base):
    """Portfolios, e.g. one per client; nested through `parent_id`."""

    __tablename__ = "folders"
    __table_args__ = (Index("ix_folders_parent", "workspace_id", "parent_id"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("folders.id"), nullable=True)
    name: Mapped[str] = mapped_column(String(200))
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (Index("ix_projects_workspace", "workspace_id", "archived_at"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    client_organisation_id: Mapped[str | None] = mapped_column(Id, nullable=True)
    created_by: Mapped[str | None] = mapped_column(Id, nullable=True)
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ProjectFolder(Base):
    """A project can sit in several folders."""

    __tablename__ = "project_folders"

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    folder_id: Mapped[str] = mapped_column(ForeignKey("folders.id"), primary_key=True, index=True)
    workspace_id: Mapped[str] = mapped_column(Id)


class ItemType(Base):
    __tablename__ = "item_types"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    name: Mapped[str] = mapped_column(String(100))
    icon: Mapped[str] = mapped_column(String(50), default="")
    kind: Mapped[str] = mapped_column(String(8))  # ticket | task
    restrict_transitions: Mapped[bool] = mapped_column(Boolean, default=False)
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # A fresh token on every change of the type, its workflow or its fields (tickets_0004):
    # a definition kept in memory is used only while the row still carries the token it was
    # read with. Never a counter: a rolled-back edit's token must never come back.
    revision: Mapped[str] = mapped_column(String(36), default=new_id, server_default="initial")


class Status(Base):
    """One step of a type's workflow, in a category the rest of the system reasons with."""

    __tablename__ = "statuses"
    __table_args__ = (UniqueConstraint("type_id", "name"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    type_id: Mapped[str] = mapped_column(ForeignKey("item_types.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer)
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Transition(Base):
    """Allowed moves when the type restricts transitions (otherwise every move is allowed)."""

    __tablename__ = "transitions"

    type_id: Mapped[str] = mapped_column(ForeignKey("item_types.id"), primary_key=True)
    from_status_id: Mapped[str] = mapped_column(ForeignKey("statuses.id"), primary_key=True)
    to_status_id: Mapped[str] = mapped_column(ForeignKey("statuses.id"), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)


class CustomField(Base):
    __tablename__ = "custom_fields"
    __table_args__ = (UniqueConstraint("type_id", "key"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    type_id: Mapped[str] = mapped_column(ForeignKey("item_types.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200))
    field_type: Mapped[str] = mapped_column(String(16))
    options: Mapped[list[str]] = mapped_column(JSON, default=list)
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    # "No brief, no start": required to enter this status or any later one.
    required_from_status_id: Mapped[str | None] = mapped_column(
        ForeignKey("statuses.id"), nullable=True
    )
    client_visible: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ItemCounter(Base):
    """The next human number (#1042) of a workspace."""

    __tablename__ = "item_counters"

    workspace_id: Mapped[str] = mapped_column(Id, primary_key=True)
    next_number: Mapped[int] = mapped_column(Integer)


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("workspace_id", "number"),
        Index("ix_items_project_status", "workspace_id", "project_id", "status_id"),
        Index("ix_items_requester", "workspace_id", "requester_id"),
        Index("ix_items_organisation", "workspace_id", "requester_organisation_id"),
        Index("ix_items_due", "workspace_id", "due_date"),
        Index("ix_items_updated", "workspace_id", "updated_at"),
    )

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    number: Mapped[int] = mapped_column(Integer)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    type_id: Mapped[str] = mapped_column(ForeignKey("item_types.id"))
    status_id: Mapped[str] = mapped_column(ForeignKey("statuses.id"))
    status_category: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    description_format: Mapped[str] = mapped_column(String(8), default="html")
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    requester_id: Mapped[str | None] = mapped_column(Id, nullable=True)
    requester_organisation_id: Mapped[str | None] = mapped_column(Id, nullable=True)
    start_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    estimate_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    points: Mapped[float | None] = mapped_column(Float, nullable=True)
    percent_complete: Mapped[int] = mapped_column(Integer, default=0)
    # Sum of the time logged on the item, from timetracking's events (tickets_0003).
    logged_minutes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    custom_values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str | None] = mapped_column(Id, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Assignee(Base):
    __tablename__ = "item_assignees"
    __table_args__ = (Index("ix_item_assignees_assignee", "workspace_id", "assignee_id"),)

    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"), primary_key=True)
    assignee_type: Mapped[str] = mapped_column(String(8), primary_key=True)  # user | team
    assignee_id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)


class Follower(Base):
    __tablename__ = "item_followers"
    __table_args__ = (Index("ix_item_followers_user", "workspace_id", "user_id"),)

    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (Index("ix_comments_item", "workspace_id", "item_id", "created_at"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"))
    author_id: Mapped[str | None] = mapped_column(Id, nullable=True)
    body: Mapped[str] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(8))  # public | private
    channel: Mapped[str] = mapped_column(String(8), default="app")  # app|email|portal|api|rule
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    edited_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CommentRevision(Base):
    """The text a comment had before each edit or deletion."""

    __tablename__ = "comment_revisions"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    comment_id: Mapped[str] = mapped_column(ForeignKey("comments.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    changed_by: Mapped[str | None] = mapped_column(Id, nullable=True)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Attachment(Base):
    __tablename__ = "attachments"
    __table_args__ = (Index("ix_attachments_item", "workspace_id", "item_id"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"))
    comment_id: Mapped[str | None] = mapped_column(ForeignKey("comments.id"), nullable=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(String(255))
    visibility: Mapped[str] = mapped_column(String(8), default="public")
    uploaded_by: Mapped[str | None] = mapped_column(Id, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Activity(Base):
    """Who changed what on an item, and when; private entries never reach clients."""

    __tablename__ = "item_activity"
    __table_args__ = (Index("ix_item_activity_item", "workspace_id", "item_id", "created_at"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"))
    actor: Mapped[str | None] = mapped_column(String(64), nullable=True)
    kind: Mapped[str] = mapped_column(String(32))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    visibility: Mapped[str] = mapped_column(String(8), default="public")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Person(Base):
    """Projection of identity's users: kind and organisation decide client visibility; kind,
    workspace role and teams (`TeamMember`) what access they have."""

    __tablename__ = "people"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id, index=True)
    email: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    client_organisation_id: Mapped[str | None] = mapped_column(Id, nullable=True)
    # `admin` or `member`: with their teams, what checks made on someone's behalf (may this
    # person follow the item?) need to rebuild their access without a token (tickets_0005).
    workspace_role: Mapped[str] = mapped_column(String(16), default="member")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Field → time (ISO 8601, UTC) of the identity event that last set it. Identity's user
    # events are deltas that can overtake one another on retries; keeping a time per field lets
    # each event apply only what is newer, whatever the arrival order (tickets_0002).
    field_times: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)


class PersonAlias(Base):
    """An id that turned out to be someone else's: notifications minted it for a mail's
    sender whose address identity already had (`identity.requester.merged.v1`). Kept so that
    a mailed request arriving after the merge is filed for the real person (tickets_0006)."""

    __tablename__ = "person_aliases"

    alias_id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    user_id: Mapped[str] = mapped_column(Id)


class Team(Base):
    """Projection of identity's teams: the time of the event that last wrote each one.

    `identity.team.changed.v1` carries the whole team, so an event replaces its members; one
    older than `changed_at` (overtaken after a retry) is ignored. A deleted team keeps this row,
    so that a late older event cannot bring its members back."""

    __tablename__ = "teams"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class TeamMember(Base):
    """One member of a live team; read by member, for the teams a person's grants come from."""

    __tablename__ = "team_members"
    __table_args__ = (Index("ix_team_members_member", "workspace_id", "member_id"),)

    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id"), primary_key=True)
    member_id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)


class WorkspaceDefaults(Base):
    """Marks a workspace whose defaults (Support project, Ticket and Task types) were created,
    so a repeated `identity.workspace.created.v1` never creates them twice, even after an admin
    renamed or archived them; and names the project intake (mail, portal) files tickets in."""

    __tablename__ = "workspace_defaults"

    workspace_id: Mapped[str] = mapped_column(Id, primary_key=True)
    intake_project_id: Mapped[str | None] = mapped_column(ForeignKey("projects.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
