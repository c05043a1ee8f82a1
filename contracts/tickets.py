"""Events produced by the tickets service that other services project (projects so far)."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from contracts.envelope import EventData
from contracts.registry import registry

SOURCE = "tickets"


class InitialGrant(BaseModel):
    """A share requested together with the project ("give this vendor editor")."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    subject_type: Literal["user", "team"]
    subject_id: UUID
    role: Literal["viewer", "contributor", "editor", "manager"]
    silent: bool = False


@registry.event(
    "tickets.project.created.v1",
    source=SOURCE,
    summary="A project was created (e.g. one per campaign), possibly already shared.",
)
class ProjectCreated(EventData):
    """Identity validates grants against projects it learnt of here, and writes
    `initial_grants` as grants given by `created_by`."""

    project_id: UUID
    workspace_id: UUID
    name: str = Field(min_length=1)
    folder_ids: list[UUID] = Field(default_factory=list)
    client_organisation_id: UUID | None = None
    created_by: UUID | None = None
    initial_grants: list[InitialGrant] = Field(default_factory=list)


@registry.event(
    "tickets.project.updated.v1",
    source=SOURCE,
    summary="A project was renamed, moved, archived or restored.",
)
class ProjectUpdated(EventData):
    project_id: UUID
    workspace_id: UUID
    changes: dict[str, JsonValue] = Field(
        description="Changed attributes, e.g. `name`, `folder_ids`, `archived` (bool)."
    )
