"""The import report: one line per record of the file, and the counts."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

RowStatus = Literal["ok", "error", "duplicate"]


class RowProblem(BaseModel):
    field: str = Field(description="The import field (date, item, person, hours, …).")
    kind: str = Field(description="Machine-readable: bad-date, unknown-item, not-allowed, …")
    message: str


class EntryPreview(BaseModel):
    """The entry the row would write, as far as it could be read."""

    user_id: str | None = None
    person: str = ""
    item_id: str | None = None
    item_number: int | None = None
    worked_on: date | None = None
    minutes: int | None = None
    note: str = ""
    billable: bool = True
    activity_type: str = ""
    import_key: str | None = None


class ReportRow(BaseModel):
    line: int = Field(description="The row's line in the file (the header is line 1).")
    status: RowStatus
    problems: list[RowProblem] = Field(default_factory=list)
    entry: EntryPreview


class Counts(BaseModel):
    rows: int
    ok: int
    duplicates: int
    errors: int


class Report(BaseModel):
    counts: Counts
    rows: list[ReportRow]


class ImportResult(BaseModel):
    written: int
    duplicates: int
    errors: int
    report: Report
