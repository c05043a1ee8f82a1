"""FastAPI dependencies every service uses at its edge."""

from __future__ import annotations

from fastapi import Request

from kit.http.middleware import OPEN_WORK
from kit.uow import UnitOfWork


async def unit_of_work(request: Request) -> UnitOfWork:
    """One unit of work per request; the endpoint commits it (the edge), else it rolls back.

    A plain dependency rather than one with `yield`: `ServiceMiddleware` closes (rolls back
    what was not committed, returns the connection) every unit of work a request opened once
    the request is over, which spares each request FastAPI's exit-stack machinery.
    """
    opened: list[UnitOfWork] | None = request.scope.get("state", {}).get(OPEN_WORK)
    if opened is None:
        raise RuntimeError("unit_of_work needs kit's ServiceMiddleware (create_service_app)")
    uow: UnitOfWork = request.app.state.runtime.unit_of_work()
    await uow.__aenter__()
    opened.append(uow)
    return uow


def client_ip(request: Request) -> str:
    """The caller's address as uvicorn resolved it (X-Forwarded-For only from trusted proxies)."""
    return request.client.host if request.client else "unknown"
