"""Importing timesheets from CSV: every row is read, resolved and checked before anything is
written, and the report says per row what is wrong; only then are the good rows written,
through `entries.service.write_entry`, in the caller's one transaction.

Who may import what:
- an admin (or a workspace-level service principal, as the CLI acts) imports for anyone;
- anyone else imports only their own time: another person's row is an error, `not-allowed`;
- every row's person must be allowed to `log_time` on its item's project, as when logging by
  hand. For the importer's own rows that is decided on their token (teams included); for
  another person's it is decided on their direct grants (this service does not project team
  membership or workspace roles), so time of people who only reach a project through a team
  is refused with a clear row error rather than written unchecked.

Idempotence: each row's `import_key` is the SHA-256 of its normalised workspace, person, item,
day, minutes and note; a key already in the workspace, or seen earlier in the file, makes the
row a `duplicate`, which is skipped and is not an error. Importing a file twice adds nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from kit.access import authorizer
from kit.access.roles import Action
from kit.auth import Principal, UserKind
from kit.http.problems import Problem
from kit.uow import UnitOfWork
from services.timetracking.entries.schemas import NOTE_MAX
from services.timetracking.entries.service import EntryProblem, entry_problems, write_entry
from services.timetracking.imports import csvparse, repository
from services.timetracking.imports.csvparse import FileProblem, RawRow, Table
from services.timetracking.imports.schemas import (
    Counts,
    EntryPreview,
    ImportResult,
    Report,
    ReportRow,
    RowProblem,
)
from services.timetracking.models import ItemRef, PersonRef

MAX_ROWS = 10_000
SOURCE = "import"
PERSON_KINDS: dict[str, UserKind] = {
    "staff": "staff",
    "collaborator": "collaborator",
    "client": "client",
}
"""A person's kind as projected; one not known yet counts as a collaborator (no admin power,
no client cap)."""

Tick = Callable[[], None]
"""Called once per row handled, for a progress bar."""


def _no_tick() -> None:
    return None


@dataclass
class _Row:
    """A row while it is checked: what it resolved to and what is wrong with it."""

    raw: RawRow
    problems: list[EntryProblem] = field(default_factory=list)
    person: PersonRef | None = None
    item: ItemRef | None = None
    worked_on: date | None = None
    minutes: int | None = None
    note: str = ""
    billable: bool = True
    activity: str = ""
    key: str | None = None
    duplicate_of: str | None = None


@dataclass(frozen=True)
class Checked:
    """The report and what the good rows will write."""

    report: Report
    rows: list[_Row]

    @property
    def ok(self) -> list[_Row]:
        return [r for r in self.rows if not r.problems and r.duplicate_of is None]


def import_key(
    workspace_id: str, user_id: str, item_id: str, worked_on: date, minutes: int, note: str
) -> str:
    normalised = "\x1f".join(
        (
            workspace_id.strip().lower(),
            user_id.strip().lower(),
            item_id.strip().lower(),
            worked_on.isoformat(),
            str(minutes),
            " ".join(note.split()),
        )
    )
    return hashlib.sha256(normalised.encode()).hexdigest()


# --- checking ---------------------------------------------------------------------------------


async def check(
    uow: UnitOfWork,
    principal: Principal,
    data: bytes,
    mapping: object = None,
    *,
    tick: Tick = _no_tick,
    on: date | None = None,
) -> Checked:
    """Read and check every row; writes nothing. A file that cannot be read at all (encoding,
    header, mapping, size) raises `FileProblem`."""
    table = csvparse.read_table(data, csvparse.check_mapping(mapping))
    if len(table.rows) > MAX_ROWS:
        raise FileProblem("too-many-rows", f"At most {MAX_ROWS} rows per import.")
    if "person" not in table.columns and not _is_person(principal):
        raise FileProblem(
            "missing-columns", "A `person` column is needed: the importer is not a person."
        )
    rows = [_read(raw, table) for raw in table.rows]
    resolver = await _Resolver.load(uow.session, principal, table, rows)
    for row in rows:
        await resolver.resolve(row)
        row.problems += _entry_rules(row, table, on)
        if not row.problems and row.person and row.item and row.worked_on and row.minutes:
            row.key = import_key(
                principal.workspace_id,
                row.person.id,
                row.item.id,
                row.worked_on,
                row.minutes,
                row.note,
            )
        tick()
    await _mark_duplicates(uow.session, principal.workspace_id, rows)
    return Checked(_report(rows), rows)


def _is_person(principal: Principal) -> bool:
    return principal.kind != "service"


def _read(raw: RawRow, table: Table) -> _Row:
    """Parse the row's own values (no look-ups)."""
    row = _Row(raw)
    row.worked_on, found = csvparse.parse_date(raw.get("date"))
    row.problems += found
    hours = raw.get("hours")
    if "hours" in table.columns and (hours or "minutes" not in table.columns):
        row.minutes, found = csvparse.parse_hours(hours)
    else:
        row.minutes, found = csvparse.parse_minutes(raw.get("minutes"))
    row.problems += found
    row.billable, found = csvparse.parse_billable(raw.get("billable"))
    row.problems += found
    row.note, row.activity = raw.get("note"), raw.get("activity")
    if len(row.note) > NOTE_MAX:
        row.problems.append(EntryProblem("note", "too-long", f"note over {NOTE_MAX} characters"))
    return row


def _entry_rules(row: _Row, table: Table, on: date | None) -> list[EntryProblem]:
    """The rules every entry obeys (`entry_problems`), in the import's words and fields."""
    duration_field = "hours" if "hours" in table.columns and row.raw.get("hours") else "minutes"
    renamed = {"minutes": duration_field, "worked_on": "date", "activity_type": "activity"}
    problems: list[EntryProblem] = []
    found = entry_problems(
        worked_on=row.worked_on, minutes=row.minutes, activity_type=row.activity, on=on
    )
    for problem in found:
        message = problem.message
        if problem.kind == "not-positive":
            message = f"duration must be positive (got {row.minutes} min)"
        elif problem.kind == "too-long" and problem.field == "minutes":
            message = f"duration over 24 h (got {row.minutes} min)"
        elif problem.field == "activity_type":
            message = f"activity {message[0].lower()}{message[1:]}"
        else:
            message = f"{message[0].lower()}{message[1:].rstrip('.')}"
        problems.append(
            EntryProblem(renamed.get(problem.field, problem.field), problem.kind, message)
        )
    return problems


class _Resolver:
    """Items and people of the whole file, looked up at once; permissions cached per person
    and project."""

    def __init__(
        self,
        session: AsyncSession,
        principal: Principal,
        table: Table,
        items: list[ItemRef],
        people: list[PersonRef],
    ) -> None:
        self.session, self.principal, self.table = session, principal, table
        self.by_number = {i.number: i for i in items}
        self.by_item_id = {i.id: i for i in items}
        self.by_email: dict[str, PersonRef] = {}
        for person in people:
            self.by_email.setdefault(person.email.casefold(), person)
        self.by_person_id = {p.id: p for p in people}
        self.allowed: dict[tuple[str, str, str], bool] = {}

    @classmethod
    async def load(
        cls, session: AsyncSession, principal: Principal, table: Table, rows: list[_Row]
    ) -> _Resolver:
        numbers: set[int] = set()
        item_ids: set[str] = set()
        for row in rows:
            text = row.raw.get("item")
            number = csvparse.item_number(text)
            if number is not None:
                numbers.add(number)
            elif text:
                item_ids.add(text.lower())
        emails: set[str] = set()
        person_ids: set[str] = set()
        if "person" not in table.columns:
            person_ids.add(principal.subject)
        for row in rows:
            text = row.raw.get("person")
            if "@" in text:
                emails.add(text.casefold())
            elif text:
                person_ids.add(text.lower())
        ws = principal.workspace_id
        items = await repository.items(session, ws, numbers, item_ids)
        people = await repository.people(session, ws, emails, person_ids)
        return cls(session, principal, table, items, people)

    async def resolve(self, row: _Row) -> None:
        row.person = self._person(row)
        row.item = self._item(row)
        if row.person is None or row.item is None:
            return
        if not self.principal.is_admin and row.person.id != self.principal.subject:
            row.problems.append(
                EntryProblem(
                    "person", "not-allowed", "not allowed: you may import only your own time"
                )
            )
            return
        project_id = row.item.project_id
        if not self.principal.is_admin and not await self._may(self.principal, "view", project_id):
            row.problems.append(self._unknown_item(row))  # out of reach reads as unknown
            row.item = None
        elif not await self._may(self._acting_as(row.person), "log_time", project_id):
            name = row.person.email or row.person.id
            number = row.item.number
            message = f"not allowed: {name} may not log time on item #{number}"
            row.problems.append(EntryProblem("item", "not-allowed", message))

    def _person(self, row: _Row) -> PersonRef | None:
        if "person" not in self.table.columns:
            found = self.by_person_id.get(self.principal.subject)
            if found is None:
                row.problems.append(
                    EntryProblem("person", "unknown-person", "you are not known here yet")
                )
            return found
        text = row.raw.get("person")
        if not text:
            row.problems.append(EntryProblem("person", "required", "person missing"))
            return None
        person = (
            self.by_email.get(text.casefold())
            if "@" in text
            else self.by_person_id.get(text.lower())
        )
        if person is None:
            row.problems.append(
                EntryProblem("person", "unknown-person", f"unknown person {text!r}")
            )
        return person

    def _item(self, row: _Row) -> ItemRef | None:
        text = row.raw.get("item")
        if not text:
            row.problems.append(EntryProblem("item", "required", "item missing"))
            return None
        number = csvparse.item_number(text)
        item = (
            self.by_number.get(number) if number is not None else self.by_item_id.get(text.lower())
        )
        if item is None:
            row.problems.append(self._unknown_item(row))
        return item

    @staticmethod
    def _unknown_item(row: _Row) -> EntryProblem:
        text = csvparse.describe_item(row.raw.get("item"))
        return EntryProblem("item", "unknown-item", f"unknown item {text}")

    def _acting_as(self, person: PersonRef) -> Principal:
        """The row's person as a principal: the importer's own token for their own rows, else
        their direct grants (never admin powers: the projection does not know the role)."""
        if person.id == self.principal.subject:
            return self.principal
        kind = PERSON_KINDS.get(person.kind, "collaborator")
        return Principal(subject=person.id, workspace_id=self.principal.workspace_id, kind=kind)

    async def _may(self, principal: Principal, action: Action, project_id: str) -> bool:
        cached = (principal.subject, action, project_id)
        if cached not in self.allowed:
            self.allowed[cached] = await authorizer.can(self.session, principal, action, project_id)
        return self.allowed[cached]


async def _mark_duplicates(session: AsyncSession, workspace_id: str, rows: list[_Row]) -> None:
    keys = {row.key for row in rows if row.key is not None}
    taken = await repository.taken_import_keys(session, workspace_id, keys)
    first_line: dict[str, int] = {}
    for row in rows:
        if row.key is None:
            continue
        if row.key in taken:
            row.duplicate_of = "already imported (an entry with the same values exists)"
        elif row.key in first_line:
            row.duplicate_of = f"same as line {first_line[row.key]}"
        else:
            first_line[row.key] = row.raw.line


def _report(rows: list[_Row]) -> Report:
    lines = [_report_row(row) for row in rows]
    statuses = [line.status for line in lines]
    counts = Counts(
        rows=len(lines),
        ok=statuses.count("ok"),
        duplicates=statuses.count("duplicate"),
        errors=statuses.count("error"),
    )
    return Report(counts=counts, rows=lines)


def _report_row(row: _Row) -> ReportRow:
    problems = [RowProblem(**p.as_dict()) for p in row.problems]
    if row.duplicate_of is not None:
        problems.append(RowProblem(field="row", kind="duplicate", message=row.duplicate_of))
    status = "error" if row.problems else "duplicate" if row.duplicate_of else "ok"
    preview = EntryPreview(
        user_id=row.person.id if row.person else None,
        person=row.raw.get("person") or (row.person.email if row.person else ""),
        item_id=row.item.id if row.item else None,
        item_number=row.item.number if row.item else None,
        worked_on=row.worked_on,
        minutes=row.minutes,
        note=row.note,
        billable=row.billable,
        activity_type=row.activity,
        import_key=row.key,
    )
    return ReportRow(line=row.raw.line, status=status, problems=problems, entry=preview)


# --- importing --------------------------------------------------------------------------------


def has_errors(report: Report) -> Problem:
    return Problem(
        422,
        "import-has-errors",
        f"{report.counts.errors} row(s) have errors; nothing was written. Correct them, or "
        "import with `accept=valid-only` to write only the valid rows.",
        report=report.model_dump(mode="json"),
    )


async def run(
    uow: UnitOfWork,
    principal: Principal,
    data: bytes,
    mapping: object = None,
    *,
    accept_valid_only: bool,
    tick: Tick = _no_tick,
    written_tick: Tick = _no_tick,
) -> ImportResult:
    """Check the file, then write its good rows in the caller's unit of work (which commits).
    With any error row and without `accept_valid_only`, a 422 carrying the report; nothing
    is written."""
    checked = await check(uow, principal, data, mapping, tick=tick)
    report = checked.report
    if report.counts.errors and not accept_valid_only:
        raise has_errors(report)
    written = 0
    for row in checked.ok:
        if row.person is None or row.item is None or row.worked_on is None:
            continue  # not reached: a row without these has problems
        if row.minutes is None or row.key is None:
            continue
        await write_entry(
            uow,
            workspace_id=principal.workspace_id,
            user_id=row.person.id,
            item_id=row.item.id,
            worked_on=row.worked_on,
            minutes=row.minutes,
            note=row.note,
            billable=row.billable,
            activity_type=row.activity,
            source=SOURCE,
            import_key=row.key,
        )
        written += 1
        written_tick()
    return ImportResult(
        written=written,
        duplicates=report.counts.duplicates,
        errors=report.counts.errors,
        report=report,
    )
