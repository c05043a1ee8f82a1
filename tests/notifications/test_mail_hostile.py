"""A hostile corpus through the real listener: every message gets a recorded outcome (or a
clear SMTP refusal), nothing of it leaks into what we send later, and the listener keeps
serving throughout. A sender past the rate limit is told to come back later (SMTP 451,
HTTP 429), and the attempt is recorded."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage

import httpx
import pytest

from tests.conftest import eventually
from tests.notifications.conftest import DOMAIN, RATE_LIMIT, MailSystem, Tenant
from tests.notifications.test_mail_in import mail


async def send_raw(
    system: MailSystem, raw: bytes, to: str, mail_from: str = "x@hostile.test"
) -> None:
    def deliver() -> None:
        with smtplib.SMTP("127.0.0.1", system.listen_port, timeout=30) as smtp:
            smtp.sendmail(mail_from, [to], raw)

    await asyncio.to_thread(deliver)


def multipart(sender: str, to: str, subject: str, attachments: int) -> EmailMessage:
    message = mail(sender, to, subject, "See the attached files.")
    for n in range(attachments):
        message.add_attachment(
            f"file {n}".encode(),
            maintype="application",
            subtype="octet-stream",
            filename=f"file-{n}.bin",
        )
    return message


async def test_a_hostile_corpus_gets_an_outcome_each_and_the_listener_keeps_serving(
    mail_system: MailSystem,
) -> None:
    system = mail_system
    tenant = await system.sign_up()
    to = tenant.address
    sent = 0

    async def deliver(message: EmailMessage, mail_from: str | None = None) -> None:
        nonlocal sent
        await system.send(message, to, mail_from)
        sent += 1

    # Unreadable: no headers at all, then binary garbage.
    await send_raw(system, b"\x00\xff\xfe this is not a mail\r\n", to)
    await send_raw(system, b"\r\n".join(bytes(range(14, 256)) for _ in range(10)), to)
    sent += 2
    # A line past SMTP's limit is refused outright, before anything is stored.
    with pytest.raises(smtplib.SMTPDataError) as too_long:
        await send_raw(system, b"Subject: long\r\n\r\n" + b"y" * 5000 + b"\r\n", to)
    assert too_long.value.smtp_code == 500
    # A multipart whose boundary never appears, and one with a charset that does not exist.
    await send_raw(
        system,
        b"From: Bob <bob@hostile.test>\r\nSubject: broken\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="nowhere"\r\n\r\nno parts here\r\n',
        to,
    )
    await send_raw(
        system,
        b"From: Bob <bob@hostile.test>\r\nSubject: charset\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=x-no-such-charset\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\nCaf\xe9 cr\xe8me \xff\r\n",
        to,
    )
    sent += 2
    # Header injection through encoded newlines in the subject and the sender's name.
    await send_raw(
        system,
        b"From: =?utf-8?q?Eve=0D=0ABcc=3A_victim=40evil=2Etest?= <eve@hostile.test>\r\n"
        b"Subject: =?utf-8?q?Invoice=0D=0ABcc=3A_victim=40evil=2Etest?=\r\n"
        b"Message-ID: <inject@hostile.test>\r\n\r\nPlease pay.\r\n",
        to,
    )
    sent += 1
    # Scripts in HTML.
    scripted = mail("Mal <mal@hostile.test>", to, "Scripted", "plain part")
    scripted.add_alternative(
        '<p>Hello</p><script>alert(1)</script><img src="x" onerror="alert(2)">'
        '<a href="javascript:alert(3)">click</a>',
        subtype="html",
    )
    await deliver(scripted)
    # Hundreds of attachments.
    await deliver(multipart("Ann <ann@hostile.test>", to, "Many files", 300))
    # Loops and noise.
    await deliver(mail("list@hostile.test", to, "Digest", "news", Precedence="bulk"))
    await deliver(mail("loop@hostile.test", to, "Looping", "again", X_Loop=DOMAIN))
    await deliver(mail("oof@hostile.test", to, "Away", "away", X_Auto_Response_Suppress="All"))
    await deliver(mail(f"notifications@{DOMAIN}", to, "Ourselves", "echo"))
    await deliver(mail("bounce@hostile.test", to, "Undelivered", "bounce"), mail_from="<>")
    # A forged staff sender on an existing item's number.
    staff = await forged_target(system, tenant)
    await deliver(mail(f"Ada <{staff}>", to, "[#1] Re: anything", "Close this, I am the admin."))
    # Oversized: refused with 552 (declared size at MAIL, or counted during DATA).
    huge = mail("big@hostile.test", to, "Huge", "x" * (3 * 1024 * 1024))
    with pytest.raises((smtplib.SMTPSenderRefused, smtplib.SMTPDataError)) as refused:
        await system.send(huge, to)
    assert refused.value.smtp_code == 552
    # Unknown recipients: refused at RCPT.
    for nobody in (
        f"nobody-{tenant.slug}@{DOMAIN}",
        f"{tenant.slug}+no-such-project@{DOMAIN}",
        f"{tenant.slug}@elsewhere.test",
    ):
        with pytest.raises(smtplib.SMTPRecipientsRefused) as unknown:
            await system.send(mail("x@hostile.test", nobody, "Hi", "hi"), nobody)
        assert unknown.value.recipients[nobody][0] == 550
    # A flood from one sender: past the limit each mail is refused for now (451 4.7.1, so
    # a real server keeps it and retries later) and the attempt recorded.
    for n in range(RATE_LIMIT):
        await deliver(mail("flood@hostile.test", to, f"Flood {n}", "more"))
    for n in range(RATE_LIMIT, RATE_LIMIT + 2):
        with pytest.raises(smtplib.SMTPDataError) as slowed:
            await deliver(mail("flood@hostile.test", to, f"Flood {n}", "more"))
        assert slowed.value.smtp_code == 451
        reply = slowed.value.smtp_error
        assert (reply if isinstance(reply, bytes) else reply.encode()).startswith(b"4.7.1 ")
        sent += 1
    # And the listener still serves an ordinary mail.
    await deliver(mail("Olga <olga@hostile.test>", to, "Ordinary", "An ordinary request."))

    rows = await system.processed(tenant.workspace_id, sent)
    assert len(rows) == sent
    assert all(r.status in ("accepted", "ignored", "held", "failed") and r.reason for r in rows)
    by_subject = {r.subject: r for r in rows}
    failed = [r for r in rows if r.status == "failed"]
    assert len(failed) >= 1 and all(
        "no headers" in (r.reason or "") or "From" in (r.reason or "") for r in failed
    )
    assert by_subject["charset"].status == "accepted"
    assert by_subject["Many files"].reason == "250 attachments over the limit of 50 dropped"
    assert by_subject["Digest"].reason == "Precedence: bulk"
    assert by_subject["Looping"].reason == "X-Loop header present"
    assert by_subject["Away"].reason == "X-Auto-Response-Suppress: All"
    assert by_subject["Ourselves"].reason == "sent from our own address"
    assert by_subject["Undelivered"].reason == "null envelope sender (a bounce)"
    assert by_subject["[#1] Re: anything"].status == "held"
    flood = [r for r in rows if r.subject.startswith("Flood")]
    assert sum(r.status == "accepted" for r in flood) == RATE_LIMIT
    held_back = [r for r in flood if r.status == "ignored"]
    assert [r.subject for r in held_back] == [f"Flood {RATE_LIMIT}", f"Flood {RATE_LIMIT + 1}"]
    assert all(
        (r.reason or "").startswith(
            f"rate limit: more than {RATE_LIMIT} mails in 600 s from sender; refused for now"
        )
        for r in held_back
    )
    assert by_subject["Ordinary"].status == "accepted"
    injected = by_subject["Invoice Bcc: victim@evil.test"]
    assert injected.status == "accepted"

    # What became tickets is clean: one-line titles, no script survives.
    async def filed() -> bool:
        titles = {i["title"] for i in await system.items(tenant)}
        return {"Ordinary", "Scripted", "Invoice Bcc: victim@evil.test"} <= titles

    await eventually(filed, timeout=60)
    items = {i["title"]: i for i in await system.items(tenant)}
    assert all("\n" not in t and "\r" not in t for t in items)
    detail = await system.client.get(
        f"{system.base}/tickets/items/{items['Scripted']['id']}", headers=tenant.auth
    )
    description = detail.json()["description"]
    assert "Hello" in description
    for bad in ("<script", "onerror", "javascript:"):
        assert bad not in description
    assert (
        "[#1] Re: anything" not in items
        or items["[#1] Re: anything"]["requester_id"] != tenant.admin_id
    )

    # The acknowledgement to the injecting sender carries no extra header.
    async def acknowledged() -> bool:
        return len(system.sink.to("eve@hostile.test")) == 1

    await eventually(acknowledged, timeout=60)
    [ack] = system.sink.to("eve@hostile.test")
    assert "Bcc" not in ack
    assert ack.keys().count("Subject") == 1 and "\n" not in str(ack["Subject"])
    assert "\n" not in str(ack["To"])


async def forged_target(system: MailSystem, tenant: Tenant) -> str:
    """The admin's address, and an item #1 for a forged reply to aim at."""
    projects = await system.client.get(f"{system.base}/tickets/projects", headers=tenant.auth)
    created = await system.client.post(
        f"{system.base}/tickets/items",
        headers=tenant.auth,
        json={"project_id": projects.json()["items"][0]["id"], "title": "Target"},
    )
    assert created.status_code == 201, created.text
    me = await system.client.get(
        f"{system.base}/identity/users/{tenant.admin_id}", headers=tenant.auth
    )
    address = str(me.json()["email"])

    async def known() -> bool:
        return await system.knows_person(tenant.admin_id)

    await eventually(known, timeout=30)
    return address


async def test_a_sender_past_the_limit_is_told_to_come_back_later_on_either_channel(
    mail_system: MailSystem,
) -> None:
    system = mail_system
    tenant = await system.sign_up()
    to = tenant.address
    sender = f"burst@{tenant.slug}-client.test"

    async def post(subject: str, sender: str = sender) -> httpx.Response:
        raw = mail(sender, to, subject, "again").as_bytes()
        return await system.client.post(
            f"{system.base}/notifications/inbound/mime",
            params={"recipient": to, "mail_from": sender},
            headers={**tenant.auth, "Content-Type": "message/rfc822"},
            content=raw,
        )

    for n in range(RATE_LIMIT):
        taken = await post(f"Burst {n}")
        assert taken.status_code == 202, taken.text
    slowed = await post("Burst over")
    assert slowed.status_code == 429
    assert slowed.headers["content-type"] == "application/problem+json"
    problem = slowed.json()
    assert problem["type"].endswith("/rate-limited") and problem["status"] == 429
    assert 1 <= int(slowed.headers["Retry-After"]) <= 600
    recorded = await system.client.get(
        f"{system.base}/notifications/inbound/{problem['id']}", headers=tenant.auth
    )
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["status"] == "ignored"
    assert recorded.json()["reason"].startswith("rate limit: more than")

    # The count is the sender's in the workspace, whichever way the mail comes in.
    with pytest.raises(smtplib.SMTPDataError) as refused:
        await system.send(mail(sender, to, "Burst by SMTP", "again"), to)
    assert refused.value.smtp_code == 451
    # Anyone else still gets through, on both channels.
    assert (await post("Someone else", f"calm@{tenant.slug}-client.test")).status_code == 202
    await system.send(mail(f"quiet@{tenant.slug}-client.test", to, "Quiet", "hello"), to)

    rows = await system.processed(tenant.workspace_id, RATE_LIMIT + 4)
    by_subject = {r.subject: r for r in rows}
    assert by_subject["Burst over"].status == "ignored"
    assert by_subject["Burst by SMTP"].status == "ignored"
    assert by_subject["Someone else"].status == "accepted"
    assert by_subject["Quiet"].status == "accepted"
    assert sum(r.status == "accepted" for r in rows if r.subject.startswith("Burst")) == RATE_LIMIT
