"""Team bodies."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TeamCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    member_ids: list[str] = Field(default_factory=list, max_length=1000)


class TeamUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)


class Team(BaseModel):
    id: str
    name: str
    member_ids: list[str]
