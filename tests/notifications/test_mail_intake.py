"""Concurrent SMTP sessions through the real listener: their mails share commits (group
commit), and still each sender hears 250 only once its own mail is stored; a mail the
database refuses is answered 451 alone while the others committed with it are taken."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import aiosmtplib
import pytest
from sqlalchemy import text

from kit.uow import UnitOfWork
from services.notifications.inbound import intake
from services.notifications.inbound.service import Arrival, store
from tests.notifications.conftest import MailSystem, Tenant
from tests.notifications.test_mail_in import mail

SESSIONS = 16


async def deliver_together(
    system: MailSystem, tenant: Tenant, senders: list[str], later: frozenset[str] = frozenset()
) -> dict[str, tuple[int, str]]:
    """One SMTP session per sender, each up to RCPT; then every DATA at once (those of
    `later` a moment after the others). The answer to each DATA, by sender."""
    answers: dict[str, tuple[int, str]] = {}
    barrier = asyncio.Barrier(len(senders))

    async def session(sender: str) -> None:
        message = mail(sender, tenant.address, f"Request from {sender}", "Please help.")
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=system.listen_port, timeout=30)
        await smtp.connect()
        try:
            await smtp.ehlo()
            await smtp.mail(sender)
            await smtp.rcpt(tenant.address)
            await barrier.wait()
            if sender in later:
                await asyncio.sleep(0.1)
            try:
                reply = await smtp.data(message.as_bytes())
                answers[sender] = (reply.code, reply.message)
            except aiosmtplib.SMTPDataError as refused:
                answers[sender] = (refused.code, refused.message)
        finally:
            await smtp.quit()

    await asyncio.gather(*(session(sender) for sender in senders))
    return answers


async def stored(system: MailSystem, tenant: Tenant) -> dict[str, object]:
    """When each sender's mail was stored (a batch's rows share their `received_at`)."""
    return {row.mail_from: row.received_at for row in await system.inbound(tenant.workspace_id)}


@asynccontextmanager
async def refusing(system: MailSystem, prefix: str) -> AsyncIterator[None]:
    """The database refuses to store any mail whose envelope sender starts with `prefix`,
    as it would a row it cannot take."""
    engine = system.runtime("notifications").engine
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "ALTER TABLE inbound_mails ADD CONSTRAINT test_refused_sender "
                f"CHECK (mail_from NOT LIKE '{prefix}%') NOT VALID"
            )
        )
    try:
        yield
    finally:
        async with engine.begin() as connection:
            await connection.execute(
                text("ALTER TABLE inbound_mails DROP CONSTRAINT test_refused_sender")
            )


async def test_concurrent_sessions_share_commits_and_each_is_answered_once_stored(
    mail_system: MailSystem,
) -> None:
    system = mail_system
    tenant = await system.sign_up()
    senders = [f"client{n}@{tenant.slug}-client.test" for n in range(SESSIONS)]

    answers = await deliver_together(system, tenant, senders)

    assert {sender: code for sender, (code, _) in answers.items()} == dict.fromkeys(senders, 250)
    times = await stored(system, tenant)
    assert sorted(times) == sorted(senders)
    # Fewer commits than mails: concurrent sessions' mails went into shared transactions.
    assert len(set(times.values())) < SESSIONS
    rows = await system.processed(tenant.workspace_id, SESSIONS)
    assert {row.status for row in rows} == {"accepted"}


async def test_a_mail_the_database_refuses_fails_alone(
    mail_system: MailSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = mail_system
    tenant = await system.sign_up()
    bad = f"refused-{uuid.uuid4().hex[:8]}@{tenant.slug}-client.test"
    good = [f"client{n}@{tenant.slug}-client.test" for n in range(SESSIONS - 1)]
    batches: list[list[str]] = []

    async def watched(uow: UnitOfWork, mails: Sequence[Arrival]) -> None:
        """The first commit is slow, so the mails sent a moment later (the refused one among
        them) gather into the next batch together."""
        batches.append([m.mail_from for m in mails])
        await store(uow, mails)
        if len(batches) == 1:
            await asyncio.sleep(0.4)

    monkeypatch.setattr(intake, "store", watched)
    later = frozenset([bad, *good[::2]])
    async with refusing(system, bad.split("@")[0]):
        answers = await deliver_together(system, tenant, [*good, bad], later)

    code, reason = answers[bad]
    assert (code, reason) == (451, "4.3.0 Could not store the message, try again later")
    assert {sender: answers[sender][0] for sender in good} == dict.fromkeys(good, 250)
    assert sorted(await stored(system, tenant)) == sorted(good)
    # It was refused within a batch of others, which were then stored one by one.
    [shared] = [batch for batch in batches if bad in batch and len(batch) > 1]
    alone = batches[batches.index(shared) + 1 :][: len(shared)]
    assert alone == [[sender] for sender in shared]
    # The listener keeps serving, and the refused sender's retry is taken.
    await system.send(mail(bad, tenant.address, "Trying again", "Please help."), tenant.address)
    assert bad in await stored(system, tenant)


async def test_a_hostile_envelope_sender_is_stored_not_refused_forever(
    mail_system: MailSystem,
) -> None:
    """NUL and undecodable bytes in MAIL FROM reach the handler as they are; the mail is
    stored (and answered 250) with them replaced, rather than refused on every retry."""
    system = mail_system
    tenant = await system.sign_up()
    reader, writer = await asyncio.open_connection("127.0.0.1", system.listen_port)

    async def say(line: bytes) -> bytes:
        writer.write(line)
        await writer.drain()
        answer = await reader.readline()
        while answer[3:4] == b"-":  # a multi-line answer (EHLO)
            answer = await reader.readline()
        return answer

    try:
        await reader.readline()  # the greeting
        await say(b"EHLO hostile.test\r\n")
        assert (await say(b"MAIL FROM:<odd\x00\xff\xfe@hostile.test> SMTPUTF8\r\n")).startswith(
            b"250"
        )
        assert (await say(f"RCPT TO:<{tenant.address}>\r\n".encode())).startswith(b"250")
        assert (await say(b"DATA\r\n")).startswith(b"354")
        message = mail("Odd <odd@hostile.test>", tenant.address, "Odd sender", "Hello.")
        answer = await say(message.as_bytes().replace(b"\n", b"\r\n") + b"\r\n.\r\n")
        assert answer.startswith(b"250"), answer
        await say(b"QUIT\r\n")
    finally:
        writer.close()
    [row] = await system.processed(tenant.workspace_id, 1)
    assert row.mail_from == "odd\ufffd??@hostile.test"
