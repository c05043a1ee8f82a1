"""People and client organisations.

Request bodies forbid unknown fields, and the fields that decide power
(`workspace_role`, `kind`) are only accepted on admin endpoints, so a member
or client cannot raise their own rights by adding them to a body.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.identity.fields import Email

Kind = Literal["staff", "collaborator", "client"]
Role = Literal["admin", "member"]
ProjectRole = Literal["viewer", "contributor", "editor", "manager"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GrantOnCreate(Strict):
    project_id: str = Field(min_length=1, max_length=36)
    role: ProjectRole
    silent: bool = False


class Invitation(Strict):
    """Invite someone: a single-use link to set a password is mailed to them."""

    email: Email
    display_name: str = Field(min_length=1, max_length=200)
    kind: Kind = "staff"
    workspace_role: Role = "member"
    client_organisation_id: str | None = None
    grants: list[GrantOnCreate] = Field(
        default_factory=list, description="Projects to share with the new user at once."
    )


class UserUpdate(Strict):
    """Admins change anything here; a user may change only their own `display_name`."""

    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    kind: Kind | None = None
    workspace_role: Role | None = None
    client_organisation_id: str | None = None


class User(BaseModel):
    id: str
    email: str
    display_name: str
    kind: str
    workspace_role: str
    client_organisation_id: str | None
    status: str


class UserPage(BaseModel):
    items: list[User]
    next_cursor: str | None


class OrganisationCreate(Strict):
    name: str = Field(min_length=1, max_length=200)


class OrganisationUpdate(Strict):
    name: str = Field(min_length=1, max_length=200)


class Organisation(BaseModel):
    id: str
    name: str
