"""Writing item types (admins only): creating them with their workflow and fields, renaming,
archiving, and the workflow edits whose item-safe mechanics live in `workflow`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kit.auth import Principal
from kit.http.problems import Problem
from kit.uow import UnitOfWork
from services.tickets.ids import new_id, now
from services.tickets.models import ItemType
from services.tickets.types import repository, workflow
from services.tickets.types.definition import Kind, TypeDefinition
from services.tickets.types.fields import insert_field
from services.tickets.types.schemas import FieldCreate
from services.tickets.types.service import (
    announce,
    load_type,
    locked_type,
    publish_changes,
    require_admin,
)
from services.tickets.types.workflow import StatusSpec


async def create_type(
    uow: UnitOfWork,
    principal: Principal,
    *,
    name: str,
    icon: str,
    kind: Kind,
    statuses: Sequence[StatusSpec] | None,
    transitions: Sequence[tuple[str, str]] | None,
    fields: Sequence[FieldCreate],
) -> TypeDefinition:
    require_admin(principal)
    return await add_type(
        uow,
        workspace_id=principal.workspace_id,
        name=name,
        icon=icon,
        kind=kind,
        statuses=statuses,
        transitions=transitions,
        fields=fields,
    )


DEFAULT_WORKFLOWS: Mapping[Kind, tuple[tuple[str, str], ...]] = {
    "ticket": (
        ("New", "new"),
        ("Open", "open"),
        ("In progress", "in_progress"),
        ("Waiting on client", "waiting"),
        ("Resolved", "done"),
        ("Closed", "closed"),
    ),
    "task": (("To do", "new"), ("In progress", "in_progress"), ("Done", "done")),
}
"""The workflow a type gets when created without one (and a new workspace's types)."""


async def add_type(
    uow: UnitOfWork,
    *,
    workspace_id: str,
    name: str,
    icon: str,
    kind: Kind,
    statuses: Sequence[StatusSpec] | None = None,
    transitions: Sequence[tuple[str, str]] | None = None,
    fields: Sequence[FieldCreate] = (),
) -> TypeDefinition:
    """Create and announce a type, with no access check (a workspace's defaults use it too).

    `statuses` are (id, name, category) in workflow order (ids must be None here);
    `transitions` (from, to) name statuses by name; fields may name their gate by name too.
    """
    if await repository.item_type_named(uow.session, workspace_id, name):
        raise Problem(409, "type-exists", f"A type named {name!r} exists.")
    row = ItemType(
        id=new_id(),
        workspace_id=workspace_id,
        name=name,
        icon=icon,
        kind=kind,
        restrict_transitions=False,
        created_at=now(),
    )
    uow.session.add(row)
    await uow.session.flush()
    wanted = (
        statuses if statuses is not None else [(None, n, c) for n, c in DEFAULT_WORKFLOWS[kind]]
    )
    if any(status_id is not None for status_id, _, _ in wanted):
        raise Problem(422, "unknown-status", "A new type's statuses cannot have ids yet.")
    await workflow.apply(uow, row, wanted, transitions, {}, actor=None)
    for position, body in enumerate(fields):
        await insert_field(uow, row, body, position)
    definition = await load_type(uow.session, workspace_id, row.id)
    announce(uow, definition)
    return definition


async def update_type(
    uow: UnitOfWork, principal: Principal, type_id: str, requested: Mapping[str, Any]
) -> TypeDefinition:
    """Rename, change the icon, or change the kind (items of the type follow: a ticket type
    made a task type makes its items tasks)."""
    require_admin(principal)
    row = await locked_type(uow, principal, type_id)
    name = requested.get("name")
    if name is not None and name != row.name:
        other = await repository.item_type_named(uow.session, row.workspace_id, name)
        if other is not None and other.id != row.id:
            raise Problem(409, "type-exists", f"A type named {name!r} exists.")
        row.name = name
    if requested.get("icon") is not None:
        row.icon = requested["icon"]
    if requested.get("kind") is not None:
        row.kind = requested["kind"]
    return await publish_changes(uow, row)


async def set_type_archived(
    uow: UnitOfWork, principal: Principal, type_id: str, archived: bool
) -> TypeDefinition:
    """An archived type takes no new items; its items keep it and stay editable."""
    require_admin(principal)
    row = await locked_type(uow, principal, type_id)
    row.archived_at = (row.archived_at or now()) if archived else None
    return await publish_changes(uow, row)


async def set_workflow(
    uow: UnitOfWork,
    principal: Principal,
    type_id: str,
    statuses: Sequence[StatusSpec],
    transitions: Sequence[tuple[str, str]] | None,
    migrations: Mapping[str, str],
) -> TypeDefinition:
    """Replace the workflow (see `workflow.apply`: removing a status that items use needs a
    migration target for it, else 422 `status-in-use` with the counts)."""
    require_admin(principal)
    row = await locked_type(uow, principal, type_id)
    await workflow.apply(uow, row, statuses, transitions, migrations, actor=principal.subject)
    return await publish_changes(uow, row)


async def remove_status(
    uow: UnitOfWork,
    principal: Principal,
    type_id: str,
    status_id: str,
    migrate_to_status_id: str | None,
) -> TypeDefinition:
    """Remove one status, moving its items to `migrate_to_status_id`; the rest of the workflow
    (order, allowed moves between the remaining statuses) stays as it is."""
    require_admin(principal)
    current = await load_type(uow.session, principal.workspace_id, type_id)
    if current.find_status(status_id) is None:
        raise Problem(404, "not-found", "No such status.")
    if len(current.statuses) == 1:
        raise Problem(422, "last-status", "A workflow needs at least one status.")
    remaining = [(s.id, s.name, s.category) for s in current.statuses if s.id != status_id]
    moves = (
        [(a, b) for a, b in current.transitions if status_id not in (a, b)]
        if current.restrict_transitions
        else None
    )
    migrations = {status_id: migrate_to_status_id} if migrate_to_status_id else {}
    return await set_workflow(uow, principal, type_id, remaining, moves, migrations)
