"""The reports' queries: every sum of time is a GROUP BY in the database, on PostgreSQL and
SQLite alike.

Periods are computed in SQL by `week_start` / `month_start`, which compile to
`date_trunc` on PostgreSQL and to SQLite's date modifiers elsewhere, both giving the ISO
Monday or the first of the month as a DATE. They render literals only (no bound
parameters), so the same expression in SELECT and GROUP BY is recognised as one by
PostgreSQL.

What a caller may see is an `EntryScope` (built by the service from kit.access): it
always carries the workspace, so no query here can read another tenant's rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    SQLColumnExpression,
    and_,
    case,
    func,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from kit.access import ProjectScope
from services.timetracking.models import (
    Availability,
    DayOff,
    ItemRef,
    OrganisationRef,
    PersonRef,
    ProjectRef,
    Retainer,
    TimeEntry,
)
from services.timetracking.reports.calendar import Period

AnySelect = Select[*tuple[Any, ...]]

OPEN_CATEGORIES = ("new", "open", "in_progress", "waiting")
"""Status categories of work still to do; `done` and `closed` items need no more time."""


# --- periods in SQL --------------------------------------------------------------------


class week_start(FunctionElement[date]):  # noqa: N801 - reads as the SQL function it is
    """The Monday of the date's ISO week."""

    type = Date()
    name = "week_start"
    inherit_cache = True


class month_start(FunctionElement[date]):  # noqa: N801
    """The first day of the date's month."""

    type = Date()
    name = "month_start"
    inherit_cache = True


@compiles(week_start, "postgresql")
def _week_start_pg(element: week_start, compiler: SQLCompiler, **kw: Any) -> str:
    # A DATE would be widened to timestamptz, and truncated in the session's time zone.
    day = compiler.process(element.clauses, **kw)
    return f"CAST(date_trunc('week', CAST({day} AS TIMESTAMP)) AS DATE)"


@compiles(month_start, "postgresql")
def _month_start_pg(element: month_start, compiler: SQLCompiler, **kw: Any) -> str:
    day = compiler.process(element.clauses, **kw)
    return f"CAST(date_trunc('month', CAST({day} AS TIMESTAMP)) AS DATE)"


@compiles(week_start)
def _week_start_sqlite(element: week_start, compiler: SQLCompiler, **kw: Any) -> str:
    # 'weekday 0' moves forward to the next Sunday unless it is one; six days back is Monday.
    return f"date({compiler.process(element.clauses, **kw)}, 'weekday 0', '-6 days')"


@compiles(month_start)
def _month_start_sqlite(element: month_start, compiler: SQLCompiler, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)}, 'start of month')"


def period_of(period: Period, column: SQLColumnExpression[date]) -> FunctionElement[date]:
    return week_start(column) if period == "week" else month_start(column)


# --- who sees what ---------------------------------------------------------------------


@dataclass(frozen=True)
class EntryScope:
    """The time entries a report may sum for one caller: those of the workspace on the
    given projects, plus (when set) all of one person's own."""

    workspace_id: str
    projects: ProjectScope
    own_user_id: str | None = None

    @property
    def whole_workspace(self) -> bool:
        return self.projects.whole_workspace

    def entries(self) -> list[ColumnElement[bool]]:
        """Entries in scope that count as logged time: not deleted, not rejected."""
        visible = self.projects.clause(TimeEntry.project_id)
        if self.own_user_id is not None and not self.projects.whole_workspace:
            visible = or_(visible, TimeEntry.user_id == self.own_user_id)
        return [
            TimeEntry.workspace_id == self.workspace_id,
            TimeEntry.deleted_at.is_(None),
            TimeEntry.status != "rejected",
            visible,
        ]


def _in_range(start: date, end: date) -> ColumnElement[bool]:
    return and_(TimeEntry.worked_on >= start, TimeEntry.worked_on <= end)


def _billable_minutes() -> ColumnElement[int]:
    return func.sum(case((TimeEntry.billable.is_(True), TimeEntry.minutes), else_=0))


def _person_name() -> ColumnElement[str]:
    return func.coalesce(
        func.nullif(PersonRef.display_name, ""), func.nullif(PersonRef.email, ""), ""
    )


# --- hours per client / project / person / item type -----------------------------------


@dataclass(frozen=True)
class HoursFilter:
    user_id: str | None = None
    project_id: str | None = None
    organisation_id: str | None = None


@dataclass(frozen=True)
class HoursSum:
    period_start: date
    key: str | None
    label: str
    minutes: int
    billable_minutes: int


async def hours(
    session: AsyncSession,
    scope: EntryScope,
    *,
    group_by: str,
    period: Period,
    start: date,
    end: date,
    wanted: HoursFilter,
) -> list[HoursSum]:
    """Minutes per period and group, ordered by period then label: one GROUP BY over the
    entries (using the workspace-and-day index), then names joined to the few groups."""
    bucket = period_of(period, TimeEntry.worked_on).label("period_start")
    conditions = [*scope.entries(), _in_range(start, end)]
    if wanted.user_id is not None:
        conditions.append(TimeEntry.user_id == wanted.user_id)
    if wanted.project_id is not None:
        conditions.append(TimeEntry.project_id == wanted.project_id)
    if wanted.organisation_id is not None:
        conditions.append(TimeEntry.organisation_id == wanted.organisation_id)
    sums = (
        func.sum(TimeEntry.minutes).label("minutes"),
        _billable_minutes().label("billable_minutes"),
    )
    ws = scope.workspace_id
    if group_by == "item_type":
        aggregate = (
            select(bucket, ItemRef.type_id.label("key"), ItemRef.kind.label("label"), *sums)
            .select_from(TimeEntry)
            .outerjoin(ItemRef, and_(ItemRef.id == TimeEntry.item_id, ItemRef.workspace_id == ws))
            .where(*conditions)
            .group_by(bucket, ItemRef.type_id, ItemRef.kind)
            .subquery()
        )
        query: AnySelect = select(aggregate, func.coalesce(aggregate.c.label, "").label("name"))
    else:
        key = {
            "client": TimeEntry.organisation_id,
            "project": TimeEntry.project_id,
            "person": TimeEntry.user_id,
        }[group_by]
        aggregate = (
            select(bucket, key.label("key"), *sums)
            .where(*conditions)
            .group_by(bucket, key)
            .subquery()
        )
        labelled = select(aggregate)
        if group_by == "client":
            query = labelled.add_columns(
                func.coalesce(OrganisationRef.name, "").label("name")
            ).outerjoin(
                OrganisationRef,
                and_(OrganisationRef.id == aggregate.c.key, OrganisationRef.workspace_id == ws),
            )
        elif group_by == "project":
            query = labelled.add_columns(
                func.coalesce(ProjectRef.name, "").label("name")
            ).outerjoin(
                ProjectRef, and_(ProjectRef.id == aggregate.c.key, ProjectRef.workspace_id == ws)
            )
        else:
            query = labelled.add_columns(_person_name().label("name")).outerjoin(
                PersonRef, and_(PersonRef.id == aggregate.c.key, PersonRef.workspace_id == ws)
            )
    query = query.order_by(aggregate.c.period_start, "name", aggregate.c.key)
    result = await session.execute(query)
    return [
        HoursSum(
            period_start=row.period_start,
            key=row.key,
            label=row.name,
            minutes=int(row.minutes),
            billable_minutes=int(row.billable_minutes),
        )
        for row in result
    ]


# --- utilisation -----------------------------------------------------------------------


@dataclass(frozen=True)
class PersonPeriod:
    user_id: str
    period_start: date
    minutes: int
    billable_minutes: int


async def logged_per_person(
    session: AsyncSession,
    scope: EntryScope,
    *,
    period: Period,
    start: date,
    end: date,
    user_id: str | None,
) -> list[PersonPeriod]:
    bucket = period_of(period, TimeEntry.worked_on).label("period_start")
    conditions = [*scope.entries(), _in_range(start, end)]
    if user_id is not None:
        conditions.append(TimeEntry.user_id == user_id)
    result = await session.execute(
        select(
            TimeEntry.user_id,
            bucket,
            func.sum(TimeEntry.minutes).label("minutes"),
            _billable_minutes().label("billable_minutes"),
        )
        .where(*conditions)
        .group_by(TimeEntry.user_id, bucket)
    )
    return [
        PersonPeriod(row.user_id, row.period_start, int(row.minutes), int(row.billable_minutes))
        for row in result
    ]


async def contracts(
    session: AsyncSession, workspace_id: str, *, until: date, user_id: str | None = None
) -> list[Availability]:
    """Availability rows that may apply up to `until` (earlier ones too: the last before a
    range is the one in effect at its start)."""
    query = select(Availability).where(
        Availability.workspace_id == workspace_id, Availability.effective_from <= until
    )
    if user_id is not None:
        query = query.where(Availability.user_id == user_id)
    result = await session.execute(
        query.order_by(Availability.user_id, Availability.effective_from)
    )
    return list(result.scalars())


async def days_off(
    session: AsyncSession, workspace_id: str, *, start: date, end: date, user_id: str | None
) -> list[tuple[str, date]]:
    query = select(DayOff.user_id, DayOff.day).where(
        DayOff.workspace_id == workspace_id, DayOff.day >= start, DayOff.day <= end
    )
    if user_id is not None:
        query = query.where(DayOff.user_id == user_id)
    result = await session.execute(query)
    return [(row.user_id, row.day) for row in result]


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    kind: str
    active: bool


async def people(session: AsyncSession, workspace_id: str, ids: set[str]) -> dict[str, Person]:
    if not ids:
        return {}
    result = await session.execute(
        select(PersonRef.id, _person_name().label("name"), PersonRef.kind, PersonRef.active).where(
            PersonRef.workspace_id == workspace_id, PersonRef.id.in_(sorted(ids))
        )
    )
    return {row.id: Person(row.id, row.name, row.kind, row.active) for row in result}


# --- clients: used vs sold -------------------------------------------------------------


@dataclass(frozen=True)
class ClientUse:
    organisation_id: str
    billable_minutes: int
    nonbillable_minutes: int


async def client_use(
    session: AsyncSession, scope: EntryScope, *, start: date, end: date
) -> list[ClientUse]:
    total = func.sum(TimeEntry.minutes)
    billable = _billable_minutes()
    result = await session.execute(
        select(
            TimeEntry.organisation_id,
            billable.label("billable"),
            (total - billable).label("nonbillable"),
        )
        .where(*scope.entries(), _in_range(start, end), TimeEntry.organisation_id.is_not(None))
        .group_by(TimeEntry.organisation_id)
    )
    return [
        ClientUse(row.organisation_id, int(row.billable), int(row.nonbillable)) for row in result
    ]


async def retainers_in_effect(
    session: AsyncSession, workspace_id: str, *, on: date
) -> dict[str, int]:
    """Each organisation's sold minutes per month on a day: its latest retainer from then
    or before (a retainer of 0 minutes ends one)."""
    latest = (
        select(Retainer.organisation_id, func.max(Retainer.effective_from).label("effective_from"))
        .where(Retainer.workspace_id == workspace_id, Retainer.effective_from <= on)
        .group_by(Retainer.organisation_id)
        .subquery()
    )
    result = await session.execute(
        select(Retainer.organisation_id, Retainer.minutes_per_month)
        .join(
            latest,
            and_(
                Retainer.organisation_id == latest.c.organisation_id,
                Retainer.effective_from == latest.c.effective_from,
            ),
        )
        .where(Retainer.workspace_id == workspace_id)
    )
    return {row.organisation_id: int(row.minutes_per_month) for row in result}


async def organisations_of_projects(
    session: AsyncSession, workspace_id: str, projects: ProjectScope
) -> set[str]:
    """The clients whose projects these are: a member sees the retainers of those."""
    result = await session.execute(
        select(ProjectRef.client_organisation_id)
        .where(
            ProjectRef.workspace_id == workspace_id,
            ProjectRef.client_organisation_id.is_not(None),
            projects.clause(ProjectRef.id),
        )
        .distinct()
    )
    return {org for org in result.scalars() if org is not None}


async def organisation_names(
    session: AsyncSession, workspace_id: str, ids: set[str]
) -> dict[str, str]:
    if not ids:
        return {}
    result = await session.execute(
        select(OrganisationRef.id, OrganisationRef.name).where(
            OrganisationRef.workspace_id == workspace_id, OrganisationRef.id.in_(sorted(ids))
        )
    )
    return {row.id: row.name for row in result}


# --- free capacity ---------------------------------------------------------------------


@dataclass(frozen=True)
class OpenWork:
    items: int
    unestimated: int
    remaining_minutes: int


async def open_work(session: AsyncSession, workspace_id: str, projects: ProjectScope) -> OpenWork:
    """Open items of live projects and what is left of their estimates: per item
    max(estimate - logged, 0), summed in SQL. Time already logged counts whoever logged it,
    since an estimate is of the item, not of a person."""
    logged = (
        select(TimeEntry.item_id, func.sum(TimeEntry.minutes).label("minutes"))
        .where(
            TimeEntry.workspace_id == workspace_id,
            TimeEntry.deleted_at.is_(None),
            TimeEntry.status != "rejected",
        )
        .group_by(TimeEntry.item_id)
        .subquery()
    )
    left = ItemRef.estimate_minutes - func.coalesce(logged.c.minutes, 0)
    remaining = case((ItemRef.estimate_minutes.is_(None), 0), (left > 0, left), else_=0)
    row = (
        await session.execute(
            select(
                func.count(ItemRef.id).label("items"),
                func.coalesce(
                    func.sum(case((ItemRef.estimate_minutes.is_(None), 1), else_=0)), 0
                ).label("unestimated"),
                func.coalesce(func.sum(remaining), 0).label("remaining"),
            )
            .select_from(ItemRef)
            .outerjoin(logged, logged.c.item_id == ItemRef.id)
            .outerjoin(
                ProjectRef,
                and_(ProjectRef.id == ItemRef.project_id, ProjectRef.workspace_id == workspace_id),
            )
            .where(
                ItemRef.workspace_id == workspace_id,
                ItemRef.deleted.is_(False),
                ItemRef.status_category.in_(OPEN_CATEGORIES),
                # An item whose project is not projected yet still counts; an archived one not.
                or_(ProjectRef.archived.is_(None), ProjectRef.archived.is_(False)),
                projects.clause(ItemRef.project_id),
            )
        )
    ).one()
    return OpenWork(int(row.items), int(row.unestimated), int(row.remaining))


def everything(workspace_id: str) -> EntryScope:
    """The whole workspace (admins, and the benchmark's baseline)."""
    return EntryScope(workspace_id, ProjectScope(whole_workspace=True))
