"""Tables owned by the notifications service (its outbox and inbox come from the kit).

The directory (workspaces, people, teams, projects, items) is a local projection of
identity's and tickets' events: whom to mail and what about, without calling another service.
Outgoing mail is a durable queue the sender drains; incoming mail is stored raw before
anything else is done with it. Every tenant row carries `workspace_id`, and every query
filters on it.
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
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kit.db import new_metadata

Id = String(36)


class Base(DeclarativeBase):
    metadata = new_metadata()


# --- directory ------------------------------------------------------------------------------


class DirectoryWorkspace(Base):
    """A workspace as identity announced it; its slug is the local part of its inbound
    address (`<slug>@<inbound domain>`)."""

    __tablename__ = "directory_workspaces"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    slug: Mapped[str] = mapped_column(String(100), default="", index=True)


class DirectoryPerson(Base):
    """A user of a workspace: whom mail goes to, and who a sender's address belongs to.

    `handle`, `name_key` and `first_name` are the names a mention (`@anna.berg`, `@Anna`)
    may use, derived from the address and the display name (lower-cased, accents dropped:
    `directory.service.mention_keys`), so that finding who a mention means is one indexed
    query however many people the workspace has."""

    __tablename__ = "directory_people"
    __table_args__ = (
        Index("ix_directory_people_email", "workspace_id", "email"),
        Index("ix_directory_people_handle", "workspace_id", "handle"),
        Index("ix_directory_people_name_key", "workspace_id", "name_key"),
        Index("ix_directory_people_first_name", "workspace_id", "first_name"),
    )

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    email: Mapped[str] = mapped_column(String(320), default="")
    display_name: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(16), default="")
    """staff, collaborator or client; blank until identity's creation arrives (never mailed
    anything private while blank)."""
    client_organisation_id: Mapped[str | None] = mapped_column(Id, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    handle: Mapped[str] = mapped_column(String(64), default="")
    """The address's local part without any `+tag`: `anna.berg` for `anna.berg@acme.example`."""
    name_key: Mapped[str] = mapped_column(String(200), default="")
    """The display name with dots for spaces: `anna.berg` for `Anna Berg`."""
    first_name: Mapped[str] = mapped_column(String(100), default="")
    """The display name's first word: `anna` for `Anna Berg`."""


class DirectoryTeam(Base):
    """A team as identity last described it (whole state each time). `changed_at` is the time
    of the event that wrote it, so an older state arriving late never replaces a newer one."""

    __tablename__ = "directory_teams"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    name: Mapped[str] = mapped_column(String(200), default="")
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DirectoryTeamMember(Base):
    """One member of one team: the rows are replaced with each state of the team, and read
    both ways (a team's members to notify, a person's teams for their grants)."""

    __tablename__ = "directory_team_members"
    __table_args__ = (Index("ix_directory_team_members_user", "workspace_id", "user_id"),)

    team_id: Mapped[str] = mapped_column(Id, primary_key=True)
    user_id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)


class DirectoryProject(Base):
    """A project; `mail_key` (its name, slugged) selects it from an inbound address such as
    `<workspace>+<mail_key>@…`."""

    __tablename__ = "directory_projects"
    __table_args__ = (Index("ix_directory_projects_key", "workspace_id", "mail_key"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    name: Mapped[str] = mapped_column(String(200), default="")
    mail_key: Mapped[str] = mapped_column(String(100), default="")
    archived: Mapped[bool] = mapped_column(Boolean, default=False)


class DirectoryItem(Base):
    """An item as tickets last described it: what a mail about it says and who hears of it."""

    __tablename__ = "directory_items"
    __table_args__ = (Index("ix_directory_items_number", "workspace_id", "number"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    number: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(500), default="")
    project_id: Mapped[str | None] = mapped_column(Id, nullable=True)
    requester_id: Mapped[str | None] = mapped_column(Id, nullable=True)
    assignee_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    assignee_team_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    follower_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    status_name: Mapped[str] = mapped_column(String(100), default="")
    status_category: Mapped[str] = mapped_column(String(16), default="")
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)


# --- mail settings --------------------------------------------------------------------------


class MailSettings(Base):
    """A workspace's mail choices: what is mailed, branding, and optionally its own SMTP
    server (the password stored encrypted)."""

    __tablename__ = "mail_settings"

    workspace_id: Mapped[str] = mapped_column(Id, primary_key=True)
    mail_on_comment: Mapped[bool] = mapped_column(Boolean, default=True)
    mail_on_status_change: Mapped[bool] = mapped_column(Boolean, default=True)
    acknowledge_requests: Mapped[bool] = mapped_column(Boolean, default=True)
    branding: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    smtp_host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    smtp_port: Mapped[int | None] = mapped_column(Integer, nullable=True)
    smtp_security: Mapped[str] = mapped_column(String(16), default="starttls")
    smtp_username: Mapped[str | None] = mapped_column(String(255), nullable=True)
    smtp_password_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    from_address: Mapped[str | None] = mapped_column(String(320), nullable=True)
    from_name: Mapped[str | None] = mapped_column(String(200), nullable=True)


class MailTemplate(Base):
    """A workspace's own version of one kind's template (the built-in one applies otherwise)."""

    __tablename__ = "mail_templates"

    workspace_id: Mapped[str] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# --- mail out -------------------------------------------------------------------------------


class OutgoingMail(Base):
    """One mail to one recipient, queued in the transaction that decided it; the sender task
    delivers it. `(workspace, dedupe_key, recipient)` is unique, so a redelivered event or a
    repeated command never mails anyone twice."""

    __tablename__ = "outgoing_mails"
    __table_args__ = (
        UniqueConstraint("workspace_id", "dedupe_key", "recipient"),
        Index("ix_outgoing_mails_due", "status", "next_attempt_at"),
        Index("ix_outgoing_mails_item", "workspace_id", "item_id"),
    )

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    dedupe_key: Mapped[str] = mapped_column(String(200))
    recipient: Mapped[str] = mapped_column(String(340))
    """`user:<id>` (the address is looked up when sending) or `email:<address>`."""
    user_id: Mapped[str | None] = mapped_column(Id, nullable=True)
    to_address: Mapped[str | None] = mapped_column(String(320), nullable=True)
    kind: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    item_id: Mapped[str | None] = mapped_column(Id, nullable=True)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    """queued → sent, or failed (permanent refusal, or given up) / skipped (no address)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ReplyToken(Base):
    """The signed token in a mail's Reply-To, bound to one item and one recipient: a reply
    through it is that recipient's, whatever its From says."""

    __tablename__ = "reply_tokens"
    __table_args__ = (UniqueConstraint("workspace_id", "item_id", "user_id"),)

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    item_id: Mapped[str] = mapped_column(Id)
    user_id: Mapped[str] = mapped_column(Id)


# --- mail in --------------------------------------------------------------------------------


class InboundMail(Base):
    """A mail as it arrived (raw bytes), stored before anything else happens; processing
    records its outcome here (`status`, `reason`)."""

    __tablename__ = "inbound_mails"
    __table_args__ = (
        Index("ix_inbound_mails_status", "status", "received_at"),
        Index("ix_inbound_mails_message_id", "workspace_id", "message_id"),
        Index("ix_inbound_mails_event", "event_id"),
        Index("ix_inbound_mails_item", "workspace_id", "item_id"),
    )

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str | None] = mapped_column(Id, nullable=True)
    project_id: Mapped[str | None] = mapped_column(Id, nullable=True)
    reply_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    channel: Mapped[str] = mapped_column(String(8), default="smtp")
    mail_from: Mapped[str] = mapped_column(String(320), default="")
    recipient: Mapped[str] = mapped_column(String(320), default="")
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="received")
    """received → accepted (an event went out), ignored (loop, noise, rate limit), held
    (forged staff) or failed (unreadable)."""
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    message_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    sender_user_id: Mapped[str | None] = mapped_column(Id, nullable=True)
    item_id: Mapped[str | None] = mapped_column(Id, nullable=True)
    event_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


# --- in-app feed and preferences ---------------------------------------------------------------
# (The feed, its live push and forwarding; the per-user preferences both halves consult.)

FeedId = Id


class FeedNotification(Base):
    """One notice for one person. `(source_event_id, recipient_id)` is unique: a redelivered or
    duplicated event never notifies anyone twice.

    `in_feed` is false for a notice its recipient wants by mail only: the row still exists, so
    the mail is sent once, by the same forwarder as an unread notice. `forward_at` is when an
    unread notice is mailed (null: never); `forwarded_at` when it was. `pushed_at` is set once
    the notice went out to live sessions (Redis); unpushed rows are what the pusher claims.
    """

    __tablename__ = "feed_notifications"
    __table_args__ = (
        UniqueConstraint("source_event_id", "recipient_id", name="uq_feed_notifications_source"),
        Index("ix_feed_notifications_recipient", "workspace_id", "recipient_id", "id"),
        Index(
            "ix_feed_notifications_unpushed",
            "id",
            postgresql_where="pushed_at IS NULL",
            sqlite_where="pushed_at IS NULL",
        ),
        Index(
            "ix_feed_notifications_forward",
            "forward_at",
            postgresql_where="forwarded_at IS NULL AND forward_at IS NOT NULL",
            sqlite_where="forwarded_at IS NULL AND forward_at IS NOT NULL",
        ),
    )

    id: Mapped[str] = mapped_column(FeedId, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(FeedId)
    recipient_id: Mapped[str] = mapped_column(FeedId)
    kind: Mapped[str] = mapped_column(String(40))
    source_event_id: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[str | None] = mapped_column(FeedId, nullable=True)
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text, default="")
    item_id: Mapped[str | None] = mapped_column(FeedId, nullable=True)
    item_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    project_id: Mapped[str | None] = mapped_column(FeedId, nullable=True)
    in_feed: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    pushed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    forward_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    forwarded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class NotificationPreference(Base):
    """A person's choices: a channel per notice kind (only those differing from the default
    are stored) and how long an unread notice waits before it is mailed."""

    __tablename__ = "notification_preferences"

    workspace_id: Mapped[str] = mapped_column(FeedId, primary_key=True)
    user_id: Mapped[str] = mapped_column(FeedId, primary_key=True)
    channels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    forward_after_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
