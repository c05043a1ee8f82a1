"""Who and what caused the work in progress, carried implicitly through a request or a message.

Contextvars let the outbox stamp correlation and causation on every event
without threading them through every service function.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Causation:
    correlation_id: str | None = None
    causation_id: str | None = None
    actor: str | None = None
    workspace: str | None = None
    request_id: str | None = None


_current: ContextVar[Causation] = ContextVar("deskline_causation", default=Causation())  # noqa: B039


def current() -> Causation:
    return _current.get()


@contextmanager
def caused_by(**changes: str | None) -> Iterator[Causation]:
    """Run a block with some causation attributes replaced (the rest inherited)."""
    updated = replace(_current.get(), **changes)
    token = _current.set(updated)
    try:
        yield updated
    finally:
        _current.reset(token)
