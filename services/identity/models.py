"""Tables owned by the identity service (its outbox and inbox come from the kit).

Every tenant row carries `workspace_id`, and every query filters on it.
Secrets (passwords, refresh tokens, invitation tokens, API keys) are stored
only as hashes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kit.db import new_metadata

Id = String(36)


class Base(DeclarativeBase):
    metadata = new_metadata()


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    time_zone: Mapped[str] = mapped_column(String(64))
    client_visibility: Mapped[str] = mapped_column(String(16), default="own")
    apps: Mapped[dict[str, bool]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ClientOrganisation(Base):
    __tablename__ = "client_organisations"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("workspace_id", "email"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    workspace_role: Mapped[str] = mapped_column(String(16), default="member")
    client_organisation_id: Mapped[str | None] = mapped_column(
        ForeignKey("client_organisations.id"), nullable=True
    )
    # invited → active; unclaimed (created from a mail) → active; active ⇄ deactivated
    status: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OneTimeToken(Base):
    """Invitation, account-claim and password-reset links: single use, expiring."""

    __tablename__ = "one_time_tokens"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RefreshToken(Base):
    """Rotating refresh tokens; a family is one login. Reusing a rotated token revokes it."""

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    family_id: Mapped[str] = mapped_column(Id, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SigningKey(Base):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_pem: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(Id)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Team(Base):
    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TeamMember(Base):
    __tablename__ = "team_members"

    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))


class Project(Base):
    """Projection of the tickets service's projects, to validate grants against."""

    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id, index=True)
    name: Mapped[str] = mapped_column(String(200))
    archived: Mapped[bool] = mapped_column(Boolean, default=False)


class Grant(Base):
    __tablename__ = "grants"
    __table_args__ = (
        UniqueConstraint("workspace_id", "project_id", "subject_type", "subject_id"),
        Index("ix_grants_subject", "workspace_id", "subject_type", "subject_id"),
    )

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    project_id: Mapped[str] = mapped_column(Id)
    subject_type: Mapped[str] = mapped_column(String(8))
    subject_id: Mapped[str] = mapped_column(Id)
    role: Mapped[str] = mapped_column(String(16))
    silent: Mapped[bool] = mapped_column(Boolean, default=False)
    granted_by: Mapped[str | None] = mapped_column(Id, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AccessRequest(Base):
    __tablename__ = "access_requests"
    __table_args__ = (Index("ix_access_requests_project", "workspace_id", "project_id", "status"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Id)
    project_id: Mapped[str] = mapped_column(Id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    role: Mapped[str | None] = mapped_column(String(16), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str | None] = mapped_column(Id, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
