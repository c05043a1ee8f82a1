"""Storing and processing inbound mail.

Storing is the only thing done while the sender waits: the raw bytes and the route commit
before the listener answers 250 (or the endpoint 202), so a crash afterwards loses nothing;
the processor picks up every stored mail not yet processed. Processing records one outcome
per mail: accepted (an `email.received` event went out), ignored (loop, noise), held (a
staff address without that person's reply token) or failed (unreadable). A mail past its
sender's rate limit is refused while the sender waits (`ratelimit`) and recorded ignored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from uuid6 import uuid7

from contracts import registry
from contracts.notifications import EmailReceived, MailAttachment, RequesterDiscovered
from kit.logging import get_logger
from kit.uow import UnitOfWork
from services.notifications.directory import repository as directory
from services.notifications.directory.service import Requester, remember_requesters
from services.notifications.inbound import repository
from services.notifications.inbound.parsing import ParsedMail, Unreadable, parse
from services.notifications.inbound.ratelimit import Refusal
from services.notifications.inbound.routing import Route
from services.notifications.inbound.screening import noise
from services.notifications.keys import Keys
from services.notifications.models import DirectoryItem, InboundMail
from services.notifications.outbound import repository as outbound
from services.notifications.outbound.service import item_of_thread_root
from services.notifications.settings import NotificationsSettings
from services.notifications.textparts import sanitise_html, text_to_html

log = get_logger(__name__)

INSIDERS = frozenset({"staff", "collaborator"})


@dataclass(frozen=True)
class Arrival:
    """A mail as it arrived, before it is stored: one row per distinct route its recipients
    name (a mail to two of a workspace's addresses is one request, not two), each with the
    id it will be stored under. A mail `refused` for now (rate limit) is recorded with that
    outcome, for the processor to leave alone: the sender is told to try again, and its
    next attempt is a mail of its own."""

    channel: str
    mail_from: str
    raw: bytes
    rows: tuple[tuple[str, str, Route], ...]
    """(mail id, recipient, route) per row."""
    refused: Refusal | None = None

    @property
    def ids(self) -> list[str]:
        return [mail_id for mail_id, _, _ in self.rows]


def arrival(
    *,
    channel: str,
    mail_from: str,
    raw: bytes,
    routes: Mapping[str, Route],
    refused: Refusal | None = None,
) -> Arrival:
    rows: list[tuple[str, str, Route]] = []
    seen: set[Route] = set()
    for recipient, found in routes.items():
        if found not in seen:
            seen.add(found)
            rows.append((str(uuid7()), recipient, found))
    return Arrival(channel, mail_from, raw, tuple(rows), refused)


async def store(uow: UnitOfWork, arrivals: Sequence[Arrival]) -> None:
    """Record mails as they arrived, several at once when they arrived together; the
    caller commits before acknowledging any of them."""
    now = datetime.now(UTC)
    rows: list[dict[str, object]] = []
    for mail in arrivals:
        refused = mail.refused
        outcome: dict[str, object] = {
            "status": "received",
            "reason": None,
            "processed_at": None,
            "message_id": None,
            "subject": "",
        }
        if refused is not None:
            outcome = {
                "status": "ignored",
                "reason": refused.reason,
                "processed_at": now,
                "message_id": (refused.head.message_id or "")[:255] or None,
                "subject": refused.head.subject,
            }
        # A refused attempt keeps its headers only: senders retry refused mail for days,
        # and a flood must not fill the database while the limit holds it back.
        raw = mail.raw if refused is None else _headers_only(mail.raw)
        for mail_id, recipient, found in mail.rows:
            if refused is not None:
                log.info("mail.inbound", mail_id=mail_id, status="ignored", reason=refused.reason)
            rows.append(
                {
                    "id": mail_id,
                    "workspace_id": found.workspace_id,
                    "project_id": found.project_id,
                    "reply_token": found.token,
                    "channel": mail.channel,
                    "mail_from": _storable(mail.mail_from),
                    "recipient": _storable(recipient),
                    "raw": raw,
                    "size": len(mail.raw),
                    "received_at": now,
                    **outcome,
                }
            )
    await repository.insert_many(uow.session, rows)


@dataclass(frozen=True)
class Processing:
    settings: NotificationsSettings
    keys: Keys
    public_url: str
    """Where other services fetch an inbound mail's attachments."""

    def attachment_url(self, mail_id: str, index: int) -> str:
        signature = self.keys.attachment_signature(mail_id, index)
        return f"{self.public_url}/inbound/{mail_id}/attachments/{index}?sig={signature}"


@dataclass(frozen=True)
class Thread:
    item: DirectoryItem | None
    token_user: str | None
    """The user the reply token in the recipient was minted for (a valid token only)."""


@dataclass(frozen=True)
class _Seen:
    message_id: str | None
    subject: str


@dataclass(frozen=True)
class _Sender:
    id: str
    kind: str
    active: bool


async def process_all(uow: UnitOfWork, rows: Sequence[InboundMail], how: Processing) -> None:
    """Decide the fate of several mails and record it on their rows (the caller commits).
    What costs a round trip to the database is done once for them all — their senders
    looked up together, the requesters they introduce remembered together, their outcomes
    written together — so a busy processor pays a few statements per batch, not four per
    mail. Nothing here changes the loaded rows themselves (that would be an UPDATE each)."""
    now = datetime.now(UTC)
    read = [(row, _read(row, how)) for row in rows]
    senders = await _known_senders(uow, read)
    newcomers: list[Requester] = []
    outcomes = [await _decide(uow, row, mail, how, senders, newcomers) for row, mail in read]
    await remember_requesters(uow, newcomers)
    await repository.record_outcomes(
        uow.session, [{**outcome, "processed_at": now} for outcome in outcomes]
    )


def _read(row: InboundMail, how: Processing) -> ParsedMail | Unreadable:
    try:
        return parse(row.raw, how.settings.max_attachments)
    except Unreadable as error:
        return error


async def _known_senders(
    uow: UnitOfWork, read: Sequence[tuple[InboundMail, ParsedMail | Unreadable]]
) -> dict[tuple[str, str], _Sender]:
    """(workspace, address) → the person the address is, for the senders of these mails."""
    wanted: dict[str, set[str]] = {}
    for row, mail in read:
        if isinstance(mail, ParsedMail) and row.workspace_id and mail.sender_email:
            wanted.setdefault(row.workspace_id, set()).add(mail.sender_email)
    known: dict[tuple[str, str], _Sender] = {}
    for workspace_id, emails in wanted.items():
        people = await directory.people_by_email(uow.session, workspace_id, emails)
        for email, person in people.items():
            known[(workspace_id, email)] = _Sender(person.id, person.kind, person.active)
    return known


async def _decide(
    uow: UnitOfWork,
    row: InboundMail,
    mail: ParsedMail | Unreadable,
    how: Processing,
    senders: dict[tuple[str, str], _Sender],
    newcomers: list[Requester],
) -> dict[str, object]:
    """One mail's outcome, as the columns to record. A sender met for the first time joins
    `senders` and `newcomers`, so a second mail of theirs in the batch is theirs too."""
    if isinstance(mail, Unreadable):
        return _outcome(row, "failed", str(mail))
    # What a mail's outcome records of it, whatever its fate once it could be read.
    seen = _Seen((mail.message_id or "")[:255] or None, mail.subject)
    workspace_id = row.workspace_id
    if workspace_id is None:
        return _outcome(row, "failed", "no workspace for the recipient", seen=seen)
    reason = noise(
        mail,
        mail_from=row.mail_from,
        own_domain=how.settings.inbound_domain,
        own_addresses={how.settings.system_from.lower()},
    )
    if reason is not None:
        return _outcome(row, "ignored", reason, seen=seen)
    if not mail.sender_email:
        return _outcome(row, "failed", "no valid From address", seen=seen)
    thread = await _thread(uow, row, mail, how.keys)
    person = senders.get((workspace_id, mail.sender_email))
    if person is not None and person.kind in INSIDERS and thread.token_user != person.id:
        return _outcome(
            row,
            "held",
            "mail from a staff or collaborator address without that person's reply token "
            "(a From header can be forged): not posted",
            seen=seen,
        )
    if person is not None and not person.active:
        return _outcome(row, "ignored", "the sender's account is deactivated", seen=seen)
    if person is None:
        sender_id = str(uuid7())
        senders[(workspace_id, mail.sender_email)] = _Sender(sender_id, "client", True)
        newcomers.append(Requester(workspace_id, sender_id, mail.sender_email, mail.sender_name))
        uow.emit(
            RequesterDiscovered(
                user_id=sender_id,
                workspace_id=workspace_id,
                email=mail.sender_email,
                display_name=mail.sender_name,
            ),
            workspace=workspace_id,
            subject=f"user/{sender_id}",
        )
    else:
        sender_id = person.id
    item = thread.item
    if item is not None and thread.token_user is None and not _belongs(item, person):
        # A subject number or a Message-ID can be guessed: without a token only the item's
        # own people reply to it; anyone else files a new request.
        item = None
    body_html = _body(mail, reply=item is not None)
    notes = []
    if mail.dropped_attachments:
        notes.append(
            f"{mail.dropped_attachments} attachments over the limit of "
            f"{how.settings.max_attachments} dropped"
        )
    message_id = mail.message_id or f"<inbound-{row.id}@{how.settings.inbound_domain}>"
    envelope = registry.envelope(
        EmailReceived(
            message_id=message_id,
            workspace_id=workspace_id,
            sender_user_id=sender_id,
            sender_email=mail.sender_email,
            sender_name=mail.sender_name,
            subject=mail.subject,
            body_html=body_html or "<p>(empty message)</p>",
            project_id=row.project_id,
            reply_to_item_id=item.id if item else None,
            attachments=[
                MailAttachment(
                    filename=attachment.filename,
                    content_type=attachment.content_type,
                    size=len(attachment.data),
                    url=how.attachment_url(row.id, index),
                )
                for index, attachment in enumerate(mail.attachments)
            ],
        ),
        workspace=workspace_id,
        subject=f"inbound/{row.id}",
    )
    uow.publish(envelope)
    return _outcome(
        row,
        "accepted",
        "; ".join(notes) or ("reply" if item else "new request"),
        seen=seen,
        sender_user_id=sender_id,
        item_id=item.id if item else None,
        event_id=envelope.id,
    )


async def _thread(uow: UnitOfWork, row: InboundMail, mail: ParsedMail, keys: Keys) -> Thread:
    """Signed token in the recipient, then `[#number]` in the subject, then the Message-IDs
    the mail answers."""
    session, workspace_id = uow.session, str(row.workspace_id)
    if row.reply_token:
        token = await outbound.reply_token(session, row.reply_token)
        if (
            token is not None
            and token.workspace_id == workspace_id
            and keys.verify(row.reply_token, workspace_id, token.item_id, token.user_id)
        ):
            item = await directory.item(session, workspace_id, token.item_id)
            if item is not None and not item.deleted:
                return Thread(item, token.user_id)
    number = mail.subject_number
    if number is not None:
        item = await directory.item_by_number(session, workspace_id, number)
        if item is not None:
            return Thread(item, None)
    ids = mail.thread_ids
    for message_id in ids:
        item_id = item_of_thread_root(message_id)
        if item_id is not None:
            found = await directory.item(session, workspace_id, item_id)
            if found is not None and not found.deleted:
                return Thread(found, None)
    ours = await outbound.message_item(session, ids)
    item_id = ours[1] if ours and ours[0] == workspace_id else None
    item_id = item_id or await repository.item_of_messages(session, workspace_id, ids)
    if item_id is not None:
        found = await directory.item(session, workspace_id, item_id)
        if found is not None and not found.deleted:
            return Thread(found, None)
    return Thread(None, None)


def _belongs(item: DirectoryItem, person: _Sender | None) -> bool:
    if person is None:
        return False
    return person.id == item.requester_id or person.id in item.follower_ids


def _body(mail: ParsedMail, *, reply: bool) -> str:
    """A reply keeps only its new text; a new request its sanitised HTML (or its text)."""
    if reply:
        return text_to_html(mail.new_text())
    if mail.html.strip():
        return sanitise_html(mail.html)
    return text_to_html(mail.plain_text())


def _outcome(
    row: InboundMail,
    status: str,
    reason: str,
    *,
    seen: _Seen | None = None,
    sender_user_id: str | None = None,
    item_id: str | None = None,
    event_id: str | None = None,
) -> dict[str, object]:
    """Every outcome names the same columns, so a batch's outcomes are one statement."""
    log.info("mail.inbound", mail_id=row.id, status=status, reason=reason)
    return {
        "id": row.id,
        "status": status,
        "reason": reason,
        "message_id": seen.message_id if seen else None,
        "subject": seen.subject if seen else "",
        "sender_user_id": sender_user_id,
        "item_id": item_id,
        "event_id": event_id,
    }


def _storable(address: str, limit: int = 320) -> str:
    """An envelope address as the database can keep it. aiosmtpd passes a hostile envelope's
    NUL bytes and undecodable bytes (as lone surrogates) through, and a row holding either
    is refused: the mail would be answered "try again" forever (and, while it waited, take
    the other mails of its group commit through the one-by-one retry)."""
    cleaned = address.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")
    return cleaned[:limit]


def _headers_only(raw: bytes) -> bytes:
    """The header block of a raw mail (up to the first empty line), capped at 64 KiB."""
    for separator in (b"\r\n\r\n", b"\n\n"):
        end = raw.find(separator)
        if end != -1:
            return raw[: min(end + len(separator), 64 * 1024)]
    return raw[: 64 * 1024]
