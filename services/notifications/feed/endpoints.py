"""The caller's feed: pages, unread count, marking read, and the live stream."""

from __future__ import annotations

import jwt
from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse

from kit import context
from kit.auth import Principal, bearer_token
from kit.http.problems import Problem
from kit.runtime import ServiceRuntime
from services.notifications.dependencies import Caller, UoW
from services.notifications.feed import live, service
from services.notifications.feed.schemas import (
    MarkAllRead,
    Marked,
    Notification,
    NotificationPage,
    UnreadCount,
)
from services.notifications.settings import get_settings

router = APIRouter(tags=["feed"])


def _runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


@router.get("/feed", response_model=NotificationPage)
async def list_feed(
    principal: Caller,
    uow: UoW,
    unread: bool = Query(default=False, description="Only notices not read yet."),
    cursor: str | None = Query(default=None, max_length=100),
    limit: int = Query(default=30, ge=1, le=service.LIST_LIMIT_MAX),
) -> NotificationPage:
    """The caller's notices, newest first, a page at a time (`next_cursor`)."""
    rows, next_cursor = await service.page(
        uow, principal, unread_only=unread, cursor=cursor, limit=limit
    )
    return NotificationPage(
        items=[service.view(r) for r in rows],
        next_cursor=next_cursor,
        unread=await service.unread(uow, principal),
    )


@router.get("/feed/unread-count", response_model=UnreadCount)
async def unread_count(principal: Caller, uow: UoW) -> UnreadCount:
    return UnreadCount(unread=await service.unread(uow, principal))


@router.post("/feed/read-all", response_model=Marked)
async def mark_all_read(
    principal: Caller, uow: UoW, request: Request, body: MarkAllRead | None = None
) -> Marked:
    marked = await service.mark_all(uow, principal, (body or MarkAllRead()).up_to)
    await uow.commit()
    await live.announce_read(live.hub_of(_runtime(request)), principal)
    return Marked(marked=marked, unread=await service.unread(uow, principal))


@router.post("/feed/{notification_id}/read", response_model=Notification)
async def mark_read(
    notification_id: str, principal: Caller, uow: UoW, request: Request
) -> Notification:
    """404 for anyone else's notice. Marking a read notice again changes nothing."""
    row = await service.mark_one(uow, principal, notification_id)
    await uow.commit()
    await live.announce_read(live.hub_of(_runtime(request)), principal)
    return service.view(row)


@router.get(
    "/feed/stream",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream_feed(
    request: Request,
    access_token: str | None = Query(
        default=None,
        description="For browsers' EventSource, which cannot send headers; "
        "`Authorization: Bearer` is preferred.",
    ),
    last_event_id: str | None = Header(default=None, max_length=36),
) -> EventSourceResponse:
    """Server-Sent Events: `notification` (id = the notice's id) and `unread` (`{"unread": n}`),
    with a heartbeat comment every few seconds. A reconnecting browser sends `Last-Event-ID`
    and receives what it missed first. The stream ends with `expired` when the access token
    does; reconnect with a fresh one."""
    principal, expires_at = await _stream_caller(request, access_token)
    runtime = _runtime(request)
    events = live.stream(
        live.hub_of(runtime),
        runtime.unit_of_work,
        principal,
        last_event_id=last_event_id or None,
        heartbeat=get_settings().feed_heartbeat_seconds,
        expires_at=expires_at,
    )
    return EventSourceResponse(events, headers={"Cache-Control": "no-store"})


async def _stream_caller(request: Request, access_token: str | None) -> tuple[Principal, float]:
    """The verified caller and when their token expires: the stream ends then (with an
    `expired` event), so a revoked or logged-out session does not listen on for hours."""
    if request.headers.get("authorization"):
        token = bearer_token(request)
    elif access_token:
        token = access_token
    else:
        raise Problem(
            401,
            "unauthenticated",
            "Send an access token as `Authorization: Bearer` or `access_token`.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = await _runtime(request).token_verifier.verify(token)
    context.bind(actor=principal.subject, workspace=principal.workspace_id)
    # Verified just above; only its expiry is read here.
    claims = jwt.decode(token, options={"verify_signature": False})
    return principal, float(claims["exp"])
