"""FastAPI dependencies every service uses at its edge."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Request

from kit.uow import UnitOfWork


async def unit_of_work(request: Request) -> AsyncIterator[UnitOfWork]:
    """One unit of work per request; the endpoint commits it (the edge), else it rolls back."""
    async with request.app.state.runtime.unit_of_work() as uow:
        yield uow


def client_ip(request: Request) -> str:
    """The caller's address as uvicorn resolved it (X-Forwarded-For only from trusted proxies)."""
    return request.client.host if request.client else "unknown"
