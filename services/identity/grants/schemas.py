"""Grant and access-request bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ProjectRole = Literal["viewer", "contributor", "editor", "manager"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GrantCreate(Strict):
    subject_type: Literal["user", "team"]
    subject_id: str = Field(min_length=1, max_length=36)
    role: ProjectRole
    silent: bool = Field(default=False, description="Do not notify the grantee.")


class GrantUpdate(Strict):
    role: ProjectRole
    silent: bool = False


class Grant(BaseModel):
    id: str
    project_id: str
    subject_type: str
    subject_id: str
    role: str
    silent: bool


class AccessRequestCreate(Strict):
    note: str = Field(default="", max_length=2000)


class Approval(Strict):
    role: ProjectRole = "viewer"


class Denial(Strict):
    reason: str = Field(default="", max_length=2000)


class AccessRequest(BaseModel):
    id: str
    project_id: str
    user_id: str
    note: str
    status: str
    role: str | None
    reason: str
    decided_by: str | None
    created_at: datetime
