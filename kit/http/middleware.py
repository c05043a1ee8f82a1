"""Pure-ASGI middleware: request id and log context, body size limit, latency metrics.

Pure ASGI rather than BaseHTTPMiddleware so that streaming bodies are counted
as they arrive and context variables reach the endpoint.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import structlog
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kit import context
from kit.http.problems import problem_response
from kit.metrics import HTTP_LATENCY


class _BodyTooLarge(Exception):
    pass


class ServiceMiddleware:
    def __init__(self, app: ASGIApp, *, service: str, max_body_bytes: int) -> None:
        self.app = app
        self.service = service
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request_id = headers.get("x-request-id") or uuid.uuid4().hex
        correlation_id = headers.get("x-correlation-id") or request_id
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status_holder = {"status": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode("latin-1")),
                ]
            await send(message)

        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(scope, receive, send_with_id)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge
            return message

        with (
            structlog.contextvars.bound_contextvars(
                service=self.service, request_id=request_id, correlation_id=correlation_id
            ),
            context.caused_by(request_id=request_id, correlation_id=correlation_id),
        ):
            try:
                await self.app(scope, limited_receive, send_with_id)
            except _BodyTooLarge:
                await self._too_large(scope, receive, send_with_id)
            finally:
                route: Any = scope.get("route")
                path = getattr(route, "path", "unmatched")
                HTTP_LATENCY.labels(
                    self.service, scope["method"], path, str(status_holder["status"])
                ).observe(time.perf_counter() - started)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            Request(scope, receive),
            413,
            "payload-too-large",
            detail=f"The request body exceeds {self.max_body_bytes} bytes.",
        )
        await response(scope, receive, send)
