"""Events produced by the identity service: workspaces (tenants) and users.

Every other service keeps a local projection of these (recipients to mail,
people to assign, the tenant's time zone for business hours), so they carry
what those projections need without a call back to identity.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field, JsonValue

from contracts.envelope import EventData
from contracts.registry import registry

SOURCE = "identity"

UserKind = Literal["staff", "collaborator", "client"]
WorkspaceRole = Literal["admin", "member"]
ProjectRole = Literal["viewer", "contributor", "editor", "manager"]
ClientVisibility = Literal["own", "organisation"]
GrantSubject = Literal["user", "team"]
ApiKeyScope = Literal["read", "write", "admin"]


@registry.event(
    "identity.workspace.created.v1",
    source=SOURCE,
    summary="A workspace (tenant) was created.",
)
class WorkspaceCreated(EventData):
    """Emitted once per workspace, when it is set up (sign-up or provisioning).

    Services create their tenant-scoped defaults on it (workflows, mail
    templates, SLA calendars), which is why it carries the time zone.
    """

    workspace_id: UUID
    name: str = Field(min_length=1, description="Display name of the workspace.")
    slug: str = Field(
        min_length=1,
        pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$",
        description="URL-safe handle, unique across workspaces.",
    )
    time_zone: str = Field(
        min_length=1,
        description="IANA time zone name (e.g. `Europe/Paris`) for business hours and digests.",
    )
    created_by: UUID = Field(description="User who created the workspace (its first admin).")
    client_visibility: ClientVisibility = Field(
        default="own",
        description="Whether clients see only their own items or their organisation's.",
    )
    apps: dict[str, bool] | None = Field(
        default=None,
        description="Which apps are on: tickets, tasks, timesheets, messenger, "
        "knowledge_base, portal.",
    )


@registry.event(
    "identity.workspace.updated.v1",
    source=SOURCE,
    summary="Settings of a workspace changed.",
)
class WorkspaceUpdated(EventData):
    """Emitted after a workspace's attributes change, carrying only what changed.

    A delta rather than a full copy, so that adding a workspace attribute
    needs no new event type and consumers apply only the keys they project.
    """

    workspace_id: UUID
    changes: dict[str, JsonValue] = Field(
        description=(
            "Changed attributes, name → new value in JSON form "
            "(names as in identity.workspace.created.v1, e.g. `name`, `time_zone`)."
        ),
    )


@registry.event(
    "identity.user.created.v1",
    source=SOURCE,
    summary="A user joined a workspace (staff, collaborator or client).",
)
class UserCreated(EventData):
    """Emitted when a user account is created in a workspace, whoever minted its id.

    When another service minted the id first (notifications, for a mail from
    an unknown sender), this event is identity adopting it; consumers must
    therefore treat it as an upsert of a projection they may already hold.
    """

    user_id: UUID
    workspace_id: UUID
    email: str = Field(min_length=3, max_length=320, description="Login and mail address.")
    display_name: str = Field(min_length=1)
    kind: UserKind = Field(
        description=(
            "`staff` work in the workspace, `collaborator` are outside helpers with "
            "project grants, `client` belong to a client organisation and use the portal."
        ),
    )
    client_organisation_id: UUID | None = Field(
        default=None,
        description="The client organisation of a `client` user; null for other kinds.",
    )
    workspace_role: WorkspaceRole = Field(
        description="`admin` may manage the workspace's settings, users and apps."
    )


@registry.event(
    "identity.user.updated.v1",
    source=SOURCE,
    summary="Attributes of a user changed (name, kind, role, organisation, e-mail).",
)
class UserUpdated(EventData):
    """Carries only what changed, as `identity.workspace.updated.v1` does."""

    user_id: UUID
    workspace_id: UUID
    changes: dict[str, JsonValue] = Field(
        description="Changed attributes, name → new value (names as in identity.user.created.v1)."
    )


@registry.event(
    "identity.user.deactivated.v1",
    source=SOURCE,
    summary="A user was deactivated: their sessions are revoked and they can no longer log in.",
)
class UserDeactivated(EventData):
    """Services drop the user from assignment pickers and stop mailing them."""

    user_id: UUID
    workspace_id: UUID


@registry.event(
    "identity.user.reactivated.v1",
    source=SOURCE,
    summary="A deactivated user was reactivated.",
)
class UserReactivated(EventData):
    user_id: UUID
    workspace_id: UUID


@registry.event(
    "identity.requester.merged.v1",
    source=SOURCE,
    summary="A mail's sender was already a user: the id minted for them is that user.",
)
class RequesterMerged(EventData):
    """Notifications mints an id for a sender it does not know yet; when identity already
    has a user with that address (its creation had not reached notifications, or two
    notifications replicas minted one each), the minted id is not adopted. Everything that
    holds the minted id (items' requester, followers, comment authors, directories) moves
    over to `user_id`."""

    workspace_id: UUID
    minted_user_id: UUID
    user_id: UUID


@registry.event(
    "identity.invitation.created.v1",
    source=SOURCE,
    summary="Someone was invited (or asked to claim an account); the link must be mailed.",
)
class InvitationCreated(EventData):
    """The notifications service mails `accept_url` to `email`.

    The token inside the URL is single-use and expires at `expires_at`; it is
    stored hashed by identity, so this event is the only place it appears.
    """

    invitation_id: UUID
    workspace_id: UUID
    user_id: UUID
    email: str
    purpose: Literal["invite", "claim", "password_reset"]
    accept_url: str
    expires_at: datetime


@registry.event(
    "identity.client_organisation.created.v1",
    source=SOURCE,
    summary="A client organisation (e.g. a customer company or a clinic location) was created.",
)
class ClientOrganisationCreated(EventData):
    organisation_id: UUID
    workspace_id: UUID
    name: str = Field(min_length=1)


@registry.event(
    "identity.client_organisation.updated.v1",
    source=SOURCE,
    summary="A client organisation was renamed or otherwise changed.",
)
class ClientOrganisationUpdated(EventData):
    organisation_id: UUID
    workspace_id: UUID
    changes: dict[str, JsonValue]


@registry.event(
    "identity.team.changed.v1",
    source=SOURCE,
    summary="A team was created, renamed, had members added or removed, or was deleted.",
)
class TeamChanged(EventData):
    """Carries the team's whole state, so a consumer can replace its copy without history."""

    team_id: UUID
    workspace_id: UUID
    name: str
    member_ids: list[UUID]
    deleted: bool = False


@registry.event(
    "identity.grant.given.v1",
    source=SOURCE,
    summary="A project was shared with a user or a team with a role.",
)
class GrantGiven(EventData):
    """`silent` grants are not announced to the grantee (no notification)."""

    grant_id: UUID
    workspace_id: UUID
    project_id: UUID
    subject_type: GrantSubject
    subject_id: UUID
    role: ProjectRole
    silent: bool = False
    granted_by: UUID | None = None


@registry.event(
    "identity.grant.changed.v1",
    source=SOURCE,
    summary="The role of an existing project grant changed.",
)
class GrantChanged(EventData):
    grant_id: UUID
    workspace_id: UUID
    project_id: UUID
    subject_type: GrantSubject
    subject_id: UUID
    role: ProjectRole
    previous_role: ProjectRole
    silent: bool = False


@registry.event(
    "identity.grant.revoked.v1",
    source=SOURCE,
    summary="A project grant was withdrawn.",
)
class GrantRevoked(EventData):
    grant_id: UUID
    workspace_id: UUID
    project_id: UUID
    subject_type: GrantSubject
    subject_id: UUID


@registry.event(
    "identity.access.requested.v1",
    source=SOURCE,
    summary="A user asked for access to a project; its managers should decide.",
)
class AccessRequested(EventData):
    request_id: UUID
    workspace_id: UUID
    project_id: UUID
    user_id: UUID
    note: str = ""
    manager_ids: list[UUID] = Field(
        default_factory=list, description="Who may decide: the project's managers and admins."
    )


@registry.event(
    "identity.access.approved.v1",
    source=SOURCE,
    summary="An access request was approved with a role (a grant.given event follows).",
)
class AccessApproved(EventData):
    request_id: UUID
    workspace_id: UUID
    project_id: UUID
    user_id: UUID
    role: ProjectRole
    decided_by: UUID


@registry.event(
    "identity.access.denied.v1",
    source=SOURCE,
    summary="An access request was denied.",
)
class AccessDenied(EventData):
    request_id: UUID
    workspace_id: UUID
    project_id: UUID
    user_id: UUID
    decided_by: UUID
    reason: str = ""


@registry.event(
    "identity.apikey.created.v1",
    source=SOURCE,
    summary="An API key was created; services that accept keys keep its hash.",
)
class ApiKeyCreated(EventData):
    """Carries the SHA-256 of the secret, never the secret itself."""

    key_id: UUID
    workspace_id: UUID
    name: str
    prefix: str = Field(description="The key's first characters, shown to tell keys apart.")
    key_hash: str = Field(description="Hex SHA-256 of the whole key.")
    scopes: list[ApiKeyScope]
    created_by: UUID


@registry.event(
    "identity.apikey.revoked.v1",
    source=SOURCE,
    summary="An API key was revoked; it must no longer be accepted anywhere.",
)
class ApiKeyRevoked(EventData):
    key_id: UUID
    workspace_id: UUID
