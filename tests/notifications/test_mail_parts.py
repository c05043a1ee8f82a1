"""The pure pieces of mail, without servers: tokens and encryption, header safety, defensive
parsing, noise screening, sandboxed templates."""

from __future__ import annotations

from email.message import EmailMessage

from services.notifications.inbound.parsing import parse
from services.notifications.inbound.screening import noise
from services.notifications.keys import Keys
from services.notifications.outbound.templates import Source, check, render, sample_context
from services.notifications.outbound.transport import build, from_url
from services.notifications.textparts import header_safe, html_to_text, sanitise_html


def test_a_reply_token_is_bound_to_its_item_and_recipient() -> None:
    keys = Keys("secret")
    token = keys.reply_token("w", "item", "ann")
    assert len(token) == 20 and token == token.lower()
    assert keys.verify(token.upper(), "w", "item", "ann")
    assert not keys.verify(token, "w", "item", "bob")
    assert not keys.verify(token, "w", "other", "ann")
    assert not Keys("another secret").verify(token, "w", "item", "ann")


def test_smtp_passwords_are_encrypted_and_only_this_key_opens_them() -> None:
    sealed = Keys("secret").encrypt("pa55")
    assert "pa55" not in sealed
    assert Keys("secret").decrypt(sealed) == "pa55"
    assert Keys("other").decrypt(sealed) is None


def test_no_line_break_survives_into_a_header() -> None:
    assert header_safe("Invoice\r\nBcc: x@evil.test\u2028more\x00") == (
        "Invoice Bcc: x@evil.test more"
    )
    message = build(
        from_name="Acme\r\nX-Evil: 1",
        from_address="notifications@in.test",
        to_name="Eve\nBcc: victim@evil.test",
        to_address="eve@client.test",
        subject="Hello\r\nBcc: victim@evil.test",
        text="t",
        html="<p>t</p>",
        message_id="<m@in.test>",
    )
    raw = bytes(message)
    assert b"\nBcc:" not in raw and b"\nX-Evil:" not in raw
    assert message.keys().count("Subject") == 1


def test_parsing_survives_lying_charsets_and_caps_attachments() -> None:
    raw = (
        b'From: "Bob" <Bob@Client.test>\r\nSubject: hi\r\n'
        b"Content-Type: text/plain; charset=x-nonsense\r\n\r\nCaf\xe9\r\n"
    )
    mail = parse(raw, max_attachments=5)
    assert mail.sender_email == "bob@client.test" and mail.sender_name == "Bob"
    assert mail.text.startswith("Caf")
    many = EmailMessage()
    many["From"] = "a@b.test"
    many.set_content("files")
    for n in range(12):
        many.add_attachment(b"x", maintype="application", subtype="pdf", filename=f"{n}.pdf")
    parsed = parse(bytes(many), max_attachments=5)
    assert len(parsed.attachments) == 5 and parsed.dropped_attachments == 7


def test_a_reply_keeps_only_its_new_text() -> None:
    raw = (
        b"From: a@b.test\r\nSubject: Re: [#12] Banner\r\n\r\nFine by me.\r\n\r\n"
        b"On Tue, 1 Dec 2026 at 10:00, Acme <reply+x@in.test> wrote:\r\n> old text\r\n"
    )
    mail = parse(raw, max_attachments=5)
    assert mail.subject_number == 12
    assert mail.new_text() == "Fine by me."


def test_noise_is_recognised_with_its_reason() -> None:
    def reason(
        headers: bytes, mail_from: str = "a@b.test", sender: bytes = b"a@b.test"
    ) -> str | None:
        raw = b"From: " + sender + b"\r\n" + headers + b"Subject: x\r\n\r\nbody\r\n"
        return noise(parse(raw, 5), mail_from=mail_from, own_domain="in.test", own_addresses=set())

    assert reason(b"") is None
    assert reason(b"Auto-Submitted: no\r\n") is None
    assert reason(b"Auto-Submitted: auto-replied\r\n") == "Auto-Submitted: auto-replied"
    assert reason(b"Precedence: list\r\n") == "Precedence: list"
    assert reason(b"X-Loop: in.test\r\n") == "X-Loop header present"
    assert reason(b"", mail_from="<>") == "null envelope sender (a bounce)"
    assert reason(b"", sender=b"notifications@in.test") == "sent from our own address"
    assert reason(b"", sender=b"MAILER-DAEMON@b.test") == "sent by mailer-daemon"


def test_templates_are_sandboxed_and_numbered() -> None:
    context = sample_context()
    rendered = render(Source("{{ item.title }}", "{{ body_text }}", "{{ body_html }}"), context)
    assert rendered.subject == "[#1042] Banner"
    assert rendered.html == "&lt;p&gt;Hello&lt;/p&gt;"  # escaped unless marked safe
    assert check(Source("{{ ''.__class__.__mro__ }}", "x", "x"), context) is not None
    assert check(Source("{{ nope }}", "x", "x"), context) is not None


def test_html_is_sanitised_and_readable_as_text() -> None:
    clean = sanitise_html(
        '<p onclick="x()">Hi<script>bad()</script></p><a href="javascript:x">l</a>'
    )
    assert "script" not in clean and "onclick" not in clean and "javascript" not in clean
    assert html_to_text("<p>One</p><p>Two<br>Three</p>") == "One\nTwo\nThree"


def test_smtp_urls() -> None:
    server = from_url("smtp://u%40x:p@mail.test:2587?starttls=true")
    assert (server.host, server.port, server.security, server.username, server.password) == (
        "mail.test",
        2587,
        "starttls",
        "u@x",
        "p",
    )
    assert from_url("smtps://mail.test").port == 465
