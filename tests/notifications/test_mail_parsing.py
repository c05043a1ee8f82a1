"""Reading inbound mail, without servers: the headers processing decides on are read as
`email.policy.default` reads them (the parser itself runs on the cheaper compat32 policy),
nothing hostile in them survives as a line break or as text a database refuses, and
bodies with missing or lying charsets still read as text."""

from __future__ import annotations

import pytest

from services.notifications.inbound.parsing import ParsedMail, parse, parse_headers


def both(raw: bytes) -> list[ParsedMail]:
    return [parse(raw, max_attachments=10), parse_headers(raw)]


@pytest.mark.parametrize(
    ("from_header", "email", "name"),
    [
        (b"Carla Client <Carla@Client.test>", "carla@client.test", "Carla Client"),
        (b'"Doe, John" <john@client.test>', "john@client.test", "Doe, John"),
        (b"=?utf-8?q?Zo=C3=AB?= <zoe@client.test>", "zoe@client.test", "Zoë"),
        # What sits in a comment or a quoted name never passes for the address.
        (b"evil@client.test (Admin <admin@ours.test>)", "evil@client.test", ""),
        (
            b'"Admin <admin@ours.test>" <evil@client.test>',
            "evil@client.test",
            "Admin <admin@ours.test>",
        ),
    ],
)
def test_the_sender_is_the_address_not_what_surrounds_it(
    from_header: bytes, email: str, name: str
) -> None:
    raw = b"From: " + from_header + b"\r\nSubject: hi\r\n\r\nbody\r\n"
    for mail in both(raw):
        assert (mail.sender_email, mail.sender_name) == (email, name)


def test_encoded_line_breaks_are_flattened() -> None:
    raw = (
        b"From: =?utf-8?q?Eve=0D=0ABcc=3A_victim=40evil=2Etest?= <eve@hostile.test>\r\n"
        b"Subject: =?utf-8?b?SW52b2ljZQ0KQmNjOiB2aWN0aW1AZXZpbC50ZXN0?=\r\n\r\nPay.\r\n"
    )
    for mail in both(raw):
        assert mail.subject == "Invoice Bcc: victim@evil.test"
        assert mail.sender_email == "eve@hostile.test"
        assert mail.sender_name == "Eve Bcc: victim@evil.test"


def test_raw_8bit_headers_read_as_utf8_and_never_as_lone_surrogates() -> None:
    raw = "From: Zoë <zoe@client.test>\r\nSubject: Café crème\r\n\r\nCafé\r\n".encode()
    mail = parse(raw, max_attachments=10)
    assert (mail.subject, mail.sender_name, mail.text.strip()) == ("Café crème", "Zoë", "Café")
    latin = "From: José <a\xe9@client.test>, =?utf-8?q?x=0D=0A?=\r\nSubject: Caf\xe9\r\n\r\nb\r\n"
    for parsed in both(latin.encode("latin-1")):
        for value in (parsed.subject, parsed.sender_name, *parsed.headers.values()):
            value.encode("utf-8")  # no lone surrogate: storable and sendable


def test_file_names_in_either_encoding_and_bodies_with_lying_charsets() -> None:
    raw = (
        b"From: a@client.test\r\nSubject: files\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\nCaf\xe9 cr\xe8me\r\n"
        b"--b\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''%E2%82%AC%20rates.txt\r\n\r\nx\r\n"
        b"--b\r\nContent-Type: application/pdf\r\n"
        b'Content-Disposition: attachment; filename="=?utf-8?B?w6kucGRm?="\r\n\r\ny\r\n'
        b"--b--\r\n"
    )
    mail = parse(raw, max_attachments=10)
    assert mail.text.strip() == "Café crème"  # declared UTF-8, written in Windows-1252
    assert [a.filename for a in mail.attachments] == ["€ rates.txt", "é.pdf"]
    assert [a.content_type for a in mail.attachments] == [
        "application/octet-stream",
        "application/pdf",
    ]
