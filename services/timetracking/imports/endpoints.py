"""Timesheet import over HTTP: a preview (the per-row report, nothing written) and the import
itself. The file comes as a multipart upload (`file`, with an optional `mapping` form field)
or as the raw `text/csv` body (with an optional `mapping` query parameter); the mapping is a
JSON object from import field to column header, e.g. `{"date": "Day", "hours": "Time"}`."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from sqlalchemy.exc import IntegrityError
from starlette.datastructures import UploadFile

from kit.http.problems import Problem
from services.timetracking.dependencies import Caller, UoW
from services.timetracking.imports import service
from services.timetracking.imports.csvparse import FileProblem
from services.timetracking.imports.schemas import ImportResult, Report

router = APIRouter(tags=["imports"])

MAX_BYTES = 5 * 1024 * 1024
MappingQuery = Annotated[
    str | None,
    Query(max_length=4_000, description='JSON, e.g. {"date": "Day", "hours": "Time"}.'),
]
CSV_BODY = {
    "requestBody": {
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "mapping": {"type": "string"},
                    },
                }
            },
        },
        "required": True,
    }
}


async def _upload(request: Request, mapping: str | None) -> tuple[bytes, object]:
    """The file's bytes and the parsed mapping, from either form of request."""
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=5)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise Problem(422, "invalid-file", "Send the CSV as the `file` part.")
        data = await upload.read(MAX_BYTES + 1)
        field = form.get("mapping")
        if isinstance(field, str) and field.strip():
            mapping = field
    elif content_type.startswith(("text/csv", "text/plain", "application/csv")):
        data = b""
        async for chunk in request.stream():
            data += chunk
            if len(data) > MAX_BYTES:
                break
    else:
        raise Problem(415, "unsupported-media-type", "Send text/csv or multipart/form-data.")
    if len(data) > MAX_BYTES:
        raise Problem(413, "payload-too-large", f"At most {MAX_BYTES} bytes per import.")
    if mapping is None:
        return data, None
    try:
        return data, json.loads(mapping)
    except json.JSONDecodeError as error:
        raise Problem(422, "invalid-mapping", f"The mapping is not JSON: {error}.") from error


def _file_problem(problem: FileProblem) -> Problem:
    return Problem(422, problem.kind, problem.message)


@router.post("/imports/timesheets/preview", response_model=Report, openapi_extra=CSV_BODY)
async def preview_import(
    request: Request, principal: Caller, uow: UoW, mapping: MappingQuery = None
) -> Report:
    """The per-row report (`ok`, `error` with its problems, `duplicate`); writes nothing."""
    data, parsed = await _upload(request, mapping)
    try:
        checked = await service.check(uow, principal, data, parsed)
    except FileProblem as problem:
        raise _file_problem(problem) from problem
    return checked.report


@router.post("/imports/timesheets", response_model=ImportResult, openapi_extra=CSV_BODY)
async def import_timesheets(
    request: Request,
    principal: Caller,
    uow: UoW,
    mapping: MappingQuery = None,
    accept: Annotated[
        Literal["valid-only"] | None,
        Query(description="`valid-only` writes the good rows even when others have errors."),
    ] = None,
) -> ImportResult:
    """Write the file's good rows in one transaction. With any error row and without
    `accept=valid-only`: 422 with the report, nothing written. Duplicates (already imported,
    or repeated in the file) are skipped: importing a file twice adds nothing."""
    data, parsed = await _upload(request, mapping)
    try:
        result = await service.run(
            uow, principal, data, parsed, accept_valid_only=accept == "valid-only"
        )
    except FileProblem as problem:
        raise _file_problem(problem) from problem
    try:
        await uow.commit()
    except IntegrityError as error:
        # The same rows imported at the same moment by another request: its import won.
        raise Problem(
            409, "import-conflict", "The same rows are being imported concurrently; retry."
        ) from error
    return result
