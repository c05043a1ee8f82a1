"""Queries on time entries, their revisions and the workspace's time policy; every one is
bound to a workspace."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from kit.db.tables import ACCESS_GRANTS
from services.timetracking.models import EntryRevision, TimeEntry, WorkspacePolicy


async def entry(
    session: AsyncSession,
    workspace_id: str,
    entry_id: str,
    *,
    lock: bool = False,
    include_deleted: bool = False,
) -> TimeEntry | None:
    """`lock` serialises concurrent edits and decisions on one entry (a no-op on SQLite,
    whose writers are serialised anyway)."""
    statement = select(TimeEntry).where(
        TimeEntry.workspace_id == workspace_id, TimeEntry.id == entry_id
    )
    if not include_deleted:
        statement = statement.where(TimeEntry.deleted_at.is_(None))
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(statement)


async def entry_by_import_key(
    session: AsyncSession, workspace_id: str, import_key: str
) -> TimeEntry | None:
    return await session.scalar(
        select(TimeEntry).where(
            TimeEntry.workspace_id == workspace_id, TimeEntry.import_key == import_key
        )
    )


async def managed_project_ids(session: AsyncSession, principal: Principal) -> frozenset[str]:
    """Projects on which the principal holds the manager role through a live grant to them or
    one of their teams, in their workspace. Clients are never managers (their role is capped),
    and admins manage everything without grants, which callers check first."""
    if principal.is_client:
        return frozenset()
    grants = ACCESS_GRANTS.c
    subject = and_(grants.subject_type == "user", grants.subject_id == principal.subject)
    if principal.teams:
        subject = or_(
            subject,
            and_(grants.subject_type == "team", grants.subject_id.in_(principal.teams)),
        )
    rows = await session.scalars(
        select(grants.project_id)
        .where(grants.workspace_id == principal.workspace_id, grants.role == "manager", subject)
        .distinct()
    )
    return frozenset(rows)


def filter_clauses(
    workspace_id: str,
    *,
    user_ids: Sequence[str] = (),
    item_ids: Sequence[str] = (),
    project_ids: Sequence[str] = (),
    statuses: Sequence[str] = (),
    flagged: bool | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = [
        TimeEntry.workspace_id == workspace_id,
        TimeEntry.deleted_at.is_(None),
    ]
    if user_ids:
        clauses.append(TimeEntry.user_id.in_(sorted(set(user_ids))))
    if item_ids:
        clauses.append(TimeEntry.item_id.in_(sorted(set(item_ids))))
    if project_ids:
        clauses.append(TimeEntry.project_id.in_(sorted(set(project_ids))))
    if statuses:
        clauses.append(TimeEntry.status.in_(sorted(set(statuses))))
    if flagged is not None:
        clauses.append(TimeEntry.flagged.is_(flagged))
    if date_from is not None:
        clauses.append(TimeEntry.worked_on >= date_from)
    if date_to is not None:
        clauses.append(TimeEntry.worked_on <= date_to)
    return clauses


def visible_clause(
    principal: Principal, managed: frozenset[str], *, whole_workspace: bool
) -> ColumnElement[bool]:
    """A person's own entries, plus every entry of the projects they manage."""
    if whole_workspace:
        return TimeEntry.workspace_id == principal.workspace_id
    own = TimeEntry.user_id == principal.subject
    if not managed:
        return own
    return or_(own, TimeEntry.project_id.in_(sorted(managed)))


async def page(
    session: AsyncSession,
    clauses: Sequence[ColumnElement[bool]],
    *,
    after: tuple[date, str] | None,
    limit: int,
) -> list[TimeEntry]:
    """Newest day first, then newest entry first (ids are UUIDv7, so time-ordered): a keyset
    that stays stable while entries are added."""
    statement = select(TimeEntry).where(*clauses)
    if after is not None:
        day, last_id = after
        statement = statement.where(
            or_(
                TimeEntry.worked_on < day,
                and_(TimeEntry.worked_on == day, TimeEntry.id < last_id),
            )
        )
    statement = statement.order_by(TimeEntry.worked_on.desc(), TimeEntry.id.desc()).limit(limit)
    return list(await session.scalars(statement))


async def revisions(session: AsyncSession, workspace_id: str, entry_id: str) -> list[EntryRevision]:
    result = await session.scalars(
        select(EntryRevision)
        .where(EntryRevision.workspace_id == workspace_id, EntryRevision.entry_id == entry_id)
        .order_by(EntryRevision.changed_at, EntryRevision.id)
    )
    return list(result)


async def policy(session: AsyncSession, workspace_id: str) -> WorkspacePolicy | None:
    return await session.scalar(
        select(WorkspacePolicy)
        .where(WorkspacePolicy.workspace_id == workspace_id)
        .execution_options(populate_existing=True)
    )


async def save_policy(
    session: AsyncSession, workspace_id: str, *, approval_required: bool, flag_after_minutes: int
) -> None:
    """One upsert, so two admins saving at once cannot collide on the insert."""
    row = {
        "workspace_id": workspace_id,
        "approval_required": approval_required,
        "timer_flag_after_minutes": flag_after_minutes,
    }
    update = ("approval_required", "timer_flag_after_minutes")
    if session.get_bind().dialect.name == "postgresql":
        pg = postgresql.insert(WorkspacePolicy).values(row)
        await session.execute(
            pg.on_conflict_do_update(
                index_elements=["workspace_id"], set_={k: pg.excluded[k] for k in update}
            )
        )
    else:
        lite = sqlite.insert(WorkspacePolicy).values(row)
        await session.execute(
            lite.on_conflict_do_update(
                index_elements=["workspace_id"], set_={k: lite.excluded[k] for k in update}
            )
        )
