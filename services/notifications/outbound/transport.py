"""How a mail leaves: an SMTP server (the workspace's own or the system's) or, in the
embedded default, a file drop of `.eml` files a developer can open."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formatdate
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from services.notifications.textparts import header_safe


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    security: str = "starttls"
    """`none`, `starttls` (if offered… and required when credentials are set) or `tls`."""
    username: str | None = None
    password: str | None = None


@dataclass(frozen=True)
class FileDrop:
    directory: Path


Transport = SmtpServer | FileDrop


def from_url(url: str) -> SmtpServer:
    """`smtp://[user:pass@]host[:port][?starttls=true|false]` or `smtps://…`."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if parts.scheme == "smtps":
        security, default_port = "tls", 465
    else:
        wanted = query.get("starttls", ["auto"])[0].lower()
        security = {"true": "starttls", "false": "none"}.get(wanted, "auto")
        default_port = 25
    return SmtpServer(
        host=parts.hostname or "localhost",
        port=parts.port or default_port,
        security=security,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


@dataclass(frozen=True)
class Envelope:
    sender: str
    recipient: str
    message: EmailMessage


def build(
    *,
    from_name: str,
    from_address: str,
    to_name: str,
    to_address: str,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    thread_ids: Sequence[str] = (),
    reply_to: str | None = None,
    created_at: datetime | None = None,
) -> EmailMessage:
    """A multipart/alternative mail, threaded and marked automatic.

    Every free-text header value goes through `header_safe` and `Address`, so CR/LF in a
    subject or a name (also encoded ones decoded from an inbound mail) never forms a header."""
    message = EmailMessage()
    message["From"] = Address(header_safe(from_name, 200), addr_spec=from_address)
    message["To"] = Address(header_safe(to_name, 200), addr_spec=to_address)
    message["Subject"] = header_safe(subject, 500)
    message["Date"] = format_datetime(created_at) if created_at else formatdate(localtime=False)
    message["Message-ID"] = message_id
    if thread_ids:
        message["In-Reply-To"] = thread_ids[-1]
        message["References"] = " ".join(thread_ids)
    if reply_to:
        message["Reply-To"] = reply_to
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


class Permanent(Exception):
    """The server refused for good (5xx): recorded as failed, never retried."""


class Transient(Exception):
    """Connection trouble or a 4xx: retried later."""


async def deliver(
    transport: Transport, mails: Sequence[Envelope], timeout: float
) -> list[Exception | None]:
    """Send `mails` over one connection; one outcome per mail (None: accepted). A connection
    lost midway leaves the rest `Transient`."""
    if isinstance(transport, FileDrop):
        return [await asyncio.to_thread(_drop, transport.directory, mail) for mail in mails]
    return await _deliver_smtp(transport, mails, timeout)


def _drop(directory: Path, mail: Envelope) -> Exception | None:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    name = "".join(c for c in str(mail.message["Message-ID"]) if c.isalnum() or c in "-.")[:80]
    final = directory / f"{stamp}-{name}.eml"
    partial = final.with_suffix(".tmp")
    partial.write_bytes(bytes(mail.message))
    os.replace(partial, final)
    return None


async def _deliver_smtp(
    server: SmtpServer, mails: Sequence[Envelope], timeout: float
) -> list[Exception | None]:
    client = aiosmtplib.SMTP(
        hostname=server.host,
        port=server.port,
        use_tls=server.security == "tls",
        start_tls=True
        if server.security == "starttls" and server.username
        else (False if server.security in ("none", "tls") else None),
        timeout=timeout,
    )
    outcomes: list[Exception | None] = []
    try:
        await client.connect()
        if server.username and server.password is not None:
            await client.login(server.username, server.password)
    except aiosmtplib.SMTPResponseException as error:
        return [_classify(error)] * len(mails)
    except (OSError, aiosmtplib.SMTPException) as error:
        return [Transient(f"connection: {error}")] * len(mails)
    try:
        for mail in mails:
            try:
                await client.send_message(
                    mail.message, sender=mail.sender, recipients=[mail.recipient]
                )
            except aiosmtplib.SMTPRecipientsRefused as error:
                refused = error.recipients[0] if error.recipients else None
                outcomes.append(_classify(refused) if refused else Permanent(str(error)))
            except aiosmtplib.SMTPResponseException as error:
                outcomes.append(_classify(error))
                if error.code in (421,) or not client.is_connected:
                    break
            except (OSError, aiosmtplib.SMTPException) as error:
                outcomes.append(Transient(f"connection: {error}"))
                break
            else:
                outcomes.append(None)
    finally:
        if client.is_connected:
            try:
                await client.quit()
            except (OSError, aiosmtplib.SMTPException):
                client.close()
    lost = len(mails) - len(outcomes)
    return outcomes + [Transient("connection closed before this mail")] * lost


def _classify(error: aiosmtplib.SMTPResponseException) -> Exception:
    reason = f"{error.code} {error.message}".strip()
    return Permanent(reason) if 500 <= error.code < 600 else Transient(reason)
