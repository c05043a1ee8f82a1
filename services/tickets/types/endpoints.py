"""Item types, their workflows and custom fields (W3): admins write, everyone reads."""

from __future__ import annotations

from fastapi import APIRouter, Query

from kit.auth import Principal
from services.tickets.dependencies import Caller, UoW
from services.tickets.types import admin, fields, service
from services.tickets.types.definition import TypeDefinition
from services.tickets.types.schemas import (
    CustomField,
    FieldCreate,
    FieldUpdate,
    ItemType,
    Status,
    TransitionRule,
    TypeCreate,
    TypeUpdate,
    WorkflowUpdate,
)

router = APIRouter(tags=["types"])


def type_out(definition: TypeDefinition, principal: Principal) -> ItemType:
    """Clients see only the fields marked client-visible."""
    fields = definition.client_fields if principal.is_client else definition.fields
    return ItemType(
        id=definition.id,
        name=definition.name,
        icon=definition.icon,
        kind=definition.kind,
        archived=definition.archived,
        statuses=[
            Status(id=s.id, name=s.name, category=s.category, position=s.position)
            for s in definition.statuses
        ],
        transitions=[
            TransitionRule(from_status_id=a, to_status_id=b)
            for a, b in sorted(definition.transitions)
        ]
        if definition.restrict_transitions
        else None,
        fields=[
            CustomField(
                id=f.id,
                key=f.key,
                label=f.label,
                field_type=f.field_type,
                options=list(f.options),
                required=f.required,
                required_from_status_id=f.required_from_status_id,
                client_visible=f.client_visible,
                position=f.position,
            )
            for f in fields
        ],
    )


def _moves(rules: list[TransitionRule] | None) -> list[tuple[str, str]] | None:
    return None if rules is None else [(r.from_status_id, r.to_status_id) for r in rules]


@router.get("/types", response_model=list[ItemType])
async def list_types(principal: Caller, uow: UoW, include_archived: bool = False) -> list[ItemType]:
    found = await service.definitions(
        uow.session, principal.workspace_id, include_archived=include_archived
    )
    return [type_out(d, principal) for d in found]


@router.post("/types", status_code=201, response_model=ItemType)
async def create_type(body: TypeCreate, principal: Caller, uow: UoW) -> ItemType:
    """Create a type; without `statuses` it gets the default workflow of its kind."""
    definition = await admin.create_type(
        uow,
        principal,
        name=body.name,
        icon=body.icon,
        kind=body.kind,
        statuses=None
        if body.statuses is None
        else [(s.id, s.name, s.category) for s in body.statuses],
        transitions=_moves(body.transitions),
        fields=body.fields,
    )
    await uow.commit()
    return type_out(definition, principal)


@router.get("/types/{type_id}", response_model=ItemType)
async def get_type(type_id: str, principal: Caller, uow: UoW) -> ItemType:
    return type_out(
        await service.load_type(uow.session, principal.workspace_id, type_id), principal
    )


@router.patch("/types/{type_id}", response_model=ItemType)
async def update_type(type_id: str, body: TypeUpdate, principal: Caller, uow: UoW) -> ItemType:
    definition = await admin.update_type(
        uow, principal, type_id, body.model_dump(exclude_unset=True)
    )
    await uow.commit()
    return type_out(definition, principal)


@router.post("/types/{type_id}/archive", response_model=ItemType)
async def archive_type(type_id: str, principal: Caller, uow: UoW) -> ItemType:
    definition = await admin.set_type_archived(uow, principal, type_id, True)
    await uow.commit()
    return type_out(definition, principal)


@router.post("/types/{type_id}/restore", response_model=ItemType)
async def restore_type(type_id: str, principal: Caller, uow: UoW) -> ItemType:
    definition = await admin.set_type_archived(uow, principal, type_id, False)
    await uow.commit()
    return type_out(definition, principal)


@router.put("/types/{type_id}/workflow", response_model=ItemType)
async def set_workflow(type_id: str, body: WorkflowUpdate, principal: Caller, uow: UoW) -> ItemType:
    """Replace the workflow. Removing a status items still use needs `status_migrations`
    (else 422 `status-in-use`, with how many items each such status holds)."""
    definition = await admin.set_workflow(
        uow,
        principal,
        type_id,
        [(s.id, s.name, s.category) for s in body.statuses],
        _moves(body.transitions),
        body.status_migrations,
    )
    await uow.commit()
    return type_out(definition, principal)


@router.delete("/types/{type_id}/statuses/{status_id}", response_model=ItemType)
async def remove_status(
    type_id: str,
    status_id: str,
    principal: Caller,
    uow: UoW,
    migrate_to_status_id: str | None = Query(
        default=None, description="Where the status's items go; required when it has any."
    ),
) -> ItemType:
    definition = await admin.remove_status(uow, principal, type_id, status_id, migrate_to_status_id)
    await uow.commit()
    return type_out(definition, principal)


@router.post("/types/{type_id}/fields", status_code=201, response_model=ItemType)
async def add_field(type_id: str, body: FieldCreate, principal: Caller, uow: UoW) -> ItemType:
    definition = await fields.add_field(uow, principal, type_id, body)
    await uow.commit()
    return type_out(definition, principal)


@router.patch("/types/{type_id}/fields/{field_id}", response_model=ItemType)
async def update_field(
    type_id: str, field_id: str, body: FieldUpdate, principal: Caller, uow: UoW
) -> ItemType:
    definition = await fields.update_field(
        uow, principal, type_id, field_id, body.model_dump(exclude_unset=True)
    )
    await uow.commit()
    return type_out(definition, principal)


@router.delete("/types/{type_id}/fields/{field_id}", response_model=ItemType)
async def remove_field(type_id: str, field_id: str, principal: Caller, uow: UoW) -> ItemType:
    """Hide the field; items keep their values."""
    definition = await fields.remove_field(uow, principal, type_id, field_id)
    await uow.commit()
    return type_out(definition, principal)
