"""Mail for notices left unread: once a notice's time has come (its recipient's delay after
it arrived, or at once for a kind they take by mail only), the forwarder mails it.

Claims lock `SKIP LOCKED` and the mail is queued (`outbound.queue_mail`, keyed by the
notice) in the same transaction that marks the notice forwarded, so several processes
never mail one notice twice, and a process that was down mails what fell due meanwhile at
its first round.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from kit.uow import UnitOfWork
from services.notifications.feed import repository
from services.notifications.feed.service import FORWARD_BATCH
from services.notifications.models import FeedNotification
from services.notifications.outbound.service import queue_mail


async def forward_round(uow: UnitOfWork) -> int:
    now = datetime.now(UTC)
    rows = await repository.claim_due(uow.session, now, limit=FORWARD_BATCH)
    for row in rows:
        await queue_mail(
            uow,
            workspace_id=row.workspace_id,
            user_id=row.recipient_id,
            dedupe_key=f"feed:{row.id}",
            kind=f"feed.{row.kind}",
            subject=row.title,
            text=_text(row),
            html=_html(row),
            item_id=row.item_id,
        )
    await repository.set_times(uow.session, [r.id for r in rows], forwarded_at=now)
    return len(rows)


def _text(row: FeedNotification) -> str:
    lines = [row.title]
    if row.body:
        lines += ["", row.body]
    if row.in_feed:
        lines += ["", "You are receiving this because you had not read it in the app yet."]
    return "\n".join(lines) + "\n"


def _html(row: FeedNotification) -> str:
    parts = [f"<p><strong>{escape(row.title)}</strong></p>"]
    if row.body:
        parts.append(f"<p>{escape(row.body)}</p>")
    if row.in_feed:
        parts.append(
            '<p style="color:#666;font-size:smaller">You are receiving this because you had '
            "not read it in the app yet.</p>"
        )
    return "\n".join(parts)
