"""Time entries: writing (by hand, from a timer, from an import), correcting with history,
and the optional approval flow.

Who may do what, on top of `kit.access` (`log_time` is a contributor's action):
- a person logs time on items of projects where they may `log_time`, and reads, corrects,
  deletes and submits their own entries;
- a project's managers (those who may `manage_project`; admins manage every project) read,
  correct and delete that project's entries and approve or reject submitted ones;
- an approved entry is locked for everyone: it is what gets billed.

Entries other people may not see answer 404, never 403. An item the caller may not see is
reported exactly like an item that does not exist.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.timetracking import TimeLogged
from kit.access import Action, authorizer
from kit.auth import Principal
from kit.http.problems import Problem
from kit.uow import UnitOfWork
from services.timetracking.entries import repository
from services.timetracking.entries.schemas import (
    ACTIVITY_MAX,
    EntryCreate,
    EntryFilter,
    EntryUpdate,
    Policy,
    PolicyUpdate,
)
from services.timetracking.ids import new_id, now
from services.timetracking.models import EntryRevision, ItemRef, TimeEntry
from services.timetracking.projections import repository as projections
from services.timetracking.settings import get_settings

MAX_MINUTES = 24 * 60
"""One entry covers at most a day; longer spans are split (a timer's flagged entry excepted)."""
FUTURE_DAYS = 1
"""Work may be dated up to a day ahead of UTC: the day is the person's local day."""
LIST_LIMIT_MAX = 200
MANAGE: Action = "manage_project"
"""kit.access has no action for deciding about time; a project's managers are those who may
manage it."""

SNAPSHOT_FIELDS = (
    "user_id",
    "item_id",
    "project_id",
    "organisation_id",
    "worked_on",
    "minutes",
    "started_at",
    "ended_at",
    "note",
    "billable",
    "activity_type",
    "status",
    "source",
    "flagged",
    "decided_by",
    "decision_note",
)


# --- validation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryProblem:
    """One thing wrong with an entry, named by its field (an import reports them per row)."""

    field: str
    kind: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "kind": self.kind, "message": self.message}


def invalid(problems: list[EntryProblem]) -> Problem:
    return Problem(
        422,
        "invalid-entry",
        "The entry is not valid; see `errors`.",
        errors=[p.as_dict() for p in problems],
    )


def today() -> date:
    return now().date()


def minutes_between(started_at: datetime, ended_at: datetime) -> int:
    """Rounded up to the minute, and at least one: a started piece of work counts."""
    return max(1, math.ceil((ended_at - started_at).total_seconds() / 60))


def interval_problems(started_at: datetime | None, ended_at: datetime | None) -> list[EntryProblem]:
    if started_at is None and ended_at is None:
        return []
    if started_at is None or ended_at is None:
        missing = "started_at" if started_at is None else "ended_at"
        return [EntryProblem(missing, "required", "Give both started_at and ended_at.")]
    if ended_at <= started_at:
        return [EntryProblem("ended_at", "end-before-start", "ended_at must be after started_at.")]
    return []


def duration(
    minutes: int | None, started_at: datetime | None, ended_at: datetime | None
) -> tuple[int | None, list[EntryProblem]]:
    """The entry's minutes from exactly one of its two forms: a duration or an interval."""
    if started_at is None and ended_at is None:
        if minutes is None:
            message = "Give minutes, or started_at and ended_at."
            return None, [EntryProblem("minutes", "required", message)]
        return minutes, []
    if minutes is not None:
        message = "Give minutes or started_at and ended_at, not both."
        return None, [EntryProblem("minutes", "ambiguous-duration", message)]
    problems = interval_problems(started_at, ended_at)
    if problems or started_at is None or ended_at is None:
        return None, problems
    return minutes_between(started_at, ended_at), []


def item_problems(item: ItemRef | None) -> list[EntryProblem]:
    return [] if item is not None else [EntryProblem("item_id", "unknown-item", "No such item.")]


def entry_problems(
    *,
    worked_on: date | None,
    minutes: int | None,
    ended_at: datetime | None = None,
    activity_type: str = "",
    percent_complete: int | None = None,
    allow_long: bool = False,
    on: date | None = None,
) -> list[EntryProblem]:
    """The rules every entry obeys, however it was written; `None` values are problems
    reported elsewhere and skipped here. `on` is the day it is checked on (default today)."""
    problems: list[EntryProblem] = []
    if minutes is not None and minutes < 1:
        message = "The duration must be at least one minute."
        problems.append(EntryProblem("minutes", "not-positive", message))
    elif minutes is not None and minutes > MAX_MINUTES and not allow_long:
        message = f"One entry covers at most {MAX_MINUTES} minutes."
        problems.append(EntryProblem("minutes", "too-long", message))
    latest = (on or today()) + timedelta(days=FUTURE_DAYS)
    if worked_on is not None and worked_on > latest:
        message = f"Work cannot be dated after {latest}."
        problems.append(EntryProblem("worked_on", "future-date", message))
    if ended_at is not None and ended_at.date() > latest:
        message = f"Work cannot end after {latest}."
        problems.append(EntryProblem("ended_at", "future-date", message))
    if len(activity_type) > ACTIVITY_MAX:
        message = f"At most {ACTIVITY_MAX} characters."
        problems.append(EntryProblem("activity_type", "too-long", message))
    if percent_complete is not None and not 0 <= percent_complete <= 100:
        problems.append(EntryProblem("percent_complete", "out-of-range", "Between 0 and 100."))
    return problems


# --- items ------------------------------------------------------------------------------------


async def usable_item(session: AsyncSession, workspace_id: str, item_id: str) -> ItemRef | None:
    """The item, unless unknown here or deleted (new time is never logged on deleted items)."""
    item = await projections.item(session, workspace_id, item_id)
    return None if item is None or item.deleted else item


async def item_for(
    uow: UnitOfWork, principal: Principal, item_id: str, action: Action
) -> ItemRef | None:
    """The item if the caller may see it (None when unknown, deleted or out of reach, alike);
    403 when they may see it but not do `action`."""
    item = await usable_item(uow.session, principal.workspace_id, item_id)
    if item is None:
        return None
    try:
        await authorizer.require(uow.session, principal, action, item.project_id)
    except Problem as problem:
        if problem.status == 404:
            return None
        raise
    return item


def person_id(principal: Principal) -> str:
    """Time belongs to a person: the platform's own principals log none; an API key logs
    time as the person it acts for (identity's token names them), within its scopes."""
    try:
        UUID(principal.subject)
    except ValueError:
        raise Problem(403, "forbidden", "Only people log time.") from None
    if principal.kind == "service":
        raise Problem(403, "forbidden", "Only people log time.")
    return principal.subject


# --- writing ----------------------------------------------------------------------------------


async def write_entry(
    uow: UnitOfWork,
    *,
    workspace_id: str,
    user_id: str,
    item_id: str,
    worked_on: date,
    minutes: int,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
    note: str = "",
    billable: bool = True,
    activity_type: str = "",
    source: str = "manual",
    import_key: str | None = None,
    percent_complete: int | None = None,
    flagged: bool = False,
) -> TimeEntry:
    """Validate and write one entry, and announce it (TimeLogged): the one way in for code
    that has already decided the entry may be written (the CSV importer, a timer).

    Authorisation is the caller's business. Invalid values raise a 422 problem listing every
    problem (`entry_problems` gives the same list without raising, for dry runs). With an
    `import_key` already used in the workspace, the existing entry is returned and nothing
    is written or announced: importing a file twice adds nothing.
    """
    if import_key is not None:
        existing = await repository.entry_by_import_key(uow.session, workspace_id, import_key)
        if existing is not None:
            return existing
    item = await usable_item(uow.session, workspace_id, item_id)
    problems = item_problems(item) + interval_problems(started_at, ended_at)
    problems += entry_problems(
        worked_on=worked_on,
        minutes=minutes,
        ended_at=ended_at,
        activity_type=activity_type,
        percent_complete=percent_complete,
        allow_long=flagged,
    )
    if problems or item is None:
        raise invalid(problems)
    return await insert_entry(
        uow,
        item,
        user_id=user_id,
        worked_on=worked_on,
        minutes=minutes,
        started_at=started_at,
        ended_at=ended_at,
        note=note,
        billable=billable,
        activity_type=activity_type,
        source=source,
        import_key=import_key,
        percent_complete=percent_complete,
        flagged=flagged,
    )


async def insert_entry(
    uow: UnitOfWork,
    item: ItemRef,
    *,
    user_id: str,
    worked_on: date,
    minutes: int,
    started_at: datetime | None,
    ended_at: datetime | None,
    note: str,
    billable: bool,
    activity_type: str,
    source: str,
    import_key: str | None = None,
    percent_complete: int | None = None,
    flagged: bool = False,
) -> TimeEntry:
    """Write an already validated entry on `item` and announce it.

    The project and client organisation are copied onto the entry as they are now, so reports
    group without joins and a later move of the item does not rewrite billed history.

    A flagged entry (a timer left running) is not announced: its hours are not trusted until
    someone confirms them (`update`), so they neither bill nor move the item's progress.
    """
    organisation_id = await client_of(uow.session, item)
    moment = now()
    row = TimeEntry(
        id=new_id(),
        workspace_id=item.workspace_id,
        user_id=user_id,
        item_id=item.id,
        project_id=item.project_id,
        organisation_id=organisation_id,
        worked_on=worked_on,
        minutes=minutes,
        started_at=started_at,
        ended_at=ended_at,
        note=note,
        billable=billable and not flagged,
        activity_type=activity_type,
        status="draft",
        source=source,
        flagged=flagged,
        import_key=import_key,
        decided_by=None,
        decision_note="",
        created_at=moment,
        updated_at=moment,
        deleted_at=None,
    )
    uow.session.add(row)
    if not flagged:
        announce(uow, row, percent_complete)
    return row


async def client_of(session: AsyncSession, item: ItemRef) -> str | None:
    """The client organisation time on `item` is for: its project's client, else the
    organisation of the item's requester (a shared support project serves many clients)."""
    project = await projections.project(session, item.workspace_id, item.project_id)
    if project is not None and project.client_organisation_id:
        return project.client_organisation_id
    return item.requester_organisation_id


def announce(uow: UnitOfWork, row: TimeEntry, percent_complete: int | None = None) -> None:
    """TimeLogged: tickets moves a New item to in progress and updates its percent complete."""
    uow.emit(
        TimeLogged(
            entry_id=UUID(row.id),
            workspace_id=UUID(row.workspace_id),
            item_id=UUID(row.item_id),
            user_id=UUID(row.user_id),
            minutes=row.minutes,
            worked_on=row.worked_on,
            billable=row.billable,
            percent_complete=percent_complete,
        ),
        workspace=row.workspace_id,
        subject=f"entry/{row.id}",
    )


async def create(uow: UnitOfWork, principal: Principal, body: EntryCreate) -> TimeEntry:
    """Log time by hand; every problem with the body is reported at once."""
    user_id = person_id(principal)
    item = await item_for(uow, principal, body.item_id, "log_time")
    minutes, found = duration(body.minutes, body.started_at, body.ended_at)
    problems = item_problems(item) + found
    worked_on = body.worked_on or (body.started_at.date() if body.started_at else None)
    if worked_on is None:
        problems.append(EntryProblem("worked_on", "required", "Give the day of the work."))
    problems += entry_problems(
        worked_on=worked_on,
        minutes=minutes,
        ended_at=body.ended_at,
        activity_type=body.activity_type,
        percent_complete=body.percent_complete,
    )
    if problems or item is None or minutes is None or worked_on is None:
        raise invalid(problems)
    return await insert_entry(
        uow,
        item,
        user_id=user_id,
        worked_on=worked_on,
        minutes=minutes,
        started_at=body.started_at,
        ended_at=body.ended_at,
        note=body.note,
        billable=body.billable,
        activity_type=body.activity_type,
        source="manual",
        percent_complete=body.percent_complete,
    )


# --- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedEntry:
    row: TimeEntry
    manager: bool
    """The caller manages the entry's project (or is an admin)."""

    def owned_by(self, principal: Principal) -> bool:
        return self.row.user_id == principal.subject


def not_found() -> Problem:
    return Problem(404, "not-found", "No such entry.")


async def load(
    uow: UnitOfWork,
    principal: Principal,
    entry_id: str,
    *,
    lock: bool = False,
    include_deleted: bool = False,
) -> LoadedEntry:
    """The entry if the caller may see it: their own, or one of a project they manage."""
    row = await repository.entry(
        uow.session, principal.workspace_id, entry_id, lock=lock, include_deleted=include_deleted
    )
    if row is None:
        raise not_found()
    manager = await authorizer.can(uow.session, principal, MANAGE, row.project_id)
    if not manager and row.user_id != principal.subject:
        raise not_found()
    return LoadedEntry(row, manager)


async def list_entries(
    uow: UnitOfWork,
    principal: Principal,
    wanted: EntryFilter,
    *,
    cursor: str | None,
    limit: int,
) -> tuple[list[TimeEntry], str | None]:
    """One page of the entries the caller may see (flagged ones included and marked)."""
    whole = principal.is_admin
    managed = frozenset() if whole else await repository.managed_project_ids(uow.session, principal)
    clauses = [
        *repository.filter_clauses(
            principal.workspace_id,
            user_ids=wanted.user_id,
            item_ids=wanted.item_id,
            project_ids=wanted.project_id,
            statuses=wanted.status,
            flagged=wanted.flagged,
            date_from=wanted.date_from,
            date_to=wanted.date_to,
        ),
        repository.visible_clause(principal, managed, whole_workspace=whole),
    ]
    after = _decode_cursor(cursor) if cursor else None
    rows = await repository.page(uow.session, clauses, after=after, limit=limit + 1)
    more, rows = len(rows) > limit, rows[:limit]
    return rows, _encode_cursor(rows[-1]) if more and rows else None


async def revisions(uow: UnitOfWork, principal: Principal, entry_id: str) -> list[EntryRevision]:
    """The entry's earlier states, deleted entries' included (that is what history is for)."""
    loaded = await load(uow, principal, entry_id, include_deleted=True)
    return await repository.revisions(uow.session, principal.workspace_id, loaded.row.id)


def _encode_cursor(row: TimeEntry) -> str:
    raw = json.dumps([row.worked_on.isoformat(), row.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[date, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        day, last_id = json.loads(base64.urlsafe_b64decode(padded))
        return date.fromisoformat(day), str(last_id)
    except (ValueError, TypeError, binascii.Error) as error:
        raise Problem(400, "invalid-cursor", "The cursor is not valid.") from error


# --- correcting -------------------------------------------------------------------------------


def snapshot(row: TimeEntry) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in SNAPSHOT_FIELDS:
        value = getattr(row, name)
        values[name] = value.isoformat() if isinstance(value, date | datetime) else value
    return values


def _revise(uow: UnitOfWork, row: TimeEntry, change: str, principal: Principal) -> None:
    """Keep the entry as it was before `change`."""
    uow.session.add(
        EntryRevision(
            id=new_id(),
            workspace_id=row.workspace_id,
            entry_id=row.id,
            snapshot=snapshot(row),
            change=change,
            changed_by=principal.subject,
            changed_at=now(),
        )
    )


def _locked() -> Problem:
    return Problem(409, "entry-locked", "Approved entries cannot be changed.")


async def _may_change(uow: UnitOfWork, principal: Principal, loaded: LoadedEntry) -> None:
    """Approved entries are locked; owners change theirs while they may still log time on the
    project, managers any of their projects'."""
    if loaded.row.status == "approved":
        raise _locked()
    if not loaded.manager and not await authorizer.can(
        uow.session, principal, "log_time", loaded.row.project_id
    ):
        raise Problem(403, "forbidden", "You may no longer log time on this entry's project.")


async def update(
    uow: UnitOfWork, principal: Principal, entry_id: str, body: EntryUpdate
) -> TimeEntry:
    """Correct an entry, keeping its previous state as a revision.

    Changing its duration confirms a flagged entry: the flag is lifted and its time is
    announced then. An owner changing a submitted entry takes it back to draft (it must be
    submitted again); a manager's correction keeps it submitted.
    """
    loaded = await load(uow, principal, entry_id, lock=True)
    await _may_change(uow, principal, loaded)
    row = loaded.row
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        return row
    item: ItemRef | None = None
    problems: list[EntryProblem] = []
    moved_to = changes.get("item_id")
    if moved_to is not None and moved_to != row.item_id:
        item = await item_for(uow, principal, moved_to, "log_time")
        problems += item_problems(item)
    started_at, ended_at, minutes = row.started_at, row.ended_at, row.minutes
    timed = "started_at" in changes or "ended_at" in changes
    if timed:
        started_at = changes.get("started_at", row.started_at)
        ended_at = changes.get("ended_at", row.ended_at)
        given, found = duration(changes.get("minutes"), started_at, ended_at)
        problems += found
        minutes = given if given is not None else minutes
    elif "minutes" in changes:
        minutes = changes["minutes"]
        if minutes is None:
            problems.append(EntryProblem("minutes", "required", "Give the duration."))
            minutes = row.minutes
        elif row.started_at is not None:
            ended_at = row.started_at + timedelta(minutes=minutes)
    worked_on = changes.get("worked_on") or row.worked_on
    problems += entry_problems(
        worked_on=worked_on,
        minutes=minutes,
        ended_at=ended_at if timed else None,
        activity_type=changes.get("activity_type") or "",
        allow_long=row.flagged and not (timed or "minutes" in changes),
    )
    if problems:
        raise invalid(problems)
    _revise(uow, row, "update", principal)
    if item is not None:
        row.item_id, row.project_id = item.id, item.project_id
        row.organisation_id = await client_of(uow.session, item)
    row.worked_on, row.minutes, row.started_at, row.ended_at = (
        worked_on,
        minutes,
        started_at,
        ended_at,
    )
    for name in ("note", "billable", "activity_type"):
        if changes.get(name) is not None:
            setattr(row, name, changes[name])
    if row.status == "submitted" and loaded.owned_by(principal):
        row.status = "draft"
    confirmed = row.flagged and (timed or "minutes" in changes)
    if confirmed:
        row.flagged = False
    row.updated_at = now()
    if confirmed:
        announce(uow, row)
    return row


async def delete(uow: UnitOfWork, principal: Principal, entry_id: str) -> None:
    """Soft delete: the row stays with its history, out of every list and report."""
    loaded = await load(uow, principal, entry_id, lock=True)
    await _may_change(uow, principal, loaded)
    _revise(uow, loaded.row, "delete", principal)
    loaded.row.deleted_at = loaded.row.updated_at = now()


# --- approval ---------------------------------------------------------------------------------


async def submit(uow: UnitOfWork, principal: Principal, entry_id: str) -> TimeEntry:
    """The owner asks for approval (only where the workspace requires it)."""
    loaded = await load(uow, principal, entry_id, lock=True)
    row = loaded.row
    if not loaded.owned_by(principal):
        raise Problem(403, "forbidden", "Only the entry's owner submits it.")
    if not (await current_policy(uow.session, row.workspace_id)).approval_required:
        raise Problem(409, "approval-not-required", "This workspace does not approve entries.")
    if row.status not in ("draft", "rejected"):
        raise Problem(409, "wrong-status", f"A {row.status} entry cannot be submitted.")
    _revise(uow, row, "submit", principal)
    row.status, row.updated_at = "submitted", now()
    return row


async def decide(
    uow: UnitOfWork,
    principal: Principal,
    entry_id: str,
    verdict: Literal["approved", "rejected"],
    note: str,
) -> TimeEntry:
    """A manager of the entry's project (or an admin) approves or rejects a submitted entry;
    a rejection says why, so the owner can correct it and submit again."""
    loaded = await load(uow, principal, entry_id, lock=True)
    row = loaded.row
    if not loaded.manager:
        raise Problem(403, "forbidden", "Only the project's managers decide about its entries.")
    if row.status != "submitted":
        raise Problem(409, "wrong-status", f"A {row.status} entry cannot be decided.")
    if verdict == "rejected" and not note.strip():
        problem = EntryProblem("note", "required", "Say why the entry is rejected.")
        raise invalid([problem])
    _revise(uow, row, "approve" if verdict == "approved" else "reject", principal)
    row.status, row.decided_by, row.decision_note = verdict, principal.subject, note
    row.updated_at = now()
    return row


# --- policy -----------------------------------------------------------------------------------


def default_flag_after_minutes() -> int:
    return max(1, round(get_settings().timer_flag_after_hours * 60))


async def current_policy(session: AsyncSession, workspace_id: str) -> Policy:
    """The workspace's policy, or the defaults until an admin sets one."""
    row = await repository.policy(session, workspace_id)
    if row is None:
        return Policy(
            approval_required=False, timer_flag_after_minutes=default_flag_after_minutes()
        )
    return Policy(
        approval_required=row.approval_required,
        timer_flag_after_minutes=row.timer_flag_after_minutes,
    )


async def set_policy(uow: UnitOfWork, principal: Principal, body: PolicyUpdate) -> Policy:
    if not principal.is_admin:
        raise Problem(403, "forbidden", "Only admins set the workspace's time policy.")
    await repository.save_policy(
        uow.session,
        principal.workspace_id,
        approval_required=body.approval_required,
        flag_after_minutes=body.timer_flag_after_minutes,
    )
    return await current_policy(uow.session, principal.workspace_id)
