"""Raw MIME posted over HTTP (for mail providers that post inbound mail), and the stored
mails with their outcomes and full original, for workspace admins."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from kit.auth import Principal, authenticated
from kit.http.problems import Problem
from services.notifications.dependencies import Caller, UoW, require_admin
from services.notifications.inbound import repository
from services.notifications.inbound.parsing import parse
from services.notifications.inbound.routing import route
from services.notifications.inbound.schemas import InboundAccepted, InboundMail, InboundPage
from services.notifications.inbound.service import arrival
from services.notifications.parts import mail_parts

router = APIRouter(tags=["mail in"])


@router.post(
    "/inbound/mime",
    status_code=202,
    response_model=InboundAccepted,
    summary="Accept one raw MIME mail (as a provider posts it) for a recipient address.",
)
async def post_mime(
    request: Request,
    uow: UoW,
    recipient: Annotated[str, Query(min_length=3, max_length=320)],
    mail_from: Annotated[str, Query(max_length=320)] = "",
) -> InboundAccepted:
    """Authorised by the provider's shared secret (`X-Inbound-Secret`) or an admin's token
    for the recipient's workspace. The mail is stored before the answer; 202 means it will
    be processed (its outcome is at `GET /inbound/{id}`). A sender past the rate limit gets
    429 with `Retry-After` (the attempt is recorded, its `id` in the problem): post it again
    then."""
    parts = mail_parts(request.app.state.runtime)
    settings = parts.settings
    secret = request.headers.get("x-inbound-secret")
    caller: Principal | None = None
    if not (
        secret
        and settings.inbound_http_secret
        and hmac.compare_digest(secret, settings.inbound_http_secret)
    ):
        caller = await authenticated(request)
        require_admin(caller)
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > settings.max_message_bytes:
            raise Problem(
                413,
                "message-too-large",
                f"Mails are limited to {settings.max_message_bytes} bytes.",
            )
    if not raw.strip():
        raise Problem(400, "empty-message", "The body must be the raw MIME mail.")
    found = await route(uow.session, recipient, settings.inbound_domain)
    if found is None or (caller is not None and found.workspace_id != caller.workspace_id):
        raise Problem(404, "unknown-recipient", "No workspace receives mail at this address.")
    refused = await parts.limiter.admit(
        bytes(raw), mail_from=mail_from, workspace_ids={found.workspace_id}
    )
    mail = arrival(
        channel="http",
        mail_from=mail_from,
        raw=bytes(raw),
        routes={recipient: found},
        refused=refused,
    )
    await parts.intake.take(mail)
    [mail_id] = mail.ids
    if refused is not None:
        raise Problem(
            429,
            "rate-limited",
            "Too many mails from this sender: post this mail again later.",
            headers={"Retry-After": str(refused.retry_after)},
            id=mail_id,
        )
    return InboundAccepted(id=mail_id)


@router.get("/inbound", response_model=InboundPage, summary="Stored inbound mails, newest first.")
async def list_inbound(
    caller: Caller,
    uow: UoW,
    status: Annotated[str | None, Query(max_length=16)] = None,
    cursor: Annotated[str | None, Query(max_length=36)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> InboundPage:
    require_admin(caller)
    rows = await repository.page(uow.session, caller.workspace_id, status, cursor, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return InboundPage(
        items=[InboundMail.model_validate(row) for row in rows],
        next_cursor=rows[-1].id if more and rows else None,
    )


@router.get("/inbound/{mail_id}", response_model=InboundMail, summary="One mail's outcome.")
async def get_inbound(mail_id: str, caller: Caller, uow: UoW) -> InboundMail:
    require_admin(caller)
    row = await repository.get(uow.session, caller.workspace_id, mail_id)
    if row is None:
        raise Problem(404, "not-found", "No such inbound mail.")
    return InboundMail.model_validate(row)


@router.get(
    "/inbound/{mail_id}/raw",
    summary="The full original mail, exactly as received.",
    response_class=Response,
    responses={200: {"content": {"message/rfc822": {}}}},
)
async def get_inbound_raw(mail_id: str, caller: Caller, uow: UoW) -> Response:
    require_admin(caller)
    row = await repository.get(uow.session, caller.workspace_id, mail_id)
    if row is None:
        raise Problem(404, "not-found", "No such inbound mail.")
    return Response(
        row.raw,
        media_type="message/rfc822",
        headers={
            "Content-Disposition": f'attachment; filename="{row.id}.eml"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get(
    "/inbound/{mail_id}/attachments/{index}",
    summary="One file of an inbound mail, through the signed link its event carries.",
    response_class=Response,
)
async def get_inbound_attachment(
    request: Request,
    mail_id: str,
    index: int,
    uow: UoW,
    sig: Annotated[str, Query(min_length=1, max_length=64)],
) -> Response:
    """No credentials: the signature in the link is the permission (only the event that
    announced the mail carries it)."""
    parts = mail_parts(request.app.state.runtime)
    if not hmac.compare_digest(sig, parts.keys.attachment_signature(mail_id, index)):
        raise Problem(404, "not-found", "No such attachment.")
    row = await repository.by_id(uow.session, mail_id)
    attachments = parse(row.raw, parts.settings.max_attachments).attachments if row else []
    if not 0 <= index < len(attachments):
        raise Problem(404, "not-found", "No such attachment.")
    found = attachments[index]
    return Response(
        found.data,
        media_type="application/octet-stream",
        headers={
            "X-Content-Type-Options": "nosniff",
            "X-Declared-Content-Type": found.content_type,
        },
    )
