"""Mail in, end to end through the real listener, bus and services (IN1, IN2): a mail sent
with smtplib becomes a ticket of the right requester, the requester's reply to our mail
becomes a comment without the quoted history, and an auto-reply creates nothing."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

from tests.conftest import eventually
from tests.notifications.conftest import DOMAIN, MailSystem


def mail(sender: str, to: str, subject: str, body: str, **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="client.test")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


async def test_a_mail_becomes_a_ticket_and_the_reply_a_comment(mail_system: MailSystem) -> None:
    system = mail_system
    tenant = await system.sign_up()
    sender = f"carla@{tenant.slug}-client.test"
    request = mail(
        f"Carla Client <{sender}>",
        tenant.address,
        "Banner for the spring sale",
        "Hello,\n\nwe need a banner for the spring sale.\n\nCarla",
    )
    brief = b"%PDF-1.4 the brief " + bytes(range(256)) * 40
    request.add_attachment(brief, maintype="application", subtype="pdf", filename="brief.pdf")
    request.add_attachment(
        b"MZ...", maintype="application", subtype="x-msdownload", filename="setup.exe"
    )
    await system.send(request, tenant.address)

    async def filed() -> bool:
        return len(await system.items(tenant)) == 1

    await eventually(filed, timeout=60)
    [item] = await system.items(tenant)
    assert item["title"] == "Banner for the spring sale"
    [stored] = await system.processed(tenant.workspace_id, 1)
    assert stored.status == "accepted"
    assert item["requester_id"] == stored.sender_user_id
    requester = await system.client.get(
        f"{system.base}/identity/users/{stored.sender_user_id}", headers=tenant.auth
    )
    assert requester.status_code == 200, requester.text
    assert requester.json()["kind"] == "client"
    assert requester.json()["email"] == sender
    # Its files became the ticket's attachments (an executable is left out, as an upload
    # of it would be refused).
    files = await system.attachments(tenant, item["id"])
    assert [(f["filename"], f["size"]) for f in files] == [("brief.pdf", len(brief))]
    download = await system.client.get(
        f"{system.base}/tickets/attachments/{files[0]['id']}/content", headers=tenant.auth
    )
    assert download.status_code == 200 and download.content == brief

    # The requester is acknowledged, in a mail they can answer.
    async def acknowledged() -> bool:
        return len(system.sink.to(sender)) == 1

    await eventually(acknowledged, timeout=60)
    [ack] = system.sink.to(sender)
    assert ack["Subject"] == f"[#{item['number']}] Banner for the spring sale"
    assert ack["Auto-Submitted"] == "auto-generated"
    assert ack["X-Auto-Response-Suppress"] == "All"
    # It answers the request, in the item's thread.
    assert ack["References"] == f"<item-{item['id']}@{DOMAIN}> {request['Message-ID']}"
    assert ack["In-Reply-To"] == request["Message-ID"]
    reply_to = str(ack["Reply-To"])
    assert reply_to.startswith("reply+") and reply_to.endswith(f"@{DOMAIN}")

    reply = mail(
        sender,
        reply_to,
        f"Re: {ack['Subject']}",
        "Thanks! The deadline is Friday.\n\n"
        f"On Tue, 1 Dec 2026 at 10:00, Acme Agency <{reply_to}> wrote:\n"
        "> Hello Carla,\n> we received your request and filed it.\n",
        In_Reply_To=str(ack["Message-ID"]),
        References=f"{ack['References']} {ack['Message-ID']}",
    )
    reply.add_attachment(b"proof", maintype="image", subtype="png", filename="proof.png")
    await system.send(reply, reply_to)

    async def commented() -> bool:
        return len(await system.comments(tenant, item["id"])) == 1

    await eventually(commented, timeout=60)
    [comment] = await system.comments(tenant, item["id"])
    assert "The deadline is Friday." in comment["body"]
    assert "we received your request" not in comment["body"]
    assert comment["author_id"] == stored.sender_user_id
    assert comment["visibility"] == "public"
    files = await system.attachments(tenant, item["id"])
    assert sorted(f["filename"] for f in files) == ["brief.pdf", "proof.png"]
    assert next(f for f in files if f["filename"] == "proof.png")["comment_id"] == comment["id"]

    # An out-of-office answer is recorded and otherwise ignored: no ticket, no comment.
    auto = mail(
        sender,
        tenant.address,
        "Out of office",
        "I am away until Monday.",
        Auto_Submitted="auto-replied",
    )
    await system.send(auto, tenant.address)
    rows = await system.processed(tenant.workspace_id, 3)
    assert rows[-1].status == "ignored"
    assert rows[-1].reason == "Auto-Submitted: auto-replied"
    assert len(await system.items(tenant)) == 1
    assert len(await system.comments(tenant, item["id"])) == 1
    assert len(system.sink.to(sender)) == 1  # never answered either
