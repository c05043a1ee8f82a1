"""AMQP topic-exchange matching: `*` is exactly one word, `#` is zero or more words."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=8192)
def matches(pattern: str, routing_key: str) -> bool:
    return _words_match(tuple(pattern.split(".")), tuple(routing_key.split(".")))


def _words_match(pattern: tuple[str, ...], words: tuple[str, ...]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_words_match(rest, words[skip:]) for skip in range(len(words) + 1))
    if not words:
        return False
    return head in ("*", words[0]) and _words_match(rest, words[1:])
