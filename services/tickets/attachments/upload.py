"""Reading a multipart/form-data upload as it arrives, handing the file's bytes on as they come.

FastAPI's `UploadFile` would first spool the whole file to a temporary file and only then call
the endpoint, so the size limit and the type check would come after the bytes are on disk, and
every upload would be written twice. Here the file part is an async stream the caller stores
while counting, and the type is refused from the part's headers before a byte is kept.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TypeVar

import anyio
from fastapi.exceptions import RequestValidationError
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from kit.http.problems import Problem

T = TypeVar("T")

MAX_FIELDS = 16
MAX_FIELD_BYTES = 4096
"""The only fields that mean anything are short ids and words; anything bigger is abuse."""


@dataclass(frozen=True)
class FileHeader:
    """What the client says about the file part: all of it untrusted."""

    field: str
    filename: str
    content_type: str


@dataclass(frozen=True)
class _Start:
    name: str
    filename: str | None
    content_type: str


@dataclass(frozen=True)
class _Data:
    data: bytes


class _End:
    pass


_Event = _Start | _Data | _End


def _invalid(detail: str) -> Problem:
    return Problem(400, "invalid-multipart", detail)


@dataclass
class _Collector:
    """python-multipart's callbacks are synchronous; they queue events the async side drains
    after each network chunk."""

    pending: list[_Event] = field(default_factory=list)
    headers: dict[bytes, bytes] = field(default_factory=dict)
    header_name: bytes = b""
    header_value: bytes = b""
    ended: bool = False

    def on_part_begin(self) -> None:
        self.headers = {}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self.header_name.lower()] = self.header_value
        self.header_name = self.header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition"))
        if b"name" not in options:
            raise _invalid("Every part needs a Content-Disposition name.")
        filename = options.get(b"filename")
        # Browsers send UTF-8 here (RFC 7578 §4.2); the parser hands it over as latin-1 bytes.
        self.pending.append(
            _Start(
                name=options[b"name"].decode("utf-8", "replace"),
                filename=filename.decode("utf-8", "replace") if filename is not None else None,
                content_type=self.headers.get(b"content-type", b"").decode("latin-1"),
            )
        )

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self.pending.append(_Data(data[start:end]))

    def on_part_end(self) -> None:
        self.pending.append(_End())

    def on_end(self) -> None:
        self.ended = True


def _boundary(request: Request) -> bytes:
    kind, options = parse_options_header(request.headers.get("content-type"))
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise Problem(415, "multipart-required", "Send the file as multipart/form-data.")
    return options[b"boundary"]


async def _events(request: Request, collector: _Collector) -> AsyncGenerator[_Event, None]:
    parser = MultipartParser(
        _boundary(request),
        {
            "on_part_begin": collector.on_part_begin,
            "on_part_data": collector.on_part_data,
            "on_part_end": collector.on_part_end,
            "on_header_field": collector.on_header_field,
            "on_header_value": collector.on_header_value,
            "on_header_end": collector.on_header_end,
            "on_headers_finished": collector.on_headers_finished,
            "on_end": collector.on_end,
        },
    )
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            for event in collector.pending:
                yield event
            collector.pending.clear()
        parser.finalize()
    except FormParserError as error:
        raise _invalid("The multipart body is malformed.") from error
    except ClientDisconnect as error:
        # Either the client left or the body outgrew the service's limit (the middleware then
        # answers 413 in place of this).
        raise Problem(400, "incomplete-body", "The request body ended early.") from error
    if not collector.ended:
        raise _invalid("The multipart body ended before its closing boundary.")


async def _field_value(events: AsyncIterator[_Event]) -> str:
    value = bytearray()
    async for event in events:
        if isinstance(event, _End):
            return value.decode("utf-8", "replace")
        if isinstance(event, _Data):
            value += event.data
            if len(value) > MAX_FIELD_BYTES:
                raise _invalid(f"Form fields are limited to {MAX_FIELD_BYTES} bytes.")
    raise _invalid("The multipart body ended inside a field.")


async def _file_chunks(events: AsyncIterator[_Event]) -> AsyncIterator[bytes]:
    """The file part's bytes; consumes the shared event stream up to the part's end, so the
    caller's loop carries on with the next part."""
    async for event in events:
        if isinstance(event, _End):
            return
        if isinstance(event, _Data) and event.data:
            yield event.data
    raise _invalid("The multipart body ended inside the file.")


async def read_upload(
    request: Request,
    store: Callable[[FileHeader, AsyncIterator[bytes]], Awaitable[T]],
    discard: Callable[[T], Awaitable[None]],
) -> tuple[dict[str, str], T]:
    """The form's text fields, and what `store` made of its single file part (required).

    `store` must consume the chunks (or raise); if anything fails after it succeeded (a second
    file, a broken body), `discard` undoes it, so no failed request leaves a file behind.
    """
    fields: dict[str, str] = {}
    stored: T | None = None
    try:
        # Closed explicitly: a refusal midway leaves the rest of the body unread.
        async with aclosing(_events(request, _Collector())) as events:
            async for event in events:
                if not isinstance(event, _Start):
                    continue
                if event.filename is None:
                    fields[event.name] = await _field_value(events)
                    if len(fields) > MAX_FIELDS:
                        raise _invalid(f"At most {MAX_FIELDS} form fields are accepted.")
                elif stored is not None:
                    raise Problem(422, "one-file-per-upload", "Upload one file per request.")
                else:
                    header = FileHeader(event.name, event.filename, event.content_type)
                    stored = await store(header, _file_chunks(events))
    except BaseException:
        if stored is not None:
            with anyio.CancelScope(shield=True):
                await discard(stored)
        raise
    if stored is None:
        missing = {"type": "missing", "loc": ("body", "file"), "msg": "Field required"}
        raise RequestValidationError([missing])
    return fields, stored
