"""One set of rows, two renderings: JSON for the app, CSV for spreadsheets and invoicing tools.

Every report and the billing export builds a pydantic model whose `rows` are flat models;
the endpoint asks `negotiate` which rendering the caller wants and, for CSV, hands the rows
to `csv_response`. CSV follows RFC 4180 (header row, CRLF, quoted where needed), writes
ISO dates and dot decimals whatever the server's locale, and defuses cells an importing
spreadsheet would run as a formula (OWASP "CSV injection"): item titles and notes are
typed by people outside the agency too.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from fastapi import Request, Response
from pydantic import BaseModel

from kit.http.problems import Problem

Format = Literal["json", "csv"]
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
_MEDIA: dict[str, Format] = {"application/json": "json", "text/csv": "csv"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}
"""For `responses=` of an endpoint: OpenAPI then lists CSV beside the JSON model."""


def negotiate(request: Request, explicit: Format | None, default: Format) -> Format:
    """`format=` wins (a link in a browser cannot set headers); else the Accept header's
    preferred of JSON and CSV; else the endpoint's default. Asking only for something else
    is a 406, not a silent JSON answer."""
    if explicit is not None:
        return explicit
    header = request.headers.get("accept", "").strip()
    if not header:
        return default
    best: tuple[float, int, Format] | None = None
    for position, part in enumerate(header.split(",")):
        media, _, params = part.strip().partition(";")
        quality = _quality(params)
        media = media.strip().lower()
        if quality <= 0:
            continue
        if media in _MEDIA:
            chosen = _MEDIA[media]
        elif media in ("*/*", "application/*", "text/*", ""):
            chosen = default if media != "text/*" else "csv"
        else:
            continue
        # Higher quality first; on a tie the earlier-listed type.
        candidate = (quality, -position, chosen)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    if best is None:
        raise Problem(
            406,
            "not-acceptable",
            "This resource is available as application/json or text/csv.",
            title="Not Acceptable",
        )
    return best[2]


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def cell(value: object) -> str:
    """A value as an invoicing tool reads it: ISO dates, dot decimals, empty for none."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    # A leading quote makes a spreadsheet show the text instead of evaluating it.
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(rows: Sequence[BaseModel], columns: Sequence[str]) -> str:
    """Header row, then one line per row; the header is written even when there are none,
    so an import maps its columns before it sees data."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(getattr(row, column)) for column in columns])
    return buffer.getvalue()


def csv_response(rows: Sequence[BaseModel], columns: Sequence[str], filename: str) -> Response:
    return Response(
        to_csv(rows, columns),
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
