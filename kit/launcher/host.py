"""Hosting one or more service runtimes behind one ASGI app and one uvicorn server.

The host owns what is shared in a process (bus connection, Redis client,
supervisor) and enters each service runtime itself: Starlette runs only the
root app's lifespan, never a mounted app's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import traceback
from collections.abc import AsyncIterator, Sequence

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from kit.bus import make_bus
from kit.http.problems import PROBLEM_BASE
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
        self.apps: dict[str, FastAPI] = {
            runtime.name: runtime.module.create_app(runtime) for runtime in self.runtimes
        }
        self.app: ASGIApp = _Dispatcher(self)

    @contextlib.asynccontextmanager
    async def _lifespan(self) -> AsyncIterator[None]:
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


class _Dispatcher:
    """The process's ASGI app: `/api/<service>/…` to that service's app, `/healthz`, lifespan.

    Plain ASGI rather than a FastAPI app with mounts, so that a request passes through one
    middleware stack (its service's) instead of two. Scopes are handed on as Starlette's
    `Mount` would: the full path, and the prefix added to `root_path`.
    """

    def __init__(self, host: Host) -> None:
        self._host = host
        self._prefixes = [(f"/api/{name}", app) for name, app in host.apps.items()]
        self._health = json.dumps(
            {"status": "ok", "services": [r.name for r in host.runtimes]}
        ).encode()
        self._index = _index_page(list(host.apps))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        root = scope.get("root_path", "")
        path: str = scope["path"]
        route = path[len(root) :] if root and path.startswith(root) else path
        for prefix, app in self._prefixes:
            if route.startswith(prefix) and route[len(prefix) : len(prefix) + 1] == "/":
                child = dict(scope)
                child["app_root_path"] = scope.get("app_root_path", root)
                child["root_path"] = root + prefix
                await app(child, receive, send)
                return
        if scope["type"] != "http":
            return  # no websockets outside a service: closing the connection refuses it
        if route == "/healthz":
            await _answer(send, 200, "application/json", self._health)
            return
        if route == "/" and scope.get("method") in ("GET", "HEAD"):
            # What `deskline run` prints: a newcomer's first page, linking each service.
            await _answer(send, 200, "text/html; charset=utf-8", self._index)
            return
        body = {
            "type": f"{PROBLEM_BASE}not-found",
            "title": "Not Found",
            "status": 404,
            "detail": "Nothing is served here; the services answer under /api/<service>/.",
            "instance": path,
        }
        await _answer(send, 404, "application/problem+json", json.dumps(body).encode())

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        running = self._host._lifespan()
        await receive()  # lifespan.startup
        try:
            await running.__aenter__()
        except BaseException:
            await send({"type": "lifespan.startup.failed", "message": traceback.format_exc()})
            raise
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        try:
            await running.__aexit__(None, None, None)
        except BaseException:
            await send({"type": "lifespan.shutdown.failed", "message": traceback.format_exc()})
            raise
        await send({"type": "lifespan.shutdown.complete"})


def _index_page(services: list[str]) -> bytes:
    rows = "".join(
        f'<li><b>{name}</b>: <a href="api/{name}/docs">API documentation</a> · '
        f'<a href="api/{name}/readyz">ready?</a></li>'
        for name in services
    )
    return (
        "<!doctype html><html lang=en><meta charset=utf-8><title>Deskline</title>"
        "<h1>Deskline</h1><p>Every service answers under <code>/api/&lt;service&gt;/</code>."
        f"</p><ul>{rows}</ul></html>"
    ).encode()


async def _answer(send: Send, status: int, media_type: str, body: bytes) -> None:
    headers = [(b"content-type", media_type.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
