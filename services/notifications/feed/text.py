"""Plain text from the HTML of comments and messages, and the mentions in it."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from services.notifications.directory.service import fold

# `@` + an e-mail address, not preceded by something that would make it part of a word or
# of an address itself (`x@ann@acme.example` mentions nobody).
MENTION = re.compile(
    r"(?<![\w.+@-])@([A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,63})"
)
# `@` + a name (`@Anna`, `@anna.berg`, `@Zoë`), under the same rule for what precedes it; a
# name followed by `@` is the start of an address mention, not a name.
NAME_MENTION = re.compile(r"(?<![\w.+@-])@(\w[\w.-]{0,99})(?![\w.@-])")
MENTIONS_MAX = 50
EXCERPT_MAX = 280

_BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in _BLOCKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
        elif tag in _BLOCKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def plain(html: str) -> str:
    """Tags dropped, entities decoded, whitespace collapsed (plain text passes unchanged)."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    return " ".join("".join(parser.parts).split())


def excerpt(html: str, limit: int = EXCERPT_MAX) -> str:
    text = plain(html)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def mentioned_addresses(html: str) -> list[str]:
    """Lower-cased addresses mentioned as `@ann@acme.example`, in order, each once."""
    found: dict[str, None] = {}
    for match in MENTION.finditer(plain(html)):
        found.setdefault(match.group(1).lower(), None)
        if len(found) >= MENTIONS_MAX:
            break
    return list(found)


def mentioned_names(html: str) -> list[str]:
    """Names mentioned as `@Anna` or `@anna.berg`, folded (case and accents dropped) as the
    directory's mention names are, in order, each once; a sentence's full stop after a name
    is not part of it."""
    found: dict[str, None] = {}
    for match in NAME_MENTION.finditer(plain(html)):
        name = fold(match.group(1).rstrip(".-"))
        if name:
            found.setdefault(name, None)
        if len(found) >= MENTIONS_MAX:
            break
    return list(found)
