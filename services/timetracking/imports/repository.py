"""Bulk look-ups an import needs, bound to one workspace: items by number or id, people by
e-mail or id, and which import keys are already taken."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.timetracking.models import ItemRef, PersonRef, TimeEntry

CHUNK = 1_000
"""Values per IN (…) list, well under every driver's parameter limit."""


def _chunks(values: Collection[str] | Collection[int]) -> Iterator[Sequence[str | int]]:
    ordered: list[str | int] = sorted(values, key=str)
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start : start + CHUNK]


async def items(
    session: AsyncSession, workspace_id: str, numbers: Collection[int], ids: Collection[str]
) -> list[ItemRef]:
    """Items not deleted (new time is never logged on deleted ones) with these numbers or ids."""
    found: list[ItemRef] = []
    for column, values in ((ItemRef.number, numbers), (ItemRef.id, ids)):
        for chunk in _chunks(values):
            rows = await session.scalars(
                select(ItemRef).where(
                    ItemRef.workspace_id == workspace_id,
                    ItemRef.deleted.is_(False),
                    column.in_(chunk),
                )
            )
            found.extend(rows)
    return found


async def people(
    session: AsyncSession, workspace_id: str, emails: Collection[str], ids: Collection[str]
) -> list[PersonRef]:
    """People with these (case-folded) e-mails or ids, oldest id first."""
    found: list[PersonRef] = []
    for column, values in ((func.lower(PersonRef.email), emails), (PersonRef.id, ids)):
        for chunk in _chunks(values):
            rows = await session.scalars(
                select(PersonRef)
                .where(PersonRef.workspace_id == workspace_id, column.in_(chunk))
                .order_by(PersonRef.id)
            )
            found.extend(rows)
    return found


async def taken_import_keys(
    session: AsyncSession, workspace_id: str, keys: Collection[str]
) -> set[str]:
    taken: set[str] = set()
    for chunk in _chunks(keys):
        rows = await session.scalars(
            select(TimeEntry.import_key).where(
                TimeEntry.workspace_id == workspace_id, TimeEntry.import_key.in_(chunk)
            )
        )
        taken.update(key for key in rows if key is not None)
    return taken
