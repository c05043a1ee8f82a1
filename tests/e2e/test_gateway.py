"""The real nginx gateway in front of services running as separate OS processes.

What is under test is the deployment shape, not the services' features: that
`deploy/gateway/nginx.conf` routes `/api/<service>/` to `deskline serve
<service>` without rewriting the path, that the request id it assigns reaches
the service and comes back, and that `deskline run` answers for all six
services on one port. Everything is real: PostgreSQL, RabbitMQ, Redis, nginx
and the `deskline` console script, each child in its own process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy.engine import make_url

from kit.db.engine import drop_database
from tests.support.buses import delete_namespace
from tests.support.harness import free_port

pytestmark = pytest.mark.e2e

SERVICES = ("identity", "tickets", "notifications", "automation", "timetracking", "integrations")
REPO_ROOT = Path(__file__).resolve().parents[2]
GATEWAY_CONFIG_DIR = REPO_ROOT / "deploy" / "gateway"
WAIT_SECONDS = 60.0
STOP_SECONDS = 15.0
GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")


def deskline_executable() -> str:
    """The console script installed beside this interpreter (the venv's), else on PATH."""
    beside = Path(sys.executable).parent / "deskline"
    if beside.exists():
        return str(beside)
    found = shutil.which("deskline")
    if found is None:
        pytest.fail("the `deskline` console script is not installed: pip install -e '.[dev]'")
    return found


def nginx_executable() -> str:
    found = shutil.which("nginx")
    if found is None and os.access("/usr/sbin/nginx", os.X_OK):
        found = "/usr/sbin/nginx"  # root's PATH has it, an ordinary user's may not
    if found is None:
        pytest.fail(
            "nginx is not installed, and these tests run the real gateway: "
            "install nginx-light (scripts/ensure-infra.sh does it as root)",
            pytrace=False,
        )
    return found


def base_env(var_dir: Path) -> dict[str, str]:
    """The caller's environment without any DESKLINE_* setting, so only the test decides."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("DESKLINE_")}
    env.update(
        PYTHONUNBUFFERED="1",
        DESKLINE_VAR_DIR=str(var_dir),
        DESKLINE_LOG_JSON="true",
    )
    return env


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes]
    log: Path

    def output(self, limit: int = 20_000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return text[-limit:]

    def stop(self) -> None:
        """SIGTERM to the whole process group, then SIGKILL to it if the leader lingers.

        Signals go to the group only while its leader is unreaped, so the id
        cannot have been reused. nginx's master, stopped with SIGTERM, waits
        for its workers before exiting.
        """
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_SECONDS)


@dataclass
class Children:
    """Every process a test starts; stopped and reported by the fixture whatever happens."""

    logs: Path
    started: list[Child] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str], cwd: Path) -> Child:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{name}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        child = Child(name, argv, process, log)
        self.started.append(child)
        return child

    def run(self, name: str, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        """A one-shot command (migrations) that must succeed within the bound."""
        child = self.start(name, argv, env, cwd)
        try:
            code = child.process.wait(timeout=WAIT_SECONDS * 2)
        except subprocess.TimeoutExpired:
            child.stop()
            pytest.fail(f"{name} did not finish in {WAIT_SECONDS * 2:.0f} s:\n{child.output()}")
        if code != 0:
            pytest.fail(f"{name} exited with {code}:\n{child.output()}")

    def stop_all(self) -> None:
        for child in reversed(self.started):
            child.stop()

    def report(self) -> None:
        """Printed at teardown: pytest shows it only for a failed test."""
        for child in self.started:
            print(f"----- {child.name}: {' '.join(child.argv)}")
            print(child.output())


def wait_for_http(
    client: httpx.Client,
    url: str,
    child: Child,
    *,
    ready: Callable[[httpx.Response], bool] = lambda response: response.status_code == 200,
    timeout: float = WAIT_SECONDS,
) -> httpx.Response:
    """Poll `url` until `ready`; fail at once if the child died, or when the bound passes."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while True:
        code = child.process.poll()
        if code is not None:
            pytest.fail(
                f"{child.name} exited with {code} while waiting for {url}:\n{child.output()}"
            )
        try:
            response = client.get(url)
        except httpx.TransportError as error:
            last = repr(error)
        else:
            if ready(response):
                return response
            last = f"{response.status_code} {response.text[:500]}"
        if time.monotonic() > deadline:
            pytest.fail(
                f"{url} not ready after {timeout:.0f} s (last: {last});"
                f" {child.name} says:\n{child.output()}"
            )
        time.sleep(0.2)


def run_async(coroutine_factory: Callable[[], Any]) -> None:
    """Run a coroutine on a private loop in a worker thread, away from pytest-asyncio's loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(lambda: asyncio.run(coroutine_factory())).result(timeout=WAIT_SECONDS)


async def drop_databases(server_url: str, prefix: str) -> None:
    """Drop the per-service databases `<prefix>_<service>` that migrations created."""
    for service in SERVICES:
        await drop_database(
            make_url(server_url)
            .set(database=f"{prefix}_{service}")
            .render_as_string(hide_password=False)
        )


def render_gateway(directory: Path, listen_port: int, upstreams: dict[str, int]) -> Path:
    """deploy/gateway/nginx.conf as it is, listening on `listen_port`, with our upstreams."""
    shipped = (GATEWAY_CONFIG_DIR / "upstreams.conf").read_text()
    assert set(re.findall(r"^upstream\s+(\w+)\s*\{", shipped, re.MULTILINE)) == set(SERVICES)
    config, count = re.subn(
        r"^(\s*)listen\s+8080;$",
        rf"\1listen 127.0.0.1:{listen_port};",
        (GATEWAY_CONFIG_DIR / "nginx.conf").read_text(),
        flags=re.MULTILINE,
    )
    assert count == 1, "deploy/gateway/nginx.conf should have exactly one `listen 8080;`"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "nginx.conf").write_text(config)
    (directory / "upstreams.conf").write_text(
        "".join(
            f"upstream {name} {{\n    server 127.0.0.1:{port};\n    keepalive 4;\n}}\n"
            for name, port in upstreams.items()
        )
    )
    return directory / "nginx.conf"


@pytest.fixture
def children(tmp_path: Path) -> Iterator[Children]:
    started = Children(tmp_path / "logs")
    try:
        yield started
    finally:
        started.stop_all()
        started.report()


@dataclass(frozen=True)
class RealInfra:
    env: dict[str, str]
    database_prefix: str
    namespace: str


@pytest.fixture
def real_infra(
    children: Children,
    tmp_path: Path,
    pg_server_url: str,
    amqp_url: str,
    redis_url: str,
    session_tag: str,
) -> Iterator[RealInfra]:
    """Environment for services on the real servers, isolated by database prefix,
    bus namespace and Redis key prefix; all of it removed afterwards."""
    suffix = uuid.uuid4().hex[:8]
    prefix = f"dltest_{session_tag}_gw{suffix}"
    namespace = f"test-{session_tag}-{suffix}"
    database_url = (
        make_url(pg_server_url)
        .set(drivername="postgresql+asyncpg", database=prefix)
        .render_as_string(hide_password=False)
    )
    env = base_env(tmp_path / "var") | {
        "DESKLINE_DATABASE_URL": database_url,
        "DESKLINE_BUS_URL": amqp_url,
        "DESKLINE_REDIS_URL": redis_url,
        "DESKLINE_NAMESPACE": namespace,
    }
    try:
        yield RealInfra(env, prefix, namespace)
    finally:
        # Processes first, so nothing reconnects or re-declares while we clean.
        children.stop_all()
        run_async(lambda: drop_databases(pg_server_url, prefix))
        if shutil.which("rabbitmqctl"):
            run_async(lambda: delete_namespace(amqp_url, namespace))
        else:
            print(f"note: rabbitmqctl not found; queues of namespace {namespace} remain")
        client = redis.Redis.from_url(redis_url)
        try:
            keys = list(client.scan_iter(match=f"{namespace}:*"))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0, trust_env=False) as client:
        yield client


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
