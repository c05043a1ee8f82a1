"""Attachments over HTTP: streamed uploads, metadata, inert downloads, deletion."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import ValidationError

from kit.http.problems import Problem
from kit.logging import get_logger
from kit.uow import UnitOfWork
from services.tickets.attachments import service
from services.tickets.attachments.schemas import UPLOAD_OPENAPI, Attachment, AttachmentCreate
from services.tickets.attachments.storage import (
    AttachmentStorage,
    StoredObjectMissing,
    storage_for,
)
from services.tickets.attachments.upload import FileHeader, read_upload
from services.tickets.dependencies import Caller, UoW
from services.tickets.models import Attachment as AttachmentRow
from services.tickets.settings import get_settings

router = APIRouter(tags=["attachments"])
log = get_logger(__name__)


def attachment_storage(request: Request) -> AttachmentStorage:
    return storage_for(request.app.state.runtime.settings)


Storage = Annotated[AttachmentStorage, Depends(attachment_storage)]

_ATTR_CHARS = "!#$&+^`|"
"""RFC 5987 attr-chars that `quote` would escape but need not (it keeps ALPHA, DIGIT, -._~)."""


def content_disposition(filename: str) -> str:
    """Always `attachment`, so a browser saves rather than renders. The full name goes in
    `filename*` (RFC 6266/5987, UTF-8 percent-encoded); `filename` is the ASCII fallback RFC 6266
    asks senders to put first, without quotes, backslashes or percent signs that some agents
    would misread."""
    fallback = "".join(ch if " " <= ch <= "~" and ch not in '"\\%' else "_" for ch in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, _ATTR_CHARS)}"


def download_headers(row: AttachmentRow) -> dict[str, str]:
    """Served inert: never sniffed into something executable, sandboxed if opened anyway, and
    never kept by a shared cache."""
    return {
        "content-type": row.content_type or service.FALLBACK_CONTENT_TYPE,
        "content-length": str(row.size),
        "content-disposition": content_disposition(row.filename),
        "x-content-type-options": "nosniff",
        "content-security-policy": "sandbox",
        "cache-control": "private",
    }


def attachment_out(row: AttachmentRow) -> Attachment:
    return Attachment(
        id=row.id,
        item_id=row.item_id,
        comment_id=row.comment_id,
        filename=row.filename,
        content_type=row.content_type,
        size=row.size,
        visibility="private" if row.visibility == "private" else "public",
        uploaded_by=row.uploaded_by,
        created_at=row.created_at,
    )


async def _release(uow: UnitOfWork) -> None:
    """End the read transaction so its pooled connection is free while bytes flow: a slow
    client moving megabytes would otherwise pin a database connection for as long."""
    await uow.session.rollback()


async def _discard(storage: AttachmentStorage, key: str) -> None:
    with anyio.CancelScope(shield=True):
        await storage.delete(key)


def _form_errors(error: ValidationError) -> RequestValidationError:
    return RequestValidationError(
        [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False)]
    )


@router.post(
    "/items/{item_id}/attachments",
    status_code=201,
    response_model=Attachment,
    openapi_extra=UPLOAD_OPENAPI,
    responses={413: {"description": "Too large"}, 415: {"description": "Type refused"}},
)
async def upload(
    item_id: str, request: Request, principal: Caller, uow: UoW, storage: Storage
) -> Attachment:
    """multipart/form-data with `file` and, optionally, `comment_id` and `visibility`. The file
    streams to storage as it arrives; nothing is kept unless the whole request succeeds."""
    await service.admit(uow, principal, item_id)
    await _release(uow)
    max_bytes = get_settings().attachment_max_bytes

    async def store(header: FileHeader, chunks: AsyncIterator[bytes]) -> service.StoredUpload:
        return await service.store(storage, header, chunks, max_bytes=max_bytes)

    async def discard(stored: service.StoredUpload) -> None:
        await _discard(storage, stored.key)

    fields, stored = await read_upload(request, store, discard)
    try:
        try:
            form = AttachmentCreate.model_validate(fields)
        except ValidationError as error:
            raise _form_errors(error) from error
        row = await service.attach(uow, principal, item_id, form, stored)
        await uow.commit()
    except BaseException:
        await _discard(storage, stored.key)
        raise
    return attachment_out(row)


@router.get("/items/{item_id}/attachments", response_model=list[Attachment])
async def list_attachments(item_id: str, principal: Caller, uow: UoW) -> list[Attachment]:
    """Oldest first; clients get public ones only."""
    return [attachment_out(row) for row in await service.listing(uow, principal, item_id)]


@router.get("/attachments/{attachment_id}", response_model=Attachment)
async def get_attachment(attachment_id: str, principal: Caller, uow: UoW) -> Attachment:
    row, _ = await service.visible(uow, principal, attachment_id)
    return attachment_out(row)


@router.get(
    "/attachments/{attachment_id}/content",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def download(
    attachment_id: str, principal: Caller, uow: UoW, storage: Storage
) -> StreamingResponse:
    row, _ = await service.visible(uow, principal, attachment_id)
    key, headers = row.storage_key, download_headers(row)
    await _release(uow)
    try:
        chunks = await storage.open(key)
    except StoredObjectMissing:
        log.error("attachment content missing", attachment_id=attachment_id, key=key)
        raise Problem(404, "not-found", "No such attachment.") from None
    return StreamingResponse(chunks, headers=headers)


@router.delete("/attachments/{attachment_id}", status_code=204)
async def delete_attachment(
    attachment_id: str, principal: Caller, uow: UoW, storage: Storage
) -> Response:
    """The uploader, or whoever may delete the item. The row goes first; a file whose removal
    fails afterwards is only an orphan, never a row pointing at nothing."""
    key = await service.remove(uow, principal, attachment_id)
    await uow.commit()
    try:
        await storage.delete(key)
    except OSError:
        log.warning("attachment file not removed", attachment_id=attachment_id, key=key)
    return Response(status_code=204)
