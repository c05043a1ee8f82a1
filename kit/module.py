"""What a service tells the launcher about itself; the launcher needs nothing else."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from kit.consumers import Consumer

if TYPE_CHECKING:
    from kit.runtime import ServiceRuntime

BackgroundFactory = Callable[["ServiceRuntime"], Sequence[tuple[str, Coroutine[Any, Any, Any]]]]


def _no_background(_runtime: ServiceRuntime) -> Sequence[tuple[str, Coroutine[Any, Any, Any]]]:
    return ()


@dataclass(frozen=True)
class ServiceModule:
    name: str
    title: str
    create_app: Callable[[ServiceRuntime], FastAPI]
    migrations: Path
    consumers: Sequence[Consumer] = ()
    background: BackgroundFactory = field(default=_no_background)
