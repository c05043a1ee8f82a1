"""Queries on rates, availability, days off and retainers, and the billable work of a client.

Every query is bound to one workspace. Labels (item, project, person names) come from the
local projections by outer join, so an entry whose item has not been projected yet is
still billed, only with an empty title.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.timetracking.models import (
    Availability,
    DayOff,
    ItemRef,
    OrganisationRef,
    PersonRef,
    ProjectRef,
    Rate,
    Retainer,
    TimeEntry,
    WorkspacePolicy,
)

Row = TypeVar("Row", Rate, Availability, DayOff, Retainer)
AnySelect = Select[*tuple[Any, ...]]


async def one(session: AsyncSession, kind: type[Row], workspace_id: str, row_id: str) -> Row | None:
    result = await session.execute(
        select(kind).where(kind.workspace_id == workspace_id, kind.id == row_id)
    )
    return result.scalar_one_or_none()


# --- rates -----------------------------------------------------------------------------


async def rates(
    session: AsyncSession,
    workspace_id: str,
    *,
    scope: str | None = None,
    scope_id: str | None = None,
) -> list[Rate]:
    query = select(Rate).where(Rate.workspace_id == workspace_id)
    if scope is not None:
        query = query.where(Rate.scope == scope)
    if scope_id is not None:
        query = query.where(Rate.scope_id == scope_id)
    result = await session.execute(
        query.order_by(Rate.scope, Rate.scope_id, Rate.effective_from, Rate.id)
    )
    return list(result.scalars())


async def rate_clash(
    session: AsyncSession,
    workspace_id: str,
    *,
    scope: str,
    scope_id: str | None,
    effective_from: date,
    excluding: str | None = None,
) -> bool:
    """Another rate of the same scope from the same day: which one applies would be a coin
    toss."""
    same_target = Rate.scope_id.is_(None) if scope_id is None else Rate.scope_id == scope_id
    return await _exists(
        session,
        select(Rate.id).where(
            Rate.workspace_id == workspace_id,
            Rate.scope == scope,
            same_target,
            Rate.effective_from == effective_from,
            Rate.id != (excluding or ""),
        ),
    )


# --- availability, days off, retainers ---------------------------------------------------


async def availabilities(
    session: AsyncSession, workspace_id: str, user_id: str | None = None
) -> list[Availability]:
    query = select(Availability).where(Availability.workspace_id == workspace_id)
    if user_id is not None:
        query = query.where(Availability.user_id == user_id)
    result = await session.execute(
        query.order_by(Availability.user_id, Availability.effective_from)
    )
    return list(result.scalars())


async def availability_clash(
    session: AsyncSession,
    workspace_id: str,
    user_id: str,
    effective_from: date,
    excluding: str | None = None,
) -> bool:
    return await _exists(
        session,
        select(Availability.id).where(
            Availability.workspace_id == workspace_id,
            Availability.user_id == user_id,
            Availability.effective_from == effective_from,
            Availability.id != (excluding or ""),
        ),
    )


async def days_off(
    session: AsyncSession,
    workspace_id: str,
    *,
    user_id: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> list[DayOff]:
    query = select(DayOff).where(DayOff.workspace_id == workspace_id)
    if user_id is not None:
        query = query.where(DayOff.user_id == user_id)
    if start is not None:
        query = query.where(DayOff.day >= start)
    if end is not None:
        query = query.where(DayOff.day <= end)
    result = await session.execute(query.order_by(DayOff.day, DayOff.user_id))
    return list(result.scalars())


async def day_off_exists(session: AsyncSession, workspace_id: str, user_id: str, day: date) -> bool:
    return await _exists(
        session,
        select(DayOff.id).where(
            DayOff.workspace_id == workspace_id, DayOff.user_id == user_id, DayOff.day == day
        ),
    )


async def retainers(
    session: AsyncSession, workspace_id: str, organisation_id: str | None = None
) -> list[Retainer]:
    query = select(Retainer).where(Retainer.workspace_id == workspace_id)
    if organisation_id is not None:
        query = query.where(Retainer.organisation_id == organisation_id)
    result = await session.execute(
        query.order_by(Retainer.organisation_id, Retainer.effective_from)
    )
    return list(result.scalars())


async def retainer_clash(
    session: AsyncSession,
    workspace_id: str,
    organisation_id: str,
    effective_from: date,
    excluding: str | None = None,
) -> bool:
    return await _exists(
        session,
        select(Retainer.id).where(
            Retainer.workspace_id == workspace_id,
            Retainer.organisation_id == organisation_id,
            Retainer.effective_from == effective_from,
            Retainer.id != (excluding or ""),
        ),
    )


# --- billing ---------------------------------------------------------------------------


async def approval_required(session: AsyncSession, workspace_id: str) -> bool:
    """No policy row yet means the default: entries need no approval."""
    found = await session.scalar(
        select(WorkspacePolicy.approval_required).where(
            WorkspacePolicy.workspace_id == workspace_id
        )
    )
    return bool(found)


async def organisation_name(
    session: AsyncSession, workspace_id: str, organisation_id: str
) -> str | None:
    return await session.scalar(
        select(OrganisationRef.name).where(
            OrganisationRef.workspace_id == workspace_id, OrganisationRef.id == organisation_id
        )
    )


@dataclass(frozen=True)
class BillableWork:
    """Billable minutes of one person on one item on one day: one entry, or the sum of
    that day's entries when grouping (a rate can only change from one day to the next)."""

    worked_on: date
    entry_id: str | None
    item_id: str
    item_number: int | None
    item_title: str
    project_id: str
    project_name: str
    organisation_id: str | None
    user_id: str
    person_name: str
    activity_type: str
    note: str
    minutes: int


def _billable(
    workspace_id: str, organisation_id: str, start: date, end: date, approved_only: bool
) -> list[ColumnElement[bool]]:
    conditions = [
        TimeEntry.workspace_id == workspace_id,
        TimeEntry.organisation_id == organisation_id,
        TimeEntry.worked_on >= start,
        TimeEntry.worked_on <= end,
        TimeEntry.deleted_at.is_(None),
        TimeEntry.billable.is_(True),
        TimeEntry.status != "rejected",
    ]
    if approved_only:
        conditions.append(TimeEntry.status == "approved")
    return conditions


def _labelled(query: AnySelect, workspace_id: str) -> AnySelect:
    return (
        query.outerjoin(
            ItemRef, and_(ItemRef.id == TimeEntry.item_id, ItemRef.workspace_id == workspace_id)
        )
        .outerjoin(
            ProjectRef,
            and_(ProjectRef.id == TimeEntry.project_id, ProjectRef.workspace_id == workspace_id),
        )
        .outerjoin(
            PersonRef,
            and_(PersonRef.id == TimeEntry.user_id, PersonRef.workspace_id == workspace_id),
        )
    )


def _person_name() -> ColumnElement[str]:
    """The display name, else the e-mail, else nothing (the person is not projected yet)."""
    return func.coalesce(
        func.nullif(PersonRef.display_name, ""), func.nullif(PersonRef.email, ""), ""
    )


async def billable_work(
    session: AsyncSession,
    workspace_id: str,
    organisation_id: str,
    start: date,
    end: date,
    *,
    approved_only: bool,
    per_day: bool,
) -> list[BillableWork]:
    """Billable, unflagged work for a client in a period, oldest first: one row per entry,
    or (`per_day`) summed per person, item and day in SQL."""
    conditions = [
        *_billable(workspace_id, organisation_id, start, end, approved_only),
        TimeEntry.flagged.is_(False),
    ]
    labels = (
        ItemRef.number,
        func.coalesce(ItemRef.title, "").label("item_title"),
        func.coalesce(ProjectRef.name, "").label("project_name"),
        _person_name().label("person_name"),
    )
    if per_day:
        keys = (
            TimeEntry.worked_on,
            TimeEntry.item_id,
            TimeEntry.user_id,
            TimeEntry.project_id,
            TimeEntry.organisation_id,
        )
        query = _labelled(
            select(*keys, *labels, func.sum(TimeEntry.minutes).label("minutes")), workspace_id
        ).where(*conditions)
        query = query.group_by(
            *keys, ItemRef.number, ItemRef.title, ProjectRef.name, *_person_columns()
        )
        order: tuple[Any, ...] = (TimeEntry.worked_on, ItemRef.number, TimeEntry.user_id)
    else:
        query = _labelled(
            select(
                TimeEntry.worked_on,
                TimeEntry.id,
                TimeEntry.item_id,
                TimeEntry.user_id,
                TimeEntry.project_id,
                TimeEntry.organisation_id,
                TimeEntry.activity_type,
                TimeEntry.note,
                TimeEntry.minutes,
                *labels,
            ),
            workspace_id,
        ).where(*conditions)
        order = (TimeEntry.worked_on, TimeEntry.started_at, TimeEntry.created_at, TimeEntry.id)
    result = await session.execute(query.order_by(*order))
    return [
        BillableWork(
            worked_on=row.worked_on,
            entry_id=None if per_day else row.id,
            item_id=row.item_id,
            item_number=row.number,
            item_title=row.item_title,
            project_id=row.project_id,
            project_name=row.project_name,
            organisation_id=row.organisation_id,
            user_id=row.user_id,
            person_name=row.person_name,
            activity_type="" if per_day else row.activity_type,
            note="" if per_day else row.note,
            minutes=int(row.minutes),
        )
        for row in result
    ]


def _person_columns() -> tuple[Any, ...]:
    return (PersonRef.display_name, PersonRef.email)


async def flagged_minutes(
    session: AsyncSession,
    workspace_id: str,
    organisation_id: str,
    start: date,
    end: date,
    *,
    approved_only: bool,
) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(TimeEntry.minutes), 0)).where(
            *_billable(workspace_id, organisation_id, start, end, approved_only),
            TimeEntry.flagged.is_(True),
        )
    )
    return int(total or 0)


async def _exists(session: AsyncSession, query: AnySelect) -> bool:
    return (await session.execute(query.limit(1))).first() is not None
