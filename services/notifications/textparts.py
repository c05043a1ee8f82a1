"""Text helpers shared by mail out and mail in: header-safe text, HTML ↔ plain text, and
sanitised HTML."""

from __future__ import annotations

import html
import re

import nh3

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]+")
_BLOCK_END = re.compile(r"(?i)</(p|div|li|h[1-6]|tr|blockquote)\s*>|<br\s*/?>")
_BLANK_LINES = re.compile(r"\n{3,}")

ALLOWED_TAGS = {
    "a", "b", "blockquote", "br", "code", "div", "em", "h1", "h2", "h3", "h4", "i", "li",
    "ol", "p", "pre", "s", "span", "strong", "table", "tbody", "td", "th", "thead", "tr",
    "u", "ul", "img", "hr",
}  # fmt: skip


def header_safe(value: str, limit: int = 900) -> str:
    """One line: CR, LF and every other control character (also once decoded from an encoded
    word) become a space, so a subject or a name can never start another header."""
    return " ".join(_CONTROL.sub(" ", value).split())[:limit]


def sanitise_html(markup: str) -> str:
    """Scripts, event handlers, styles and foreign schemes removed; safe formatting kept."""
    return nh3.clean(
        markup,
        tags=ALLOWED_TAGS,
        url_schemes={"http", "https", "mailto", "cid"},
        link_rel="noopener noreferrer nofollow",
    )


def html_to_text(markup: str) -> str:
    """Readable plain text of an HTML fragment (block ends become line breaks)."""
    broken = _BLOCK_END.sub("\n", markup)
    text = html.unescape(nh3.clean(broken, tags=set()))
    lines = [line.strip() for line in text.replace("\r", "").split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def text_to_html(text: str) -> str:
    """Plain text as HTML paragraphs, escaped."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "".join(
        "<p>" + "<br>".join(html.escape(line) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )
