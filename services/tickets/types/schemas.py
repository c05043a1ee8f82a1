"""Item type, workflow and custom field bodies.

Statuses are referred to by id; where a body also creates statuses (a new type, a workflow
edit), a reference may instead be the name of one of the statuses in that body.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.tickets import StatusCategory
from services.tickets.types.definition import FieldType, Kind

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Option = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Icon = Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)]
Ref = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StatusIn(Strict):
    """A status of the workflow being written: with `id`, an existing status (renamed or
    re-categorised as given); without, matched by name to an existing or removed status of the
    type, or new."""

    id: str | None = Field(default=None, max_length=36)
    name: Name
    category: StatusCategory


class TransitionRule(Strict):
    from_status_id: Ref
    to_status_id: Ref


class FieldCreate(Strict):
    key: Key = Field(description="Stable key the values are stored under; never changes.")
    label: Label
    field_type: FieldType
    options: list[Option] = Field(default_factory=list, max_length=200)
    required: bool = False
    required_from_status_id: Ref | None = Field(
        default=None,
        description='Required to enter this status or any later one ("no brief, no start").',
    )
    client_visible: bool = False


class FieldUpdate(Strict):
    """The key and the field type never change: stored values depend on both."""

    label: Label | None = None
    options: list[Option] | None = Field(default=None, max_length=200)
    required: bool | None = None
    required_from_status_id: Ref | None = None
    client_visible: bool | None = None
    position: int | None = Field(default=None, ge=0)


class TypeCreate(Strict):
    name: Name
    icon: Icon = ""
    kind: Kind
    statuses: list[StatusIn] | None = Field(
        default=None,
        min_length=1,
        max_length=50,
        description="In workflow order; omitted: the default workflow of the kind.",
    )
    transitions: list[TransitionRule] | None = Field(
        default=None, max_length=2500, description="Allowed moves; omitted: every move."
    )
    fields: list[FieldCreate] = Field(default_factory=list, max_length=100)


class TypeUpdate(Strict):
    name: Name | None = None
    icon: Icon | None = None
    kind: Kind | None = None


class WorkflowUpdate(Strict):
    """The whole workflow, in order. Statuses left out are removed; items still in one of them
    move to the status `status_migrations` names for it (required when there are any)."""

    statuses: list[StatusIn] = Field(min_length=1, max_length=50)
    transitions: list[TransitionRule] | None = Field(default=None, max_length=2500)
    status_migrations: dict[str, Ref] = Field(
        default_factory=dict, description="Removed status id → the status its items move to."
    )


class Status(BaseModel):
    id: str
    name: str
    category: StatusCategory
    position: int


class CustomField(BaseModel):
    id: str
    key: str
    label: str
    field_type: FieldType
    options: list[str]
    required: bool
    required_from_status_id: str | None
    client_visible: bool
    position: int


class ItemType(BaseModel):
    id: str
    name: str
    icon: str
    kind: Kind
    archived: bool
    statuses: list[Status]
    transitions: list[TransitionRule] | None = Field(
        description="Allowed moves; null when every move is allowed."
    )
    fields: list[CustomField]
