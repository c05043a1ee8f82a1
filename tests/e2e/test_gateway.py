"""The real nginx gateway in front of services running as separate OS processes.

What is under test is the deployment shape, not the services' features: that
`deploy/gateway/nginx.conf` routes `/api/<service>/` to `deskline serve
<service>` without rewriting the path, that the request id it assigns reaches
the service and comes back, and that `deskline run` answers for all six
services on one port. Everything is real: PostgreSQL, RabbitMQ, Redis, nginx
and the `deskline` console script, each child in its own process group.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx
import pytest

from tests.support.harness import free_port
from tests.support.processes import (
    SERVICES,
    Child,
    Children,
    RealInfra,
    base_env,
    deskline_executable,
    nginx_executable,
    render_gateway,
    wait_for_http,
)

pytestmark = pytest.mark.e2e

GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")


def test_gateway_routes_each_service_to_its_own_process(
    children: Children, real_infra: RealInfra, http: httpx.Client, tmp_path: Path
) -> None:
    deskline = deskline_executable()
    nginx = nginx_executable()
    ports = {name: free_port() for name in ("identity", "tickets", "gateway", "closed")}
    env = real_infra.env | {
        "DESKLINE_JWT_PUBLIC_KEY_URL": (
            f"http://127.0.0.1:{ports['identity']}/api/identity/.well-known/jwks.json"
        ),
    }

    for service in ("identity", "tickets"):
        children.run(f"migrate-{service}", [deskline, "migrate", service], env, tmp_path)
    servers: dict[str, Child] = {}
    for service in ("identity", "tickets"):
        servers[service] = child = children.start(
            service,
            [deskline, "serve", service, "--host", "127.0.0.1", "--port", str(ports[service])],
            env,
            tmp_path,
        )
        wait_for_http(http, f"http://127.0.0.1:{ports[service]}/api/{service}/healthz", child)

    upstreams = {name: ports.get(name, ports["closed"]) for name in SERVICES}
    prefix = tmp_path / "gateway"
    config = render_gateway(prefix, ports["gateway"], upstreams)
    gateway = children.start(
        "nginx",
        [
            nginx,
            "-p",
            f"{prefix}/",
            "-c",
            str(config),
            "-g",
            f"daemon off; pid {prefix}/nginx.pid;",
        ],
        base_env(tmp_path / "var"),
        tmp_path,
    )
    base = f"http://127.0.0.1:{ports['gateway']}"
    wait_for_http(http, f"{base}/healthz", gateway)

    # Each prefix reaches its own process, which answers as itself.
    for service in ("identity", "tickets"):
        response = http.get(f"{base}/api/{service}/healthz")
        assert response.status_code == 200, response.text
        assert response.json() == {"status": "ok", "service": service}
        assert GENERATED_ID.match(response.headers["x-request-id"])
        # Ready means its real database, broker and Redis answer it.
        wait_for_http(http, f"{base}/api/{service}/readyz", servers[service])

    # A prefix no service owns is the gateway's own 404, never some service's.
    unknown = http.get(f"{base}/api/nope/x")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert GENERATED_ID.match(unknown.headers["x-request-id"])

    # A service that is down is a 502 problem, not a hang or an HTML page.
    down = http.get(f"{base}/api/automation/healthz")
    assert down.status_code == 502
    assert down.json()["status"] == 502

    # The id the gateway generates reaches the service (which puts it in its
    # problem body) and comes back once, in the response header; the path
    # arrives unchanged.
    missing_path = "/api/identity/e2e-no-such-route"
    missing = http.get(f"{base}{missing_path}")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.headers.get_list("x-request-id") == [missing.json()["request_id"]]
    assert GENERATED_ID.match(missing.json()["request_id"])
    assert missing.json()["instance"] == missing_path

    # A caller's own request id is passed through, not replaced.
    own_id = f"e2e-{uuid.uuid4().hex}"
    traced = http.get(f"{base}/api/tickets/e2e-no-such-route", headers={"X-Request-ID": own_id})
    assert traced.status_code == 404
    assert traced.headers.get_list("x-request-id") == [own_id]
    assert traced.json()["request_id"] == own_id


def test_run_serves_every_service_on_one_port(
    children: Children, http: httpx.Client, tmp_path: Path
) -> None:
    port = free_port()
    child = children.start(
        "deskline-run",
        [deskline_executable(), "run", "--host", "127.0.0.1", "--port", str(port)],
        base_env(tmp_path / "var"),
        tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    # `run` migrates every service's SQLite file first: wait for the first answer.
    wait_for_http(http, f"{base}/api/{SERVICES[0]}/healthz", child)

    for service in SERVICES:
        response = http.get(f"{base}/api/{service}/healthz")
        assert response.status_code == 200, f"{service}: {response.status_code} {response.text}"
        assert response.json() == {"status": "ok", "service": service}
        wait_for_http(http, f"{base}/api/{service}/readyz", child)
    assert sorted(path.name for path in (tmp_path / "var").glob("*.sqlite3")) == sorted(
        f"{service}.sqlite3" for service in SERVICES
    )
