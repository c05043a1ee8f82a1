"""Services as separate OS processes, the way they are deployed: the `deskline` console
script per service (or `deskline run` for all in one), the real nginx gateway in front, each
child in its own process group with its output kept for the report of a failed test."""

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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from kit.db.engine import drop_database

SERVICES = ("identity", "tickets", "notifications", "automation", "timetracking", "integrations")
REPO_ROOT = Path(__file__).resolve().parents[2]
GATEWAY_CONFIG_DIR = REPO_ROOT / "deploy" / "gateway"
WAIT_SECONDS = 60.0
STOP_SECONDS = 15.0


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
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        pool.submit(lambda: asyncio.run(coroutine_factory())).result(timeout=WAIT_SECONDS)
    finally:
        # Never wait for a worker stuck on a server that stopped answering: the bound
        # above is the test's verdict, and the daemon thread dies with the run.
        pool.shutdown(wait=False, cancel_futures=True)


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


@dataclass(frozen=True)
class RealInfra:
    env: dict[str, str]
    database_prefix: str
    namespace: str


async def serve_quietly(service: str, port: int, env: dict[str, str]) -> asyncio.subprocess.Process:
    """`deskline serve SERVICE` with its output discarded: for benchmarks, where a log line
    per request would be measured too and nobody reads a report."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kit.launcher.cli",
        "serve",
        service,
        "--port",
        str(port),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
