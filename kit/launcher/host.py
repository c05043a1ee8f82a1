"""Hosting one or more service runtimes behind one ASGI app and one uvicorn server.

The host owns what is shared in a process (bus connection, Redis client,
supervisor) and enters each service runtime itself: Starlette runs only the
root app's lifespan, never a mounted app's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import uvicorn
from fastapi import FastAPI

from kit.bus import make_bus
from kit.logging import get_logger
from kit.module import ServiceModule
from kit.redis import make_redis
from kit.runtime import ServiceRuntime
from kit.settings import Settings
from kit.supervisor import Supervisor

log = get_logger(__name__)


class Host:
    def __init__(self, settings: Settings, modules: Sequence[ServiceModule]) -> None:
        self.settings = settings
        self.supervisor = Supervisor()
        self.bus = make_bus(settings)
        self.redis = make_redis(settings)
        self.runtimes = [
            ServiceRuntime(
                module, settings, bus=self.bus, redis=self.redis, supervisor=self.supervisor
            )
            for module in modules
        ]
        self._server: uvicorn.Server | None = None
        self.app = FastAPI(title="Deskline", lifespan=self._lifespan, docs_url=None)
        self.apps = {runtime.name: runtime.module.create_app(runtime) for runtime in self.runtimes}
        for name, app in self.apps.items():
            self.app.mount(f"/api/{name}", app)

        @self.app.get("/healthz", include_in_schema=False)
        async def healthz() -> dict[str, Any]:
            return {"status": "ok", "services": [r.name for r in self.runtimes]}

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        for runtime in self.runtimes:
            await runtime.start()
        await self.bus.start(spawn=self.supervisor.spawn)
        try:
            yield
        finally:
            log.info("draining consumers")
            await self.bus.stop_consuming()
            await self.supervisor.stop()
            await self.bus.close()
            for runtime in self.runtimes:
                await runtime.stop()
            await self.redis.aclose()

    def request_stop(self) -> None:
        """Graceful stop, as on SIGTERM."""
        if self._server is not None:
            self._server.should_exit = True

    async def serve(self, host: str, port: int) -> int:
        """Serve until a signal or a dead background task; the exit code says which."""
        config = uvicorn.Config(
            self.app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="on",
            proxy_headers=True,
            forwarded_allow_ips=self.settings.forwarded_allow_ips,
        )
        server = self._server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve(), name="uvicorn")
        failed = asyncio.create_task(self.supervisor.failed.wait(), name="supervisor")
        done, _ = await asyncio.wait({serving, failed}, return_when=asyncio.FIRST_COMPLETED)
        if failed in done:
            log.error("stopping after a failure", reason=self.supervisor.failure)
            server.should_exit = True
            await serving
            return 1
        failed.cancel()
        serving.result()
        if not server.started:
            log.error("start-up failed", reason=self.supervisor.failure)
            return 3
        return 1 if self.supervisor.failure else 0
