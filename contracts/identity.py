"""Events produced by the identity service: workspaces (tenants) and users.

Every other service keeps a local projection of these (recipients to mail,
people to assign, the tenant's time zone for business hours), so they carry
what those projections need without a call back to identity.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import Field, JsonValue

from contracts.envelope import EventData
from contracts.registry import registry

SOURCE = "identity"

UserKind = Literal["staff", "collaborator", "client"]
WorkspaceRole = Literal["admin", "member"]


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
