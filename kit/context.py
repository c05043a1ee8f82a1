"""What the work in progress is and who caused it, carried implicitly through a request or
a consumed message.

One context variable holds it all: the outbox stamps correlation and causation
on every event from it, and every log line gets its fields (see
`kit.logging`), without threading them through service functions. Setting one
variable per message is also far cheaper than binding each field separately.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class WorkContext:
    service: str | None = None
    request_id: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    actor: str | None = None
    workspace: str | None = None
    handler: str | None = None
    event_id: str | None = None
    event_type: str | None = None


_FIELDS = tuple(f.name for f in fields(WorkContext))
_current: ContextVar[WorkContext] = ContextVar("deskline_work", default=WorkContext())  # noqa: B039


def current() -> WorkContext:
    return _current.get()


@contextmanager
def working(**changes: str | None) -> Iterator[WorkContext]:
    """Run a block with some attributes replaced (the rest inherited from the outer work)."""
    updated = replace(_current.get(), **changes)
    token = _current.set(updated)
    try:
        yield updated
    finally:
        _current.reset(token)


def bind(**changes: str | None) -> None:
    """Amend the current work for the rest of this task (e.g. once the caller is known).

    The enclosing `working` block restores the outer value when it ends.
    """
    _current.set(replace(_current.get(), **changes))


def add_to_log(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
    """structlog processor: every log line carries the current work's fields."""
    work = _current.get()
    for name in _FIELDS:
        value = getattr(work, name)
        if value is not None:
            event.setdefault(name, value)
    return event
