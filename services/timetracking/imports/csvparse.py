"""Reading a timesheet CSV into rows of raw values, and parsing each value: pure functions,
no database. What a value refers to (an item, a person) is resolved by the service.

Accepted forms:
- encoding UTF-8, with or without a byte-order mark; delimiter `,` or `;` (sniffed from the
  header line);
- `date`: `YYYY-MM-DD` or `DD.MM.YYYY`;
- `hours`: a decimal (`1.5`, or `1,5` with a decimal comma) or `H:MM` (`1:30`);
  `minutes`: a whole number;
- `billable`: true/false, yes/no, y/n, 1/0 (any case); empty means true;
- `item`: its number (`1042` or `#1042`) or its id; `person`: an e-mail or a user id.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from services.timetracking.entries.service import EntryProblem

FIELDS = ("date", "item", "person", "hours", "minutes", "note", "billable", "activity")
"""The columns an import knows; the mapping names the header of each (default: the same)."""
REQUIRED = ("date", "item")
DELIMITERS = (",", ";")
DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y")
TRUE = frozenset({"true", "yes", "y", "1"})
FALSE = frozenset({"false", "no", "n", "0"})
CLOCK = re.compile(r"^(-?)(\d+):([0-5]\d)$")
NUMBER = re.compile(r"^#?(\d{1,9})$")


class FileProblem(Exception):
    """The file (or the mapping) cannot be read at all: nothing is reported per row."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class RawRow:
    """One data record: its (first) line in the file and its values by import field."""

    line: int
    values: Mapping[str, str]

    def get(self, name: str) -> str:
        return self.values.get(name, "").strip()


@dataclass(frozen=True)
class Table:
    """The file read: which import fields it has, and its records."""

    columns: frozenset[str]
    rows: list[RawRow] = field(default_factory=list)


def check_mapping(mapping: object) -> dict[str, str]:
    """The full mapping (defaults filled in) from a user's partial one, or a FileProblem."""
    if mapping is None:
        mapping = {}
    if not isinstance(mapping, dict):
        raise FileProblem("invalid-mapping", "The mapping must be a JSON object.")
    unknown = sorted(str(k) for k in mapping if k not in FIELDS)
    if unknown:
        known = ", ".join(FIELDS)
        raise FileProblem(
            "invalid-mapping", f"Unknown mapping field(s) {', '.join(unknown)}; known: {known}."
        )
    full = {name: name for name in FIELDS}
    for name, header in mapping.items():
        if not isinstance(header, str) or not header.strip():
            raise FileProblem("invalid-mapping", f"The column for `{name}` must be a name.")
        full[name] = header.strip()
    return full


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FileProblem(
            "invalid-encoding", f"The file is not UTF-8 (byte {error.start})."
        ) from error


def sniff_delimiter(text: str) -> str:
    """`,` or `;`, whichever the header line holds more of (`,` when neither)."""
    header = text.split("\n", 1)[0]
    return max(DELIMITERS, key=lambda d: (header.count(d), d == ","))


def read_table(data: bytes, mapping: Mapping[str, str]) -> Table:
    """The records of a CSV with a header row, keyed by import field. Blank lines are skipped;
    columns the mapping does not name are ignored."""
    text = decode(data)
    if not text.strip():
        raise FileProblem("empty-file", "The file is empty.")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    try:
        header = next(reader)
    except csv.Error as error:
        raise FileProblem("invalid-csv", f"The header cannot be read: {error}.") from error
    positions = {name.strip().casefold(): i for i, name in enumerate(header)}
    where = {
        name: positions[column.casefold()]
        for name, column in mapping.items()
        if column.casefold() in positions
    }
    missing = [f"`{mapping[name]}` ({name})" for name in REQUIRED if name not in where]
    if "hours" not in where and "minutes" not in where:
        missing.append(f"`{mapping['hours']}` or `{mapping['minutes']}` (duration)")
    if missing:
        found = ", ".join(h.strip() for h in header) or "none"
        raise FileProblem(
            "missing-columns",
            f"Missing column(s) {', '.join(missing)}; the header has: {found}.",
        )
    return Table(frozenset(where), list(_records(reader, where)))


def _records(reader: Iterator[list[str]], where: Mapping[str, int]) -> Iterator[RawRow]:
    line = 2
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise FileProblem("invalid-csv", f"Line {line}: {error}.") from error
        first, line = line, getattr(reader, "line_num", line) + 1
        if not any(value.strip() for value in record):
            continue
        values = {name: record[i] if i < len(record) else "" for name, i in where.items()}
        yield RawRow(first, values)


# --- values -----------------------------------------------------------------------------------


def parse_date(text: str) -> tuple[date | None, list[EntryProblem]]:
    if not text:
        return None, [EntryProblem("date", "required", "date missing")]
    for pattern in DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).date(), []
        except ValueError:
            continue
    message = f"bad date {text!r} (use YYYY-MM-DD or DD.MM.YYYY)"
    return None, [EntryProblem("date", "bad-date", message)]


def parse_hours(text: str) -> tuple[int | None, list[EntryProblem]]:
    """Minutes from `1.5`, `1,5` or `1:30`; rounded to the nearest minute."""
    if not text:
        return None, [EntryProblem("hours", "required", "duration missing")]
    clock = CLOCK.match(text)
    if clock:
        sign = -1 if clock.group(1) else 1
        return sign * (int(clock.group(2)) * 60 + int(clock.group(3))), []
    try:
        hours = Decimal(text.replace(",", "."))
    except InvalidOperation:
        hours = Decimal("NaN")
    if not hours.is_finite():
        message = f"bad duration {text!r} (hours like 1.5 or 1:30)"
        return None, [EntryProblem("hours", "bad-duration", message)]
    return int((hours * 60).to_integral_value()), []


def parse_minutes(text: str) -> tuple[int | None, list[EntryProblem]]:
    if not text:
        return None, [EntryProblem("minutes", "required", "duration missing")]
    try:
        return int(text), []
    except ValueError:
        message = f"bad duration {text!r} (whole minutes)"
        return None, [EntryProblem("minutes", "bad-duration", message)]


def parse_billable(text: str) -> tuple[bool, list[EntryProblem]]:
    value = text.casefold()
    if not value or value in TRUE:
        return True, []
    if value in FALSE:
        return False, []
    message = f"bad billable flag {text!r} (true/false, yes/no, 1/0)"
    return True, [EntryProblem("billable", "bad-flag", message)]


def item_number(text: str) -> int | None:
    """`1042` or `#1042` → 1042; anything else is an id (or nothing)."""
    found = NUMBER.match(text)
    return int(found.group(1)) if found else None


def describe_item(text: str) -> str:
    number = item_number(text)
    return f"#{number}" if number is not None else repr(text)
