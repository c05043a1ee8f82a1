"""Workspace bodies. Apps are the product areas an admin can switch on and off."""

from __future__ import annotations

from typing import Literal
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.identity.fields import Email

APPS = ("tickets", "tasks", "timesheets", "messenger", "knowledge_base", "portal")
DEFAULT_APPS = dict.fromkeys(APPS, True)
_ZONES = available_timezones()


def _zone(value: str) -> str:
    if value not in _ZONES:
        raise ValueError(f"unknown time zone {value!r} (use an IANA name like Europe/Paris)")
    return value


def _apps(value: dict[str, bool] | None) -> dict[str, bool] | None:
    if value is not None and (unknown := set(value) - set(APPS)):
        raise ValueError(f"unknown apps {sorted(unknown)}; known: {', '.join(APPS)}")
    return value


class FirstAdmin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    display_name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=10, max_length=256)


class WorkspaceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    slug: str = Field(min_length=2, max_length=63, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    time_zone: str = "UTC"
    admin: FirstAdmin

    _check_zone = field_validator("time_zone")(_zone)


class WorkspaceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    time_zone: str | None = None
    client_visibility: Literal["own", "organisation"] | None = None
    apps: dict[str, bool] | None = None

    @field_validator("time_zone")
    @classmethod
    def _check_zone(cls, value: str | None) -> str | None:
        return None if value is None else _zone(value)

    _check_apps = field_validator("apps")(_apps)


class Workspace(BaseModel):
    id: str
    name: str
    slug: str
    time_zone: str
    client_visibility: str
    apps: dict[str, bool]


class WorkspaceCreated(BaseModel):
    workspace: Workspace
    admin_user_id: str
