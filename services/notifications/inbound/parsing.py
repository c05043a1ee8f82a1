"""Reading a raw mail defensively: any header or part may be malformed, mislabelled or
hostile, and none of that may raise out of here except as `Unreadable`."""

from __future__ import annotations

import email
import email.parser
import email.policy
import re
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parseaddr

from mailparser_reply import EmailReplyParser

from services.notifications.textparts import header_safe, html_to_text

REPLY_LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "pl", "sv", "pt"]
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,250}>")
_NUMBER = re.compile(r"\[#(\d{1,12})\]")
_ADDRESS = re.compile(r"[^@\s<>]{1,64}@[^@\s<>]{1,255}")
_BRACKETED = re.compile(r"<([^<>\s]{3,320})>")


_POLICY = email.policy.compat32
"""The parser's policy. `email.policy.default` builds a structured object for every header
it touches (each part's Content-Type and Content-Disposition included) and was most of the
cost of reading a mail; this one keeps raw values, and only the headers processing reads
are decoded, the way `email.policy.default` decodes them (`_header`)."""
_STRUCTURED = email.policy.default
_LINE_BREAK = re.compile(r"\n|\r")
"""How `email.policy.default` unfolds a raw value before reading it."""

READ_HEADERS = (
    "from",
    "subject",
    "message-id",
    "in-reply-to",
    "references",
    "auto-submitted",
    "precedence",
    "x-loop",
    "x-auto-response-suppress",
    "list-id",
)
"""The headers processing looks at; the rest stay in the raw mail, undecoded."""


class Unreadable(Exception):
    """Not a mail we can make sense of; the reason is recorded."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class ParsedMail:
    message_id: str | None
    subject: str
    sender_email: str
    sender_name: str
    in_reply_to: list[str]
    references: list[str]
    headers: dict[str, str]
    text: str
    html: str
    content_type: str
    attachments: list[Attachment] = field(default_factory=list)
    dropped_attachments: int = 0

    @property
    def subject_number(self) -> int | None:
        match = _NUMBER.search(self.subject)
        return int(match.group(1)) if match else None

    @property
    def thread_ids(self) -> list[str]:
        """Message-IDs this mail answers, the most direct first."""
        return list(dict.fromkeys([*self.in_reply_to, *reversed(self.references)]))

    def plain_text(self) -> str:
        return self.text.strip() or html_to_text(self.html)

    def new_text(self) -> str:
        """The reply without the quoted history (the whole text when nothing is left)."""
        full = self.plain_text()
        try:
            latest = EmailReplyParser(languages=REPLY_LANGUAGES).parse_reply(text=full)
        except Exception:  # a third-party parser on hostile text: keep the full text
            return full
        return latest.strip() or full


def parse(raw: bytes, max_attachments: int) -> ParsedMail:
    try:
        message = email.message_from_bytes(raw, policy=_POLICY)
    except Exception as error:  # the stdlib parser is lenient; this is truly broken input
        raise Unreadable(f"cannot parse MIME: {error!r}") from error
    if not message.keys():
        raise Unreadable("no headers")
    text_parts: list[str] = []
    html_parts: list[str] = []
    attachments: list[Attachment] = []
    dropped = 0
    for part in _walk(message):
        disposition = (part.get_content_disposition() or "").lower()
        content_type = part.get_content_type()
        if part.is_multipart():
            continue
        filename = _filename(part)
        if (
            disposition == "attachment"
            or (filename and disposition != "inline")
            or (not content_type.startswith("text/") and content_type != "message/rfc822")
        ):
            if len(attachments) >= max_attachments:
                dropped += 1
                continue
            data = _payload_bytes(part)
            attachments.append(
                Attachment(
                    filename=header_safe(filename or "attachment", 255) or "attachment",
                    content_type=header_safe(content_type, 100),
                    data=data,
                )
            )
        elif content_type == "text/html":
            html_parts.append(_text(part))
        elif content_type == "text/plain":
            text_parts.append(_text(part))
    return _mail(
        message,
        text="\n\n".join(text_parts),
        html="\n".join(html_parts),
        attachments=attachments,
        dropped=dropped,
    )


def parse_headers(raw: bytes) -> ParsedMail:
    """Only what the headers say (sender, subject, ids, noise headers), for decisions made
    while the sending server waits; the body is not read."""
    try:
        message = email.parser.BytesHeaderParser(policy=_POLICY).parsebytes(raw)
    except Exception as error:
        raise Unreadable(f"cannot parse the headers: {error!r}") from error
    if not message.keys():
        raise Unreadable("no headers")
    return _mail(message)


def _mail(
    message: Message,
    *,
    text: str = "",
    html: str = "",
    attachments: list[Attachment] | None = None,
    dropped: int = 0,
) -> ParsedMail:
    raw: dict[str, list[str]] = {}
    for name, value in message.raw_items():
        raw.setdefault(name.lower(), []).append(value)
    headers = {name: _header(raw, name) for name in READ_HEADERS if name in raw}
    name, address = _sender(headers.get("from", ""))
    return ParsedMail(
        message_id=_first_id(headers.get("message-id", "")),
        subject=header_safe(headers.get("subject", ""), 500),
        sender_email=address,
        sender_name=header_safe(name, 200),
        in_reply_to=_ids(headers.get("in-reply-to", "")),
        references=_ids(headers.get("references", "")),
        headers=headers,
        text=text,
        html=html,
        content_type=message.get_content_type(),
        attachments=attachments or [],
        dropped_attachments=dropped,
    )


def _walk(message: Message, depth: int = 0) -> list[Message]:
    """Parts, depth-first, with nesting bounded (a bomb of nested multiparts stops here)."""
    if depth > 20:
        return []
    if not message.is_multipart():
        return [message]
    parts: list[Message] = []
    payload = message.get_payload()
    if isinstance(payload, list):
        for child in payload[:1000]:
            if isinstance(child, Message):
                parts += _walk(child, depth + 1)
    return parts


def _header(raw: dict[str, list[str]], name: str) -> str:
    """A header's decoded text on one line, exactly as `email.policy.default` reads it (its
    first occurrence), built for the few headers read rather than for every header the
    parser meets. That policy refuses values that decode to CR/LF (an encoded-word
    injection); those are decoded here by hand and flattened."""
    values = raw.get(name)
    if not values:
        return ""
    try:
        value = _STRUCTURED.header_factory(name, _LINE_BREAK.sub("", values[0]))
        return header_safe(str(value), 10_000)
    except Exception:
        return header_safe(" ".join(_decode_words(v) for v in values), 10_000)


def _decode_words(value: str) -> str:
    try:
        decoded = str(make_header(decode_header(value)))
    except Exception:  # undecodable words: keep them as they came
        decoded = value
    return _utf8(decoded)


def _utf8(value: str) -> str:
    """Raw 8-bit header bytes (SMTPUTF8, or a careless sender) arrive as lone surrogates,
    which no database column takes: read them as UTF-8, replacing what is not."""
    if value.isascii() or not any("\udc80" <= c <= "\udcff" for c in value):
        return value
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _filename(part: Message) -> str | None:
    """The part's file name (RFC 2231 parameters decoded by the parser; encoded words, which
    common mail clients put there although RFC 2047 forbids it, decoded here)."""
    try:
        filename = part.get_filename()
    except Exception:  # a parameter the parser cannot make sense of
        return None
    return _decode_words(filename) if filename and "=?" in filename else filename


def _sender(raw: str) -> tuple[str, str]:
    """The From address: the bracketed address when there is one (a display name can hold
    anything, even what looks like another address or a group), else the bare one."""
    bracketed = _BRACKETED.findall(raw)
    if bracketed:
        address = bracketed[-1].strip().lower()
        name = raw[: raw.rfind("<")].strip().strip('"').strip()
        if _ADDRESS.fullmatch(address):
            return name, address
    try:
        pairs = getaddresses([raw])
    except Exception:
        pairs = [parseaddr(raw)]
    for name, address in pairs:
        address = address.strip().lower()
        if _ADDRESS.fullmatch(address):
            return name, address
    return "", ""


def _text(part: Message) -> str:
    """The declared charset when it decodes the bytes, else UTF-8, else Windows-1252 (which
    decodes almost anything): a wrong or missing declaration is the common case."""
    data = _payload_bytes(part)
    declared = part.get_content_charset()
    for charset in (declared or "utf-8", "utf-8", "cp1252"):
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("utf-8", errors="replace")


def _payload_bytes(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    return payload.encode("utf-8", errors="replace") if isinstance(payload, str) else b""


def _first_id(value: str) -> str | None:
    ids = _ids(value)
    return ids[0] if ids else None


def _ids(value: str) -> list[str]:
    return _MESSAGE_ID.findall(value)[:50]
