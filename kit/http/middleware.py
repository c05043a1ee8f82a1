"""Pure-ASGI middleware: request id and log context, body size limit, latency metrics.

Pure ASGI rather than BaseHTTPMiddleware so that streaming bodies are counted
as they arrive and context variables reach the endpoint.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kit import context
from kit.http.problems import problem_response
from kit.logging import get_logger
from kit.metrics import HTTP_LATENCY

log = get_logger(__name__)

OPEN_WORK = "kit.open_work"
"""Request-state key of the units of work a request opened (`kit.http.deps.unit_of_work`)."""


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
        request_state = scope.setdefault("state", {})
        request_state["request_id"] = request_id
        opened: list[Any] = []
        request_state[OPEN_WORK] = opened
        started = time.perf_counter()
        state = {"status": 500, "started": False, "too_large": False}

        async def send_with_id(message: Message) -> None:
            if state["too_large"]:
                return  # the 413 below replaces whatever the app answers
            if message["type"] == "http.response.start":
                state["status"], state["started"] = message["status"], True
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode("latin-1")),
                ]
            await send(message)

        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._answer(scope, receive, send, request_id, 413)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    # Stop the app reading as if the client left; answer 413 afterwards.
                    state["too_large"] = True
                    return {"type": "http.disconnect"}
            return message

        with context.working(
            service=self.service, request_id=request_id, correlation_id=correlation_id
        ):
            try:
                await self.app(scope, limited_receive, send_with_id)
            except Exception:
                if not state["too_large"]:
                    log.exception("unhandled error", path=scope.get("path"))
                    if state["started"]:
                        raise
                    await self._answer(scope, receive, send, request_id, 500)
                    return
            finally:
                await _close(opened)
                route: Any = scope.get("route")
                path = getattr(route, "path", "unmatched")
                status = 413 if state["too_large"] else state["status"]
                HTTP_LATENCY.labels(self.service, scope["method"], path, str(status)).observe(
                    time.perf_counter() - started
                )
            if state["too_large"]:
                await self._answer(scope, receive, send, request_id, 413)

    async def _answer(
        self, scope: Scope, receive: Receive, send: Send, request_id: str, status: int
    ) -> None:
        if status == 413:
            kind, detail = (
                "payload-too-large",
                f"The request body exceeds {self.max_body_bytes} bytes.",
            )
        else:
            kind, detail = "internal-error", "An unexpected error occurred; it has been logged."
        response = problem_response(
            Request(scope, receive),
            status,
            kind,
            detail=detail,
            headers={"x-request-id": request_id},
        )
        await response(scope, receive, send)


async def _close(opened: list[Any]) -> None:
    """Roll back what the request did not commit and return its connections to the pool."""
    for uow in opened:
        try:
            await uow.__aexit__(None, None, None)
        except Exception:  # the answer is given; a failed rollback must not replace it
            log.exception("closing a unit of work failed")
    opened.clear()
