"""A real HTTP receiver of webhooks on localhost: a small ASGI app served by uvicorn. Each
path follows a script of answers (a status, a status with headers, or hanging until
released) and every request it got is recorded with its headers and raw body."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from standardwebhooks.webhooks import Webhook
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from tests.support.harness import free_port


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def verified(self, secret: str) -> Any:
        """The payload, once its Standard Webhooks signature checks out (raises otherwise)."""
        return Webhook(secret).verify(self.body, self.headers)


@dataclass
class Receiver:
    """Answers per path: `script(path, 500, 500, 200)`, `(503, {"retry-after": "1"})`,
    `"hang"` (until `release()` or 35 s). Unscripted requests get 200."""

    port: int = 0
    host: str = "127.0.0.1"
    scripts: dict[str, list[Any]] = field(default_factory=dict)
    got: list[Received] = field(default_factory=list)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def new_path(self) -> str:
        return f"/hook/{uuid.uuid4().hex[:12]}"

    def script(self, path: str, *answers: Any) -> None:
        self.scripts[path] = list(answers)

    def at(self, path: str) -> list[Received]:
        return [r for r in self.got if r.path == path]

    def release(self) -> None:
        self.released.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        body = await request.body()
        path = request.url.path
        self.got.append(Received(path, dict(request.headers), body))
        answers = self.scripts.get(path) or []
        answer = answers.pop(0) if answers else 200
        if answer == "hang":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.released.wait(), 35)
            answer = 200
        headers: dict[str, str] = {}
        if isinstance(answer, tuple):
            answer, headers = answer
        await Response(b"ok", status_code=int(answer), headers=headers)(scope, receive, send)


@contextlib.contextmanager
def receiver_in_thread() -> Iterator[Receiver]:
    """The receiver on its own event loop in a thread, for tests that drive the system
    synchronously (as an outside tool would)."""
    app = Receiver(port=free_port())
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=app.port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, name="webhook-receiver", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError("the webhook receiver did not start")
        time.sleep(0.02)
    try:
        yield app
    finally:
        server.should_exit = True
        thread.join(timeout=10)
