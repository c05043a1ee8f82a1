"""The SMTP listener (aiosmtpd), served on the service's own event loop.

RCPT answers 550 for an address that is no workspace's, project's or reply token's; the
message size limit answers 552 (declared `SIZE=` at MAIL, or counted during DATA); DATA
answers 250 only once the raw mail is committed (concurrent sessions' mails share a commit,
`intake`), 451 4.3.0 (try again) if it could not be,
and 451 4.7.1 when its sender is past the rate limit (recorded, not taken: the sending
server retries later). The From header it needs is read at DATA, so that is where."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from kit.logging import get_logger
from kit.uow import UnitOfWork
from services.notifications.inbound.intake import Intake
from services.notifications.inbound.ratelimit import RateLimit
from services.notifications.inbound.routing import Route, route
from services.notifications.inbound.service import arrival
from services.notifications.settings import NotificationsSettings

log = get_logger(__name__)

ROUTE_CACHE_SECONDS = 10.0
"""How long a renamed workspace or project's old address may still be accepted."""
ROUTE_CACHE_SIZE = 10_000


class InboundHandler:
    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        settings: NotificationsSettings,
        limiter: RateLimit,
        intake: Intake,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._settings = settings
        self._limiter = limiter
        self._intake = intake
        self._known: dict[str, tuple[Route, float]] = {}
        """Addresses recently found, so a busy listener does not look each one up again."""

    async def _route(self, address: str) -> Route | None:
        key, clock = address.lower(), time.monotonic()
        cached = self._known.get(key)
        if cached is not None and cached[1] > clock:
            return cached[0]
        async with self._unit_of_work() as uow:
            found = await route(uow.session, address, self._settings.inbound_domain)
        if found is not None:
            if len(self._known) > ROUTE_CACHE_SIZE:
                self._known.clear()
            self._known[key] = (found, clock + ROUTE_CACHE_SECONDS)
        return found

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        try:
            found = await self._route(address)
        except Exception as error:
            log.error("mail.inbound.route_failed", error=repr(error))
            return "451 4.3.0 Temporary failure, try again later"
        if found is None:
            return "550 5.1.1 No such recipient here"
        routes: dict[str, Route] = getattr(envelope, "deskline_routes", {})
        routes[address] = found
        envelope.deskline_routes = routes  # type: ignore[attr-defined]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or (
            envelope.content if isinstance(envelope.content, bytes) else b""
        )
        routes: dict[str, Route] = getattr(envelope, "deskline_routes", {})
        mail_from = envelope.mail_from or ""
        refused = await self._limiter.admit(
            raw, mail_from=mail_from, workspace_ids={r.workspace_id for r in routes.values()}
        )
        mail = arrival(channel="smtp", mail_from=mail_from, raw=raw, routes=routes, refused=refused)
        try:
            await self._intake.take(mail)
        except Exception as error:
            log.error("mail.inbound.store_failed", error=repr(error))
            if refused is None:
                return "451 4.3.0 Could not store the message, try again later"
        if refused is not None:
            # 4.7.1: delivery not authorised for now (RFC 3463); the sending server keeps
            # the mail and tries again later, by when the window has moved on.
            return (
                f"451 4.7.1 Too many mails from this sender, try again in {refused.retry_after} s"
            )
        return "250 2.0.0 Message accepted"


def tls_context(settings: NotificationsSettings) -> ssl.SSLContext | None:
    if settings.tls_cert_file is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.tls_cert_file, settings.tls_key_file)
    return context


async def serve(
    unit_of_work: Callable[[], UnitOfWork],
    settings: NotificationsSettings,
    limiter: RateLimit,
    intake: Intake,
) -> None:
    handler = InboundHandler(unit_of_work, settings, limiter, intake)
    context = tls_context(settings)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(
            handler,
            data_size_limit=settings.max_message_bytes,
            enable_SMTPUTF8=True,
            hostname=settings.inbound_domain,
            ident="Deskline ESMTP",
            tls_context=context,
            timeout=120,
        ),
        host=settings.smtp_listen_host,
        port=settings.smtp_listen_port,
    )
    log.info(
        "mail.listener.started",
        host=settings.smtp_listen_host,
        port=settings.smtp_listen_port,
        starttls=context is not None,
    )
    async with server:
        await server.serve_forever()
