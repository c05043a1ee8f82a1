"""The FastAPI factory every service uses, so all of them behave alike at the edge."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from kit.http.middleware import ServiceMiddleware
from kit.http.problems import install_problem_handlers, problem_response
from kit.metrics import REGISTRY

if TYPE_CHECKING:
    from kit.runtime import ServiceRuntime


def create_service_app(runtime: ServiceRuntime, *, title: str, version: str = "1") -> FastAPI:
    """A service app with health, readiness, metrics and problem+json errors.

    It has no lifespan of its own: the launcher starts the runtime, because
    Starlette does not run the lifespans of mounted apps.
    """
    app = FastAPI(title=title, version=version)
    app.state.runtime = runtime
    install_problem_handlers(app)
    app.add_middleware(
        ServiceMiddleware,
        service=runtime.name,
        max_body_bytes=runtime.settings.max_body_bytes,
    )

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok", "service": runtime.name}

    @app.get("/readyz", tags=["operations"], response_model=None)
    async def readyz(request: Request) -> Any:
        """Readiness: database reachable, bus connected, consumers and background tasks alive."""
        checks = await runtime.readiness()
        if all(checks.values()):
            return {"status": "ready", "service": runtime.name, "checks": checks}
        return problem_response(
            request,
            503,
            "not-ready",
            detail="Some dependencies are not ready.",
            extensions={"service": runtime.name, "checks": checks},
        )

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return app
