"""Rewriting a type's workflow without corrupting a single item.

The new workflow is given whole, in order. Statuses keep their ids when named by id (or, for
entries without id, by name — which also brings a removed status back, with its history);
statuses left out are removed. Removal is explicit about items: any item still in a removed
status moves to the status the caller names for it, or the whole change is refused with the
count of items concerned. Moved items get an activity entry and a status-changed event, as
if someone had moved them, so every service's copy follows.

Removed statuses are archived rather than deleted, so item history can still name them.
Renames go through temporary names, so swapping two names never trips the unique constraint
mid-flush; a removed status whose name a kept one takes is renamed out of the way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from contracts.tickets import ItemSnapshot, ItemStatusChanged
from kit.http.problems import Problem
from kit.uow import UnitOfWork
from services.tickets.ids import new_id, now
from services.tickets.models import Item, ItemType, Status
from services.tickets.snapshots import item_snapshot
from services.tickets.types import repository

StatusSpec = tuple[str | None, str, str]
"""(id or None, name, category) of one status of the new workflow."""

CHUNK = 1_000  # ids per IN (...) list: far below every driver's parameter limit


async def apply(
    uow: UnitOfWork,
    row: ItemType,
    statuses: Sequence[StatusSpec],
    transitions: Sequence[tuple[str, str]] | None,
    migrations: Mapping[str, str],
    *,
    actor: str | None,
) -> None:
    """Make `statuses` the workflow of the type (locked by the caller) and `transitions` its
    allowed moves (None: every move), moving items out of removed statuses per `migrations`
    (removed status id → id or name of a status of the new workflow)."""
    session = uow.session
    existing = await repository.statuses(session, row.workspace_id, [row.id], include_archived=True)
    before = [s for s in existing if s.archived_at is None]
    plan = _match(existing, statuses)
    kept = {current.id for _, current in plan if current is not None}
    removed = [s for s in before if s.id not in kept]
    targets = _migration_targets(plan, removed, migrations)
    counts = await repository.items_per_status(
        session, row.workspace_id, row.id, [s.id for s in removed]
    )
    blocked = [s for s in removed if counts.get(s.id) and s.id not in targets]
    if blocked:
        raise Problem(
            422,
            "status-in-use",
            "Items still use statuses this change removes; say in `status_migrations` "
            "where they go.",
            statuses=[{"status_id": s.id, "name": s.name, "items": counts[s.id]} for s in blocked],
        )
    moves = (
        None
        if transitions is None
        else {(_resolve(plan, a), _resolve(plan, b)) for a, b in transitions}
    )
    names = {s.id: s.name for s in existing}
    at = now()
    written = await _write(uow, row, plan, existing, removed, at)
    for source in removed:
        if source.id in targets:
            target = written[targets[source.id]]
            await _migrate(uow, row, source, names[source.id], target, at, actor)
    await _move_gates(uow, row, before, kept)
    row.restrict_transitions = moves is not None
    await repository.replace_transitions(
        session,
        row.workspace_id,
        row.id,
        {(written[a].id, written[b].id) for a, b in moves or () if a != b},
    )


def _match(
    existing: Sequence[Status], specs: Sequence[StatusSpec]
) -> list[tuple[StatusSpec, Status | None]]:
    by_id = {s.id: s for s in existing}
    claimed = {status_id for status_id, _, _ in specs if status_id is not None}
    unknown = sorted(claimed - by_id.keys())
    if unknown:
        raise Problem(
            422, "unknown-status", "Some statuses are not this type's.", status_ids=unknown
        )
    by_name = {s.name.casefold(): s for s in existing if s.id not in claimed}
    plan: list[tuple[StatusSpec, Status | None]] = []
    names: set[str] = set()
    ids: set[str] = set()
    for spec in specs:
        status_id, name, _ = spec
        if name.casefold() in names:
            raise Problem(422, "duplicate-status", f"Two statuses are named {name!r}.")
        names.add(name.casefold())
        if status_id is not None:
            if status_id in ids:
                raise Problem(422, "duplicate-status", "A status is listed twice.")
            ids.add(status_id)
            plan.append((spec, by_id[status_id]))
        else:
            plan.append((spec, by_name.pop(name.casefold(), None)))
    return plan


def _resolve(plan: Sequence[tuple[StatusSpec, Status | None]], reference: str) -> int:
    """The position in the new workflow of a status named by id, else by name."""
    for index, (_, current) in enumerate(plan):
        if current is not None and current.id == reference:
            return index
    for index, ((_, name, _), _) in enumerate(plan):
        if name.casefold() == reference.casefold():
            return index
    raise Problem(
        422,
        "unknown-status",
        "A reference names no status of the new workflow.",
        reference=reference,
    )


def _migration_targets(
    plan: Sequence[tuple[StatusSpec, Status | None]],
    removed: Sequence[Status],
    migrations: Mapping[str, str],
) -> dict[str, int]:
    removed_ids = {s.id for s in removed}
    stray = sorted(set(migrations) - removed_ids)
    if stray:
        raise Problem(
            422,
            "invalid-status-migration",
            "`status_migrations` may only name statuses this change removes.",
            status_ids=stray,
        )
    return {source: _resolve(plan, target) for source, target in migrations.items()}


async def _write(
    uow: UnitOfWork,
    row: ItemType,
    plan: Sequence[tuple[StatusSpec, Status | None]],
    existing: Sequence[Status],
    removed: Sequence[Status],
    at: datetime,
) -> list[Status]:
    """Write the statuses; returns them in the new workflow's order."""
    session = uow.session
    final = {current.id: name for (_, name, _), current in plan if current is not None}
    taken = {name for (_, name, _), _ in plan}
    renamed = [
        s
        for s in existing
        if (s.id in final and s.name != final[s.id]) or (s.id not in final and s.name in taken)
    ]
    original = {s.id: s.name for s in renamed}
    for status in renamed:  # first out of everyone's way ...
        status.name = f"~{status.id}"
    if renamed:
        await session.flush()
    for status in renamed:  # ... then to the final names (a removed one keeps a marked name)
        status.name = final.get(status.id) or f"{original[status.id][:80]} ({status.id[-8:]})"
    recategorised: list[Status] = []
    written: list[Status] = []
    for position, ((_, name, category), current) in enumerate(plan):
        if current is None:
            current = Status(
                id=new_id(),
                workspace_id=row.workspace_id,
                type_id=row.id,
                name=name,
                category=category,
                position=position,
            )
            session.add(current)
        elif current.category != category:
            current.category = category
            recategorised.append(current)
        current.position = position
        current.archived_at = None
        written.append(current)
    for status in removed:
        status.archived_at = at
    await session.flush()
    for status in recategorised:
        await repository.recategorise_items(
            session, row.workspace_id, row.id, status.id, status.category
        )
    return written


async def _migrate(
    uow: UnitOfWork,
    row: ItemType,
    source: Status,
    source_name: str,
    target: Status,
    at: datetime,
    actor: str | None,
) -> None:
    """Move the items of a removed status, recording and announcing each move."""
    session = uow.session
    moved = await repository.move_items(
        session, row.workspace_id, row.id, source.id, target.id, target.category, at
    )
    for start in range(0, len(moved), CHUNK):
        chunk = moved[start : start + CHUNK]
        await repository.add_activity(
            session,
            [
                {
                    "id": new_id(),
                    "workspace_id": item.workspace_id,
                    "item_id": item.id,
                    "actor": actor,
                    "kind": "status_changed",
                    "changes": {"from": source_name, "to": target.name, "reason": "workflow"},
                    "visibility": "public",
                    "created_at": at,
                }
                for item in chunk
            ],
        )
        for snapshot in await _snapshots(uow, row, chunk, target):
            uow.emit(
                ItemStatusChanged(
                    item=snapshot,
                    from_status_id=UUID(source.id),
                    from_category=cast(Any, source.category),
                    to_status_id=UUID(target.id),
                    to_category=cast(Any, target.category),
                ),
                workspace=row.workspace_id,
                subject=f"item/{snapshot.id}",
            )


async def _snapshots(
    uow: UnitOfWork, row: ItemType, items: Sequence[Item], status: Status
) -> list[ItemSnapshot]:
    ids = [item.id for item in items]
    assignees: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for assignee in await repository.assignees_of(uow.session, row.workspace_id, ids):
        assignees[assignee.item_id].append((assignee.assignee_type, assignee.assignee_id))
    followers: dict[str, list[str]] = defaultdict(list)
    for follower in await repository.followers_of(uow.session, row.workspace_id, ids):
        followers[follower.item_id].append(follower.user_id)
    return [
        item_snapshot(
            item,
            kind=row.kind,
            status_name=status.name,
            status_category=status.category,
            assignees=assignees[item.id],
            followers=followers[item.id],
        )
        for item in items
    ]


async def _move_gates(
    uow: UnitOfWork, row: ItemType, before: Sequence[Status], kept: set[str]
) -> None:
    """A field required from a removed status becomes required from the next status that
    stays, so "from here on" keeps meaning the same stretch of the workflow."""
    order = [s.id for s in before]
    for field in await repository.fields(
        uow.session, row.workspace_id, [row.id], include_archived=True
    ):
        gate = field.required_from_status_id
        if gate is None or gate in kept or gate not in order:
            continue
        later = order[order.index(gate) + 1 :]
        field.required_from_status_id = next((s for s in later if s in kept), None)
