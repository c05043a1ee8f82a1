"""Writing custom fields (admins only). A field's key and type never change, since the values
items hold depend on both; removing a field hides it, and adding its key back restores it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kit.auth import Principal
from kit.http.problems import Problem
from kit.uow import UnitOfWork
from services.tickets.ids import new_id, now
from services.tickets.models import CustomField, ItemType
from services.tickets.types import repository
from services.tickets.types.definition import CHOICE_TYPES, TypeDefinition
from services.tickets.types.schemas import FieldCreate
from services.tickets.types.service import locked_type, publish_changes, require_admin


async def add_field(
    uow: UnitOfWork, principal: Principal, type_id: str, body: FieldCreate
) -> TypeDefinition:
    """Add a field; adding back a removed field's key restores it (and the values items kept),
    unless the field type differs, which those values would not fit."""
    require_admin(principal)
    row = await locked_type(uow, principal, type_id)
    existing = {
        f.key: f
        for f in await repository.fields(
            uow.session, row.workspace_id, [row.id], include_archived=True
        )
    }
    position = 1 + max((f.position for f in existing.values()), default=-1)
    old = existing.get(body.key)
    if old is not None and old.archived_at is None:
        raise Problem(409, "field-exists", f"This type already has a field {body.key!r}.")
    if old is not None and old.field_type != body.field_type:
        raise Problem(
            409,
            "field-key-taken",
            f"A removed {old.field_type} field used the key {body.key!r}; items still hold its "
            "values, so choose another key.",
        )
    if old is not None:
        old.archived_at = None
        old.position = position
        await _write_field(uow, row, old, body.model_dump())
    else:
        await insert_field(uow, row, body, position)
    return await publish_changes(uow, row)


async def update_field(
    uow: UnitOfWork, principal: Principal, type_id: str, field_id: str, requested: Mapping[str, Any]
) -> TypeDefinition:
    """Change the given attributes. Values items hold are never rewritten: an option taken out
    stays in the items that chose it, and is refused only when a value is next written."""
    require_admin(principal)
    row = await locked_type(uow, principal, type_id)
    field = await _active_field(uow, row, field_id)
    await _write_field(uow, row, field, requested)
    return await publish_changes(uow, row)


async def remove_field(
    uow: UnitOfWork, principal: Principal, type_id: str, field_id: str
) -> TypeDefinition:
    """Hide the field; items keep their values (adding the key back shows them again)."""
    require_admin(principal)
    row = await locked_type(uow, principal, type_id)
    field = await _active_field(uow, row, field_id)
    field.archived_at = now()
    return await publish_changes(uow, row)


async def _active_field(uow: UnitOfWork, row: ItemType, field_id: str) -> CustomField:
    for field in await repository.fields(
        uow.session, row.workspace_id, [row.id], include_archived=False
    ):
        if field.id == field_id:
            return field
    raise Problem(404, "not-found", "No such field.")


async def insert_field(uow: UnitOfWork, row: ItemType, body: FieldCreate, position: int) -> None:
    existing = await repository.fields(
        uow.session, row.workspace_id, [row.id], include_archived=True
    )
    if any(f.key == body.key for f in existing):
        raise Problem(409, "field-exists", f"This type already has a field {body.key!r}.")
    field = CustomField(
        id=new_id(),
        workspace_id=row.workspace_id,
        type_id=row.id,
        key=body.key,
        label=body.label,
        field_type=body.field_type,
        options=[],
        required=False,
        client_visible=False,
        position=position,
    )
    await _write_field(uow, row, field, body.model_dump(exclude={"key", "field_type"}))
    uow.session.add(field)
    await uow.session.flush()


async def _write_field(
    uow: UnitOfWork, row: ItemType, field: CustomField, requested: Mapping[str, Any]
) -> None:
    """Apply the given attributes after checking them against the field's type and workflow."""
    if "options" in requested and requested["options"] is not None:
        field.options = _options(field.field_type, requested["options"])
    elif field.field_type in CHOICE_TYPES and not field.options:
        raise _bad_options("A choice field needs at least one option.")
    if "required_from_status_id" in requested:
        field.required_from_status_id = await _gate(uow, row, requested["required_from_status_id"])
    for key in ("label", "required", "client_visible", "position"):
        if requested.get(key) is not None:
            setattr(field, key, requested[key])


def _options(field_type: str, options: Sequence[str]) -> list[str]:
    if field_type not in CHOICE_TYPES:
        if options:
            raise _bad_options("Only choice fields have options.")
        return []
    if not options:
        raise _bad_options("A choice field needs at least one option.")
    if len({o.casefold() for o in options}) != len(options):
        raise _bad_options("Options must differ from one another.")
    return list(options)


def _bad_options(detail: str) -> Problem:
    return Problem(422, "invalid-options", detail)


async def _gate(uow: UnitOfWork, row: ItemType, reference: str | None) -> str | None:
    """A field's `required_from_status_id`: an active status of its type, by id or name."""
    if reference is None:
        return None
    for status in await repository.statuses(
        uow.session, row.workspace_id, [row.id], include_archived=False
    ):
        if reference in (status.id, status.name):
            return status.id
    raise Problem(
        422,
        "unknown-status",
        "`required_from_status_id` must name a status of this type.",
        status_id=reference,
    )
