"""The per-sender limit on inbound mail, decided while the sending side waits: past it, the
SMTP listener answers 451 4.7.1 (a real mail server keeps the mail and tries again later)
and the HTTP endpoint 429 with `Retry-After`, so a burst is slowed down, never lost.

Counts live in Redis, one key per (workspace, sender, window), shared by every replica. A
refused attempt is not counted (it was not taken), so a sender retrying after the window
gets in. Mail that is never answered anyway (loops, bounces, auto-replies) and mail whose
headers cannot be read are not counted: the processor records those with their own reason.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass

from redis.asyncio import Redis

from kit.logging import get_logger
from services.notifications.inbound.parsing import ParsedMail, Unreadable, parse_headers
from services.notifications.inbound.screening import noise
from services.notifications.settings import NotificationsSettings

log = get_logger(__name__)


@dataclass(frozen=True)
class Refusal:
    """A mail turned away for now: its recorded reason and when to try again."""

    reason: str
    retry_after: int
    head: ParsedMail


@dataclass(frozen=True)
class RateLimit:
    redis: Redis
    key_prefix: str
    settings: NotificationsSettings

    async def admit(
        self, raw: bytes, *, mail_from: str, workspace_ids: Collection[str]
    ) -> Refusal | None:
        """Count this mail against its sender's limit in each workspace it is for; a refusal
        when any of them is past it (then nothing is counted, and no workspace takes it: a
        sender's one SMTP answer covers every recipient)."""
        settings = self.settings
        try:
            head = parse_headers(raw)
            unanswered = noise(
                head,
                mail_from=mail_from,
                own_domain=settings.inbound_domain,
                own_addresses={settings.system_from.lower()},
            )
        except Exception as error:  # hostile headers: the processor records what they are
            if not isinstance(error, Unreadable):
                log.warning("mail.inbound.headers_unreadable", error=repr(error))
            return None
        if not head.sender_email or unanswered:
            return None
        try:
            wait = await self._take(sorted(set(workspace_ids)), head.sender_email)
        except Exception as error:
            # Redis away: take the mail (it is stored durably; the limit guards against a
            # flood, it is not what makes a mail valid).
            log.warning("mail.inbound.rate_limit_unavailable", error=repr(error))
            return None
        if wait is None:
            return None
        limit, window = settings.rate_limit_mails, settings.rate_limit_window_seconds
        reason = (
            f"rate limit: more than {limit} mails in {window} s from sender; "
            f"refused for now, to be retried in {wait} s"
        )
        return Refusal(reason, wait, head)

    async def _take(self, workspace_ids: list[str], sender: str) -> int | None:
        window = self.settings.rate_limit_window_seconds
        now = int(time.time())
        bucket = now // window
        keys = [
            f"{self.key_prefix}notifications:inbound-rate:{w}:{sender}:{bucket}"
            for w in workspace_ids
        ]
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in keys:
                pipe.incr(key)
                pipe.expire(key, window * 2)
            counts = (await pipe.execute())[::2]
        if all(int(count) <= self.settings.rate_limit_mails for count in counts):
            return None
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in keys:
                pipe.decr(key)
            await pipe.execute()
        return max(1, (bucket + 1) * window - now)
