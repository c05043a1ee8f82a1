"""Which event loop a Deskline process runs on.

uvloop (libuv) by default where it is installed — it comes with `uvicorn[standard]` — because
every service spends much of its time in socket reads and writes (HTTP, PostgreSQL, AMQP,
SMTP), which uvloop does at a fraction of the standard loop's cost. `DESKLINE_EVENT_LOOP=asyncio`
chooses the standard library's loop (e.g. to compare, or where uvloop misbehaves).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

T = TypeVar("T")

EventLoopName = Literal["uvloop", "asyncio"]


def loop_factory(name: EventLoopName) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The factory for `name`; None (the standard loop) when uvloop is not installed."""
    if name == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T], name: EventLoopName) -> T:
    with asyncio.Runner(loop_factory=loop_factory(name)) as runner:
        return runner.run(main)
