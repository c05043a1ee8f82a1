"""The sender: a background task draining the outgoing-mail queue.

A batch is leased in one transaction (so a second replica skips it, and a sender that dies
mid-batch only delays it by the lease), sent over one SMTP connection per server and
worker, and its outcomes recorded in a second transaction: accepted → sent; 4xx or a
connection failure → due again after an exponential back-off; 5xx → failed with the
server's reason. A mail is recorded sent only after the server accepted it, so a crash
between the two may send it twice but never loses it (the same Message-ID lets receivers
see the repeat)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kit.logging import get_logger
from kit.uow import UnitOfWork
from services.notifications.directory import repository as directory
from services.notifications.keys import Keys
from services.notifications.models import DirectoryPerson, MailSettings, OutgoingMail
from services.notifications.outbound import repository
from services.notifications.outbound.service import reply_address, thread_root
from services.notifications.outbound.transport import (
    Envelope,
    FileDrop,
    Permanent,
    SmtpServer,
    Transport,
    build,
    deliver,
    from_url,
)
from services.notifications.settings import NotificationsSettings

log = get_logger(__name__)

LEASE = timedelta(minutes=5)
THREAD_DEPTH = 10
"""Earlier messages a mail's References names besides the item's thread root."""
UNKNOWN_ADDRESS_ATTEMPTS = 5
"""A user's address may not be in the directory yet (identity's event on its way)."""


@dataclass
class Prepared:
    mail_id: str
    transport: Transport
    envelope: Envelope


@dataclass(frozen=True)
class Sender:
    unit_of_work: Callable[[], UnitOfWork]
    settings: NotificationsSettings
    keys: Keys
    var_dir: Path

    async def run_forever(self) -> None:
        while True:
            try:
                handled = await self.send_due()
            except Exception as error:  # the database may be away: try again, do not die
                log.error("mail.sender.batch_failed", error=repr(error))
                handled = 0
            if handled < self.settings.sender_batch:
                await asyncio.sleep(self.settings.sender_poll_interval)

    async def send_due(self) -> int:
        """One batch; returns how many mails it handled."""
        now = datetime.now(UTC)
        prepared: list[Prepared] = []
        async with self.unit_of_work() as uow:
            rows = await repository.claim_due(
                uow.session, now, now + LEASE, self.settings.sender_batch
            )
            if not rows:
                return 0
            workspace_settings: dict[str, MailSettings | None] = {}
            recipients = await self._people(uow, rows)
            for row in rows:
                if row.workspace_id not in workspace_settings:
                    workspace_settings[row.workspace_id] = await uow.session.get(
                        MailSettings, row.workspace_id
                    )
                person = recipients.get((row.workspace_id, row.user_id or ""))
                ready = await self._prepare(
                    uow, row, workspace_settings[row.workspace_id], person, now
                )
                if ready is not None:
                    prepared.append(ready)
            await uow.commit()
        outcomes = await self._deliver(prepared)
        async with self.unit_of_work() as uow:
            attempts = {row.id: row.attempts for row in rows}
            sent = [mail_id for mail_id, outcome in outcomes.items() if outcome is None]
            await repository.record_sent(uow.session, sent, datetime.now(UTC))
            for mail_id, outcome in outcomes.items():
                if outcome is not None:
                    await self._record(uow, mail_id, attempts[mail_id], outcome)
            await uow.commit()
        return len(rows)

    async def _people(
        self, uow: UnitOfWork, rows: Sequence[OutgoingMail]
    ) -> dict[tuple[str, str], DirectoryPerson]:
        """The batch's recipients, one query per workspace."""
        wanted: dict[str, set[str]] = defaultdict(set)
        for row in rows:
            if row.user_id is not None:
                wanted[row.workspace_id].add(row.user_id)
        found: dict[tuple[str, str], DirectoryPerson] = {}
        for workspace_id, user_ids in wanted.items():
            people = await directory.people(uow.session, workspace_id, user_ids)
            found.update({(workspace_id, user_id): p for user_id, p in people.items()})
        return found

    async def _prepare(
        self,
        uow: UnitOfWork,
        row: OutgoingMail,
        mine: MailSettings | None,
        person: DirectoryPerson | None,
        now: datetime,
    ) -> Prepared | None:
        session = uow.session
        to_name, to_address = "", row.to_address
        if row.user_id is not None:
            if person is not None and not person.active:
                row.status, row.last_error = "skipped", "the recipient is deactivated"
                return None
            if person is None or not person.email:
                if row.attempts >= UNKNOWN_ADDRESS_ATTEMPTS:
                    row.status, row.last_error = "skipped", "the recipient's address is unknown"
                else:
                    row.next_attempt_at = now + self._backoff(row.attempts)
                    row.last_error = "the recipient's address is not known yet"
                return None
            to_name, to_address = person.display_name, person.email
        if not to_address:
            row.status, row.last_error = "skipped", "no address"
            return None
        workspace = await directory.workspace(session, row.workspace_id)
        from_name = (mine.from_name if mine else None) or (workspace.name if workspace else "")
        transport = self._transport(mine)
        own_server = mine is not None and mine.smtp_host
        from_address = (mine.from_address if own_server and mine else None) or (
            self.settings.system_from
        )
        reply_to = None
        if row.item_id and row.user_id:
            token = self.keys.reply_token(row.workspace_id, row.item_id, row.user_id)
            await repository.save_reply_token(
                session, token, row.workspace_id, row.item_id, row.user_id
            )
            reply_to = reply_address(token)
        elif workspace is not None and workspace.slug:
            reply_to = f"{workspace.slug}@{self.settings.inbound_domain}"
        message = build(
            from_name=from_name or "Deskline",
            from_address=from_address,
            to_name=to_name,
            to_address=to_address,
            subject=row.subject,
            text=row.text,
            html=row.html,
            message_id=row.message_id,
            thread_ids=await self._thread(uow, row),
            reply_to=reply_to,
            created_at=row.created_at,
        )
        return Prepared(row.id, transport, Envelope(from_address, to_address, message))

    async def _thread(self, uow: UnitOfWork, row: OutgoingMail) -> list[str]:
        """What this mail answers, for `References` (the item's thread root, then the latest
        messages of the item's conversation its recipient has, oldest first) and
        `In-Reply-To` (the last of them: the latest the recipient saw, or the root). Capped
        as mail clients and servers expect a References header to be (RFC 5322 §3.6.4
        leaves trimming to the writer; long ones are cut by some servers)."""
        if row.item_id is None:
            return []
        previous = await repository.conversation(uow.session, row, THREAD_DEPTH)
        return list(dict.fromkeys([thread_root(row.item_id), *previous]))

    def _transport(self, mine: MailSettings | None) -> Transport:
        if mine is not None and mine.smtp_host:
            password = (
                self.keys.decrypt(mine.smtp_password_encrypted)
                if mine.smtp_password_encrypted
                else None
            )
            return SmtpServer(
                host=mine.smtp_host,
                port=mine.smtp_port or 587,
                security=mine.smtp_security,
                username=mine.smtp_username,
                password=password,
            )
        if self.settings.smtp_url:
            return from_url(self.settings.smtp_url)
        return FileDrop(self.var_dir / "mail")

    async def _deliver(self, prepared: Sequence[Prepared]) -> dict[str, Exception | None]:
        by_transport: dict[Transport, list[Prepared]] = defaultdict(list)
        for mail in prepared:
            by_transport[mail.transport].append(mail)
        chunks: list[tuple[Transport, list[Prepared]]] = []
        workers = self.settings.sender_concurrency
        for transport, mails in by_transport.items():
            size = max(1, -(-len(mails) // workers))
            chunks += [(transport, mails[i : i + size]) for i in range(0, len(mails), size)]
        results = await asyncio.gather(
            *(
                deliver(transport, [m.envelope for m in mails], self.settings.smtp_timeout)
                for transport, mails in chunks
            )
        )
        outcomes: dict[str, Exception | None] = {}
        for (_, mails), result in zip(chunks, results, strict=True):
            for mail, outcome in zip(mails, result, strict=True):
                outcomes[mail.mail_id] = outcome
        return outcomes

    async def _record(
        self, uow: UnitOfWork, mail_id: str, attempts: int, outcome: Exception | None
    ) -> None:
        now = datetime.now(UTC)
        reason = str(outcome)[:2000]
        if isinstance(outcome, Permanent) or attempts >= self.settings.max_attempts:
            log.warning("mail.failed", mail_id=mail_id, reason=reason)
            await repository.record(uow.session, mail_id, status="failed", last_error=reason)
            return
        log.info("mail.retry", mail_id=mail_id, reason=reason, attempts=attempts)
        await repository.record(
            uow.session, mail_id, next_attempt_at=now + self._backoff(attempts), last_error=reason
        )

    def _backoff(self, attempts: int) -> timedelta:
        seconds = self.settings.retry_base_seconds * 2 ** max(0, attempts - 1)
        return timedelta(seconds=min(seconds, self.settings.retry_max_seconds))
