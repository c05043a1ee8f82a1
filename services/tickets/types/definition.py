"""An item type as the rest of the service reasons with it: its workflow and fields, frozen.

Pure: loading happens in `service.load_type`; everything here is decided from the
definition alone, so items, imports and automation commands all apply the same rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from contracts.tickets import StatusCategory
from kit.http.problems import Problem

Kind = Literal["ticket", "task"]
FieldType = Literal[
    "text", "long_text", "number", "date", "single_choice", "multi_choice", "user", "checkbox"
]
CATEGORIES: tuple[StatusCategory, ...] = get_args(StatusCategory)
FIELD_TYPES: tuple[FieldType, ...] = get_args(FieldType)
CHOICE_TYPES: frozenset[str] = frozenset({"single_choice", "multi_choice"})


@dataclass(frozen=True)
class StatusDef:
    id: str
    name: str
    category: StatusCategory
    position: int


@dataclass(frozen=True)
class FieldDef:
    id: str
    key: str
    label: str
    field_type: FieldType
    options: tuple[str, ...]
    required: bool
    required_from_status_id: str | None
    """Required to enter this status or any later one of the workflow ("no brief, no start")."""
    client_visible: bool
    position: int


@dataclass(frozen=True)
class TypeDefinition:
    """A type with its active statuses (in workflow order) and active fields.

    Removed statuses and fields are not part of it: no item sits in a removed status (removal
    migrates them), and values of removed fields stay in items but are no longer shown.
    """

    id: str
    workspace_id: str
    name: str
    icon: str
    kind: Kind
    archived: bool
    statuses: tuple[StatusDef, ...]
    restrict_transitions: bool
    transitions: frozenset[tuple[str, str]]
    """Allowed (from, to) moves; consulted only when `restrict_transitions`."""
    fields: tuple[FieldDef, ...]
    revision: str = ""
    """The type row's revision token this was read at (see `service.find_type`)."""

    def find_status(self, status_id: str) -> StatusDef | None:
        return next((s for s in self.statuses if s.id == status_id), None)

    def status(self, status_id: str) -> StatusDef:
        """The status, or the 422 an API answers when a body names one this type lacks."""
        found = self.find_status(status_id)
        if found is None:
            raise Problem(
                422,
                "unknown-status",
                f"The type {self.name!r} has no such status.",
                status_id=status_id,
                type_id=self.id,
            )
        return found

    @property
    def first_status(self) -> StatusDef:
        """Where new items start."""
        return self.statuses[0]

    def field(self, key: str) -> FieldDef | None:
        return next((f for f in self.fields if f.key == key), None)

    @property
    def client_fields(self) -> tuple[FieldDef, ...]:
        return tuple(f for f in self.fields if f.client_visible)


def transition_allowed(definition: TypeDefinition, from_status_id: str, to_status_id: str) -> bool:
    """Whether an item may move between these statuses.

    Staying put is always allowed, moving to a status the type lacks never is; otherwise every
    move is allowed unless the type restricts transitions to its list. An item in a status the
    definition does not know (a removal racing with it) may move anywhere, so it is never stuck.
    """
    if from_status_id == to_status_id:
        return True
    if definition.find_status(to_status_id) is None:
        return False
    if not definition.restrict_transitions or definition.find_status(from_status_id) is None:
        return True
    return (from_status_id, to_status_id) in definition.transitions


def is_empty(value: Any) -> bool:
    """An unfilled value: absent, blank, an empty choice, or an unticked checkbox (a required
    checkbox is a confirmation, e.g. "brief approved")."""
    if value is None or value is False:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list | tuple | dict) and not value


def missing_for_status(
    definition: TypeDefinition, values: Mapping[str, Any], target_status: StatusDef | str
) -> list[str]:
    """Keys of the fields that must be filled before an item may be in `target_status`.

    A field counts when it is always required, or required from a status at or before the
    target in the workflow order ("no brief, no start"). In field order, so an error lists
    them as the form shows them.
    """
    target = (
        target_status
        if isinstance(target_status, StatusDef)
        else definition.find_status(target_status)
    )
    missing = []
    for field in definition.fields:
        needed = field.required
        if not needed and field.required_from_status_id is not None and target is not None:
            gate = definition.find_status(field.required_from_status_id)
            needed = gate is not None and target.position >= gate.position
        if needed and is_empty(values.get(field.key)):
            missing.append(field.key)
    return missing


def missing_fields_problem(
    definition: TypeDefinition, missing: list[str], target: StatusDef
) -> Problem:
    """The 422 for a refused move, naming each missing field by key and label."""
    labels = {f.key: f.label for f in definition.fields}
    return Problem(
        422,
        "required-fields-missing",
        f"Fill in {', '.join(labels.get(k, k) for k in missing)} before moving to {target.name!r}.",
        status_id=target.id,
        status_name=target.name,
        missing_fields=[{"field": k, "label": labels.get(k, k)} for k in missing],
    )


def client_values(definition: TypeDefinition, values: Mapping[str, Any]) -> dict[str, Any]:
    """Only what a client may see: values of active, client-visible fields."""
    shown = {f.key for f in definition.client_fields}
    return {key: value for key, value in values.items() if key in shown}
