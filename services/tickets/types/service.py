"""Item types (W3) as the rest of the service uses them: loading a type's definition, the
defaults items fall back on, and announcing a type's whole state.

Admins write types in `admin` and fields in `fields`; everyone in the workspace reads them
(clients only their client-visible fields). The pure rules items apply
(`validate_custom_values`, `missing_for_status`, `transition_allowed`, ...) are defined beside
the definition and re-exported here, so callers need one import.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, cast
from uuid import UUID
from weakref import WeakKeyDictionary

from cachetools import LRUCache
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.tickets import FieldInfo, StatusInfo, TypeChanged
from kit.auth import Principal
from kit.http.problems import Problem
from kit.uow import UnitOfWork
from services.tickets.ids import new_id
from services.tickets.models import CustomField, ItemType, Status, Transition
from services.tickets.types import repository
from services.tickets.types.definition import (
    FieldDef,
    FieldType,
    Kind,
    StatusDef,
    TypeDefinition,
    client_values,
    is_empty,
    missing_fields_problem,
    missing_for_status,
    transition_allowed,
)
from services.tickets.types.values import validate_custom_values

__all__ = [
    "FieldDef",
    "StatusDef",
    "TypeDefinition",
    "announce",
    "client_values",
    "default_ticket_type",
    "default_type_id",
    "definitions",
    "find_type",
    "is_empty",
    "load_type",
    "locked_type",
    "missing_fields_problem",
    "missing_for_status",
    "publish_changes",
    "require_admin",
    "transition_allowed",
    "type_for_new_item",
    "type_not_found",
    "validate_custom_values",
]


def type_not_found() -> Problem:
    return Problem(404, "not-found", "No such item type.")


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Problem(403, "admin-only", "Only workspace admins configure item types.")


# --- reading ---------------------------------------------------------------------------

CACHE_SIZE = 4096
"""Definitions kept per database (engine), least recently used dropped first."""

_caches: WeakKeyDictionary[object, LRUCache[tuple[str, str], TypeDefinition]] = WeakKeyDictionary()


class TypeHead(Protocol):
    """A type's own row: an `ItemType` or a row of `repository.type_head`."""

    id: str
    workspace_id: str
    name: str
    icon: str
    kind: str
    restrict_transitions: bool
    archived_at: datetime | None
    revision: str


def _cache(session: AsyncSession) -> LRUCache[tuple[str, str], TypeDefinition] | None:
    """This database's definitions. A type's own row is read anyway (and, for item writes,
    share-locked); its `revision` token, replaced by every edit of the type (`locked_type`),
    says whether a kept definition is still the type's, in whichever process the edit ran."""
    bind = session.bind
    if bind is None:
        return None
    engine = getattr(bind, "sync_engine", bind)
    cache = _caches.get(engine)
    if cache is None:
        cache = _caches[engine] = LRUCache(maxsize=CACHE_SIZE)
    return cache


async def _definitions_of(
    session: AsyncSession, workspace_id: str, heads: Sequence[TypeHead]
) -> list[TypeDefinition]:
    """The definitions of these rows: kept ones whose revision still matches, the others read
    (in one round of queries) and kept."""
    cache = _cache(session)
    found: dict[str, TypeDefinition] = {}
    for head in heads:
        kept = cache.get((workspace_id, head.id)) if cache is not None else None
        if kept is not None and kept.revision == head.revision:
            found[head.id] = kept
    missing = [head for head in heads if head.id not in found]
    for definition in await _assemble(session, workspace_id, missing):
        found[definition.id] = definition
        if cache is not None:
            cache[(workspace_id, definition.id)] = definition
    return [found[head.id] for head in heads]


async def find_type(
    session: AsyncSession, workspace_id: str, type_id: str, *, lock: bool = False
) -> TypeDefinition | None:
    """The type with its workflow and fields; None when the workspace has no such type.

    `lock` takes a shared lock on the type until the transaction ends: an item written in
    that transaction then cannot land in a status a concurrent workflow edit is removing.
    """
    head = await repository.type_head(session, workspace_id, type_id=type_id, share=lock)
    if head is None:
        return None
    return (await _definitions_of(session, workspace_id, [cast(TypeHead, head)]))[0]


async def load_type(
    session: AsyncSession, workspace_id: str, type_id: str, *, lock: bool = False
) -> TypeDefinition:
    """As `find_type`, answering 404 (problem+json) for a type the workspace lacks."""
    found = await find_type(session, workspace_id, type_id, lock=lock)
    if found is None:
        raise type_not_found()
    return found


async def type_for_new_item(
    session: AsyncSession, workspace_id: str, type_id: str | None, kind: Kind
) -> TypeDefinition:
    """The type a new item gets, share-locked (see `find_type`): the one named, else the
    oldest active type of `kind` — in one query when its definition is kept."""
    if type_id is not None:
        return await load_type(session, workspace_id, type_id, lock=True)
    head = await repository.type_head(session, workspace_id, kind=kind, share=True)
    if head is None:
        raise _no_type_of(kind)
    return (await _definitions_of(session, workspace_id, [cast(TypeHead, head)]))[0]


async def definitions(
    session: AsyncSession, workspace_id: str, *, include_archived: bool = False
) -> list[TypeDefinition]:
    """Every type of the workspace, oldest first, in four queries whatever their number."""
    rows = await repository.item_types(session, workspace_id, include_archived=include_archived)
    return await _definitions_of(session, workspace_id, rows)


async def default_ticket_type(session: AsyncSession, workspace_id: str) -> TypeDefinition | None:
    """The type new tickets get when none is named (mail, portal): the oldest ticket type."""
    head = await repository.type_head(session, workspace_id, kind="ticket")
    if head is None:
        return None
    return (await _definitions_of(session, workspace_id, [cast(TypeHead, head)]))[0]


async def default_type_id(session: AsyncSession, workspace_id: str, kind: Kind) -> str:
    """The oldest active type of this kind; 422 when the workspace has none."""
    row = await repository.first_type_of_kind(session, workspace_id, kind)
    if row is None:
        raise _no_type_of(kind)
    return row.id


def _no_type_of(kind: Kind) -> Problem:
    return Problem(
        422, "no-item-type", f"This workspace has no {kind} type; name one with `type_id`."
    )


async def _assemble(
    session: AsyncSession, workspace_id: str, rows: Sequence[TypeHead]
) -> list[TypeDefinition]:
    if not rows:
        return []
    ids = [row.id for row in rows]
    statuses: dict[str, list[Status]] = defaultdict(list)
    for status in await repository.statuses(session, workspace_id, ids, include_archived=False):
        statuses[status.type_id].append(status)
    fields: dict[str, list[CustomField]] = defaultdict(list)
    for field in await repository.fields(session, workspace_id, ids, include_archived=False):
        fields[field.type_id].append(field)
    moves: dict[str, list[Transition]] = defaultdict(list)
    for move in await repository.transitions(session, workspace_id, ids):
        moves[move.type_id].append(move)
    return [_definition(row, statuses[row.id], moves[row.id], fields[row.id]) for row in rows]


def _definition(
    row: TypeHead,
    statuses: Sequence[Status],
    moves: Sequence[Transition],
    fields: Sequence[CustomField],
) -> TypeDefinition:
    ordered = sorted(statuses, key=lambda s: (s.position, s.id))
    return TypeDefinition(
        id=row.id,
        workspace_id=row.workspace_id,
        name=row.name,
        icon=row.icon,
        kind=cast(Kind, row.kind),
        archived=row.archived_at is not None,
        statuses=tuple(
            StatusDef(s.id, s.name, cast(Any, s.category), i) for i, s in enumerate(ordered)
        ),
        restrict_transitions=row.restrict_transitions,
        transitions=frozenset((m.from_status_id, m.to_status_id) for m in moves),
        fields=tuple(
            FieldDef(
                id=f.id,
                key=f.key,
                label=f.label,
                field_type=cast(FieldType, f.field_type),
                options=tuple(f.options or ()),
                required=f.required,
                required_from_status_id=f.required_from_status_id,
                client_visible=f.client_visible,
                position=f.position,
            )
            for f in sorted(fields, key=lambda f: (f.position, f.key))
        ),
        revision=row.revision,
    )


def announce(uow: UnitOfWork, definition: TypeDefinition) -> None:
    """Publish the type's whole state: consumers replace their copy, no history needed."""
    uow.emit(
        TypeChanged(
            type_id=UUID(definition.id),
            workspace_id=UUID(definition.workspace_id),
            name=definition.name,
            kind=definition.kind,
            statuses=[
                StatusInfo(id=UUID(s.id), name=s.name, category=s.category, position=s.position)
                for s in definition.statuses
            ],
            fields=[
                FieldInfo(
                    id=UUID(f.id),
                    key=f.key,
                    label=f.label,
                    field_type=f.field_type,
                    required=f.required,
                    client_visible=f.client_visible,
                )
                for f in definition.fields
            ],
            archived=definition.archived,
        ),
        workspace=definition.workspace_id,
        subject=f"type/{definition.id}",
    )


# --- writing (shared by `admin` and `fields`) --------------------------------------------


async def locked_type(uow: UnitOfWork, principal: Principal, type_id: str) -> ItemType:
    """The caller's workspace's type, locked for writing (404 when it has no such type)."""
    row = await repository.item_type(uow.session, principal.workspace_id, type_id, lock=True)
    if row is None:
        raise type_not_found()
    # Whatever the caller then changes, definitions kept of the old state stop being used
    # (in every process) once this commits; a rollback brings back the old token, whose
    # definition is still right.
    row.revision = new_id()
    return row


async def publish_changes(uow: UnitOfWork, row: ItemType) -> TypeDefinition:
    """The type as written so far, announced whole."""
    await uow.session.flush()
    definition = await load_type(uow.session, row.workspace_id, row.id)
    announce(uow, definition)
    return definition
