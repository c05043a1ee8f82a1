"""Folder, project and tree bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Ref = Annotated[str, StringConstraints(min_length=1, max_length=36)]
ProjectRole = Literal["viewer", "contributor", "editor", "manager"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FolderCreate(Strict):
    name: Name
    parent_id: Ref | None = Field(default=None, description="Nest under this folder.")


class FolderUpdate(Strict):
    """Rename and/or move; `parent_id: null` moves the folder to the top level."""

    name: Name | None = None
    parent_id: Ref | None = None


class Folder(BaseModel):
    id: str
    name: str
    parent_id: str | None
    archived: bool
    created_at: datetime


class GrantRequest(Strict):
    """A share made together with the project; identity turns it into a grant."""

    subject_type: Literal["user", "team"]
    subject_id: UUID
    role: ProjectRole
    silent: bool = Field(default=False, description="Do not notify the grantee.")


class ProjectCreate(Strict):
    name: Name
    description: str = Field(default="", max_length=20_000)
    folder_ids: list[Ref] = Field(default_factory=list, max_length=50)
    client_organisation_id: UUID | None = None
    initial_grants: list[GrantRequest] = Field(default_factory=list, max_length=200)


class ProjectUpdate(Strict):
    name: Name | None = None
    description: str | None = Field(default=None, max_length=20_000)
    client_organisation_id: UUID | None = None


class ProjectFolders(Strict):
    """The complete set of folders the project sits in (empty: in none)."""

    folder_ids: list[Ref] = Field(max_length=50)


class Project(BaseModel):
    id: str
    name: str
    description: str
    client_organisation_id: str | None
    folder_ids: list[str]
    archived: bool
    created_by: str | None
    created_at: datetime
    my_role: ProjectRole | None = Field(
        description="The caller's effective role (admins: manager); null for a client who "
        "sees the project only through their own items."
    )


class ProjectPage(BaseModel):
    items: list[Project]
    next_cursor: str | None


class ProjectSummary(BaseModel):
    id: str
    name: str
    archived: bool
    client_organisation_id: str | None


class TreeFolder(BaseModel):
    id: str
    name: str
    archived: bool
    folders: list[TreeFolder]
    projects: list[ProjectSummary]


class Tree(BaseModel):
    """Top-level folders, and the projects that sit in no folder."""

    folders: list[TreeFolder]
    projects: list[ProjectSummary]
