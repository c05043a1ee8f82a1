"""`deskline timesheets …`: operator commands of the time-tracking service.

`import` works directly on the service's database (migrated first), as a workspace-level
service principal: it imports time for anyone in the workspace, each row still checked as
the API checks it (known item and person, the person may log time on the item, valid day and
duration, not already imported). The TimeLogged events leave with the service's next relay.

Exit codes: 0 when every row was written or was a duplicate (with `--accept-valid-only`: the
valid rows were written, the error rows reported and skipped; with `--dry-run`: nothing would
stop the import); 1 when rows with errors were reported and so nothing was written; 2 on bad
arguments or an unreadable file.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from kit import context
from kit.auth import Principal
from kit.db.engine import create_engine
from kit.db.migrations import upgrade
from kit.http.problems import Problem
from kit.settings import Settings
from kit.uow import UnitOfWork
from services.timetracking.imports import csvparse, service
from services.timetracking.imports.csvparse import FileProblem
from services.timetracking.imports.schemas import ImportResult, Report
from services.timetracking.module import module

SERVICE_SUBJECT = "timesheets-import"
"""The principal's subject (not a user id: it logs no time of its own)."""

app = typer.Typer(help="Timesheets: import from CSV.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """Timesheets: import from CSV."""


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="The CSV file (UTF-8, `,` or `;`, header row).")],
    workspace: Annotated[str, typer.Option("--workspace", help="The workspace's id.")],
    mapping: Annotated[
        str | None,
        typer.Option(help='Column of each field, as JSON: {"date": "Day", "hours": "Time"}.'),
    ] = None,
    accept_valid_only: Annotated[
        bool, typer.Option("--accept-valid-only", help="Write the good rows despite errors.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and report; write nothing.")
    ] = False,
) -> None:
    """Import a timesheet CSV: every row is checked first; nothing is written while any row
    has errors, unless `--accept-valid-only`. Importing a file again adds nothing."""
    try:
        workspace_id = str(uuid.UUID(workspace))
    except ValueError:
        _fail(f"--workspace: {workspace!r} is not a workspace id")
    parsed: object = None
    if mapping is not None:
        try:
            parsed = json.loads(mapping)
            csvparse.check_mapping(parsed)
        except json.JSONDecodeError as error:
            _fail(f"--mapping: not JSON: {error}")
        except FileProblem as problem:
            _fail(f"--mapping: {problem.message}")
    try:
        data = file.read_bytes()
    except OSError as error:
        _fail(f"cannot read {file}: {error.strerror or error}")
    url = Settings().database_url_for("timetracking")
    upgrade(module.migrations, url)
    principal = Principal(
        subject=SERVICE_SUBJECT, workspace_id=workspace_id, kind="service", workspace_role="admin"
    )
    console = Console(stderr=True)
    try:
        result = asyncio.run(
            _import(url, principal, data, parsed, console, accept=accept_valid_only, dry=dry_run)
        )
    except FileProblem as problem:
        _fail(f"{file}: {problem.message}")
    except Problem as problem:
        typer.echo(f"error: {problem.detail or problem.kind}", err=True)
        raise typer.Exit(1) from problem
    _print(result.report)
    counts = result.report.counts
    if dry_run:
        typer.echo(
            f"dry run: {counts.ok} row(s) to write, {counts.duplicates} duplicate(s), "
            f"{counts.errors} error(s); nothing written"
        )
    elif counts.errors and not accept_valid_only:
        typer.echo(
            f"{counts.errors} row(s) with errors: nothing written "
            "(fix them, or use --accept-valid-only to write the "
            f"{counts.ok} valid row(s))"
        )
    else:
        typer.echo(
            f"written: {result.written}, duplicates: {result.duplicates}, errors: {result.errors}"
        )
    raise typer.Exit(1 if counts.errors and not accept_valid_only else 0)


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _print(report: Report) -> None:
    for row in report.rows:
        for problem in row.problems:
            if row.status == "error":
                typer.echo(f"line {row.line}: {problem.message}")
            elif row.status == "duplicate":
                typer.echo(f"line {row.line}: duplicate, skipped: {problem.message}")


@contextmanager
def _bars(console: Console) -> Iterator[tuple[Progress, TaskID, TaskID]]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        checking = progress.add_task("checking", total=None)
        writing = progress.add_task("writing", total=None, visible=False)
        yield progress, checking, writing


async def _import(
    url: str,
    principal: Principal,
    data: bytes,
    mapping: object,
    console: Console,
    *,
    accept: bool,
    dry: bool,
) -> ImportResult:
    engine = create_engine(url)
    try:
        with (
            context.working(actor=SERVICE_SUBJECT, workspace=principal.workspace_id),
            _bars(console) as (progress, checking, writing),
        ):
            async with UnitOfWork(async_sessionmaker(engine, expire_on_commit=False)) as uow:

                def checked() -> None:
                    progress.advance(checking)

                def written() -> None:
                    progress.advance(writing)

                if dry:
                    report = (
                        await service.check(uow, principal, data, mapping, tick=checked)
                    ).report
                    return ImportResult(
                        written=0,
                        duplicates=report.counts.duplicates,
                        errors=report.counts.errors,
                        report=report,
                    )
                try:
                    result = await service.run(
                        uow,
                        principal,
                        data,
                        mapping,
                        accept_valid_only=accept,
                        tick=checked,
                        written_tick=written,
                    )
                except Problem as problem:
                    carried = problem.extensions.get("report")
                    if problem.kind != "import-has-errors" or carried is None:
                        raise
                    checked_report = Report.model_validate(carried)
                    return ImportResult(
                        written=0,
                        duplicates=checked_report.counts.duplicates,
                        errors=checked_report.counts.errors,
                        report=checked_report,
                    )
                progress.update(
                    writing, visible=True, total=result.written, completed=result.written
                )
                try:
                    await uow.commit()
                except IntegrityError as error:
                    raise Problem(
                        409, "import-conflict", "The same rows were imported concurrently; retry."
                    ) from error
                return result
    finally:
        await engine.dispose()
