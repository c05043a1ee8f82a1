"""Notices in the feed: who gets one for what, read state, and the two background loops
(live push and mail forwarding).

A notice is written in the transaction of the event that caused it, keyed by (event,
recipient), so redeliveries add nothing. Everything after that is driven from the rows:
the pusher claims rows not yet pushed and publishes them to Redis (a crash before its
commit only pushes them again, and streams drop repeats by id); the forwarder claims
unread rows whose time has come and mails them, marking them in the same transaction as
the queued mail, so each is mailed once even with several processes.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from uuid6 import uuid7

from kit.auth import Principal
from kit.db.times import in_utc
from kit.http.problems import Problem
from kit.logging import get_logger
from kit.uow import UnitOfWork
from services.notifications.feed import repository
from services.notifications.feed.schemas import Notification
from services.notifications.models import FeedNotification
from services.notifications.preferences import service as preferences
from services.notifications.preferences.service import Delivery

log = get_logger(__name__)

LIST_LIMIT_MAX = 100
TITLE_MAX = 500
BODY_MAX = 2_000
PUSH_BATCH = 200
FORWARD_BATCH = 100
EVERY_CHANNEL: frozenset[Delivery] = frozenset({"mail", "in_app"})
IN_APP_ONLY: frozenset[Delivery] = frozenset({"in_app"})


@dataclass(frozen=True)
class Notice:
    """What one event tells its recipients (the same text for each of them)."""

    workspace_id: str
    kind: str
    title: str
    body: str = ""
    actor_id: str | None = None
    item_id: str | None = None
    item_number: int | None = None
    project_id: str | None = None


async def deliver(
    uow: UnitOfWork,
    source_event_id: str,
    notice: Notice,
    recipients: Iterable[str],
    *,
    allowed: frozenset[Delivery] = EVERY_CHANNEL,
    mailed_anyway: Collection[str] = (),
) -> int:
    """Add the notice for each recipient as their preferences for its kind say.

    The actor is never told of their own action. `allowed` narrows the channels (a rule's
    message sent in the app only); `mailed_anyway` are recipients who get a mail about this
    event from mail-out already (followers), whose notice is therefore never forwarded.
    Returns how many notices are new."""
    wanted = sorted({r for r in recipients if r and r != notice.actor_id})
    if not wanted:
        return 0
    choices = await preferences.choices_for(uow.session, notice.workspace_id, wanted, notice.kind)
    now = datetime.now(UTC)
    forwardable = not preferences.mailed_at_once(notice.kind)
    rows: list[dict[str, Any]] = []
    for recipient in wanted:
        choice = choices[recipient]
        channels = choice.channels & allowed
        in_feed = "in_app" in channels
        by_mail = "mail" in channels and forwardable and recipient not in mailed_anyway
        if not in_feed and not by_mail:
            continue
        if in_feed:
            forward_at = now + timedelta(minutes=choice.forward_after_minutes) if by_mail else None
        else:
            forward_at = now  # mail only: the forwarder sends it at its next round
        rows.append(
            {
                "id": str(uuid7()),
                "workspace_id": notice.workspace_id,
                "recipient_id": recipient,
                "kind": notice.kind,
                "source_event_id": source_event_id,
                "actor_id": notice.actor_id,
                # One line: titles become mail subjects, where a newline would be a header.
                "title": _clip(" ".join(notice.title.split()), TITLE_MAX),
                "body": _clip(notice.body, BODY_MAX),
                "item_id": notice.item_id,
                "item_number": notice.item_number,
                "project_id": notice.project_id,
                "in_feed": in_feed,
                "created_at": now,
                # Mail-only notices never go to live sessions.
                "pushed_at": None if in_feed else now,
                "forward_at": forward_at,
            }
        )
    return await repository.add_all(uow.session, rows)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- reading the feed -------------------------------------------------------------------------


def view(row: FeedNotification) -> Notification:
    return Notification(
        id=row.id,
        kind=row.kind,
        title=row.title,
        body=row.body,
        item_id=row.item_id,
        item_number=row.item_number,
        project_id=row.project_id,
        actor_id=row.actor_id,
        created_at=in_utc(row.created_at),
        read_at=in_utc(row.read_at) if row.read_at else None,
        read=row.read_at is not None,
    )


async def page(
    uow: UnitOfWork, principal: Principal, *, unread_only: bool, cursor: str | None, limit: int
) -> tuple[list[FeedNotification], str | None]:
    before = _decode_cursor(cursor) if cursor else None
    rows = await repository.page(
        uow.session,
        principal.workspace_id,
        principal.subject,
        unread_only=unread_only,
        before=before,
        limit=limit + 1,
    )
    more, rows = len(rows) > limit, rows[:limit]
    return rows, _encode_cursor(rows[-1].id) if more and rows else None


async def unread(uow: UnitOfWork, principal: Principal) -> int:
    return await repository.unread_count(uow.session, principal.workspace_id, principal.subject)


async def mark_one(uow: UnitOfWork, principal: Principal, notification_id: str) -> FeedNotification:
    """Only one's own notices exist for one: anyone else's id is 404."""
    row = await repository.own(
        uow.session, principal.workspace_id, principal.subject, notification_id
    )
    if row is None:
        raise Problem(404, "not-found", "No such notification.")
    if row.read_at is None:
        now = datetime.now(UTC)
        await repository.mark_read(
            uow.session, principal.workspace_id, principal.subject, now, notification_id=row.id
        )
        row = replace_read(row, now)
    return row


def replace_read(row: FeedNotification, at: datetime) -> FeedNotification:
    row.read_at = at
    row.forward_at = None
    return row


async def mark_all(uow: UnitOfWork, principal: Principal, up_to: str | None) -> int:
    return await repository.mark_read(
        uow.session, principal.workspace_id, principal.subject, datetime.now(UTC), up_to=up_to
    )


def _encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        decoded = base64.urlsafe_b64decode(padded).decode()
    except (ValueError, binascii.Error) as error:
        raise Problem(400, "invalid-cursor", "The cursor is not valid.") from error
    if not decoded or len(decoded) > 36:
        raise Problem(400, "invalid-cursor", "The cursor is not valid.")
    return decoded


# --- background loops ---------------------------------------------------------------------------


async def repeat(
    name: str,
    unit_of_work: Callable[[], UnitOfWork],
    round_: Callable[[UnitOfWork], Any],
    *,
    interval: float,
    batch: int,
) -> None:
    """Run `round_` in its own unit of work every `interval` seconds (at once again while it
    finds full batches). A failed round (database or Redis away) is logged and retried at the
    next, as the outbox relay does: the rows wait, nothing is lost."""
    while True:
        done = 0
        try:
            async with unit_of_work() as uow:
                done = await round_(uow)
                await uow.commit()
        except Exception as error:
            log.warning("feed round failed", loop=name, error=repr(error))
        if done < batch:
            await asyncio.sleep(interval)
