"""The SMTP listener (aiosmtpd), served on the service's own event loop.

RCPT answers 550 for an address that is no workspace's, project's or reply token's; the
message size limit answers 552 (declared `SIZE=` at MAIL, or counted during DATA); DATA
answers 250 only once the raw mail is committed, and 451 (try again) if it could not be."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from kit.logging import get_logger
from kit.uow import UnitOfWork
from services.notifications.inbound.routing import Route, route
from services.notifications.inbound.service import store
from services.notifications.settings import NotificationsSettings

log = get_logger(__name__)


class InboundHandler:
    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        settings: NotificationsSettings,
        on_stored: Callable[[], None],
    ) -> None:
        self._unit_of_work = unit_of_work
        self._settings = settings
        self._on_stored = on_stored

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        try:
            async with self._unit_of_work() as uow:
                found = await route(uow.session, address, self._settings.inbound_domain)
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
        try:
            async with self._unit_of_work() as uow:
                # One row per distinct workspace route: a mail to two of a workspace's
                # addresses is one request, not two.
                seen: set[Route] = set()
                for address, found in routes.items():
                    if found in seen:
                        continue
                    seen.add(found)
                    await store(
                        uow,
                        route=found,
                        channel="smtp",
                        mail_from=mail_from,
                        recipient=address,
                        raw=raw,
                    )
                await uow.commit()
        except Exception as error:
            log.error("mail.inbound.store_failed", error=repr(error))
            return "451 4.3.0 Could not store the message, try again later"
        self._on_stored()
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
    on_stored: Callable[[], None],
) -> None:
    handler = InboundHandler(unit_of_work, settings, on_stored)
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
