"""Finding the services installed with this package, without the kit importing any of them.

Services announce themselves through the `deskline.services` entry-point
group (see pyproject.toml), the way a plugin would.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from kit.module import ServiceModule
from kit.settings import SERVICE_NAMES


class UnknownService(LookupError):
    pass


def load_module(name: str) -> ServiceModule:
    found = {ep.name: ep for ep in entry_points(group="deskline.services")}
    if name not in found:
        known = ", ".join(sorted(found)) or "none installed"
        raise UnknownService(f"unknown service {name!r} (known: {known})")
    module = found[name].load()
    if not isinstance(module, ServiceModule):
        raise TypeError(f"entry point {name!r} is not a ServiceModule")
    return module


def load_modules(names: list[str] | None = None) -> list[ServiceModule]:
    return [load_module(name) for name in (names or list(SERVICE_NAMES))]
