"""The whole system as an agency and its client use it (tests/e2e/agency.py), three ways:

- every service in its own process (`deskline serve <service>`) behind the real nginx
  gateway, on PostgreSQL, Redis and RabbitMQ;
- `deskline run`: one process on embedded defaults (SQLite, in-memory bus), the same script
  with only the base URL and the mail ports changed;
- the split deployment again while it is disturbed: every service process restarted, one
  at a time, between the steps, and RabbitMQ stopped for 20 s while staff keep writing.
  Nothing may be lost and nothing mailed or delivered twice.

Mail is real SMTP both ways (the listener of the notifications process, and an aiosmtpd
mailbox the system sends to); webhooks are real HTTP to a local receiver.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller

from tests.e2e.agency import AgencyScenario, Deployment
from tests.notifications.sink import SmtpSink
from tests.support.buses import rabbitmqctl
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
    run_async,
    wait_for_http,
)
from tests.support.receiver import Receiver, receiver_in_thread

pytestmark = pytest.mark.e2e

INBOUND_DOMAIN = "mail.northwind.test"
BROKER_OUTAGE_SECONDS = 20.0


def mail_env(mailbox_port: int, listen_port: int) -> dict[str, str]:
    """Where the system sends mail and listens for it; quick polling so the story does not
    wait on defaults tuned for production (1 s), nothing else."""
    return {
        "DESKLINE_NOTIFICATIONS_INBOUND_DOMAIN": INBOUND_DOMAIN,
        "DESKLINE_NOTIFICATIONS_SMTP_URL": f"smtp://127.0.0.1:{mailbox_port}?starttls=false",
        "DESKLINE_NOTIFICATIONS_SMTP_LISTEN_PORT": str(listen_port),
        "DESKLINE_NOTIFICATIONS_SENDER_POLL_INTERVAL": "0.2",
        "DESKLINE_NOTIFICATIONS_INBOUND_POLL_INTERVAL": "0.2",
        "DESKLINE_NOTIFICATIONS_RETRY_BASE_SECONDS": "1",
        "DESKLINE_NOTIFICATIONS_RETRY_MAX_SECONDS": "3",
        "DESKLINE_INTEGRATIONS_WEBHOOK_ALLOW_NETWORKS": '["127.0.0.1/32"]',
        "DESKLINE_INTEGRATIONS_DISPATCHER_POLL_SECONDS": "0.2",
        "DESKLINE_IDENTITY_ARGON2_TIME_COST": "1",
        "DESKLINE_IDENTITY_ARGON2_MEMORY_KIB": "64",
        "DESKLINE_OUTBOX_POLL_INTERVAL": "0.2",
        "DESKLINE_RETRY_DELAYS": "[0.5, 1, 2, 5]",
        "DESKLINE_CONSUMER_WATCHDOG_INTERVAL": "1",
        "DESKLINE_BUS_CONNECT_BACKOFF_MAX": "2",
    }


@pytest.fixture
def mailbox() -> Iterator[SmtpSink]:
    """A real SMTP server receiving everything the system sends."""
    sink = SmtpSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiver_in_thread() as started:
        yield started


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30.0, trust_env=False) as client:
        yield client


@dataclass
class SplitSystem:
    """One `deskline serve` process per service and nginx in front of them."""

    children: Children
    env: dict[str, str]
    cwd: Path
    ports: dict[str, int]
    http: httpx.Client
    servers: dict[str, Child] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}/api"

    def start(self, service: str) -> None:
        port = str(self.ports[service])
        argv = [deskline_executable(), "serve", service, "--host", "127.0.0.1", "--port", port]
        self.servers[service] = child = self.children.start(service, argv, self.env, self.cwd)
        wait_for_http(self.http, f"http://127.0.0.1:{port}/api/{service}/readyz", child)

    def restart(self, service: str) -> None:
        """SIGTERM (a graceful stop: in-flight work finishes or is redelivered), then again."""
        self.servers[service].stop()
        self.start(service)


@pytest.fixture
def split_system(
    children: Children,
    real_infra: RealInfra,
    http: httpx.Client,
    mailbox: SmtpSink,
    tmp_path: Path,
) -> SplitSystem:
    ports = {name: free_port() for name in (*SERVICES, "gateway", "smtp")}
    identity = f"http://127.0.0.1:{ports['identity']}/api/identity"
    env = (
        real_infra.env
        | mail_env(mailbox.port, ports["smtp"])
        | {
            "DESKLINE_JWT_PUBLIC_KEY_URL": f"{identity}/.well-known/jwks.json",
            # Integrations forwards actions and key exchanges to the owners through the gateway.
            "DESKLINE_INTEGRATIONS_API_URL": f"http://127.0.0.1:{ports['gateway']}",
        }
    )
    children.run("migrate", [deskline_executable(), "migrate"], env, tmp_path)
    system = SplitSystem(children, env, tmp_path, ports, http)
    for service in SERVICES:
        system.start(service)
    prefix = tmp_path / "gateway"
    config = render_gateway(prefix, ports["gateway"], {s: ports[s] for s in SERVICES})
    nginx = [nginx_executable(), "-p", f"{prefix}/", "-c", str(config)]
    nginx += ["-g", f"daemon off; pid {prefix}/nginx.pid;"]
    gateway = children.start("nginx", nginx, base_env(tmp_path / "var"), tmp_path)
    wait_for_http(http, f"http://127.0.0.1:{ports['gateway']}/healthz", gateway)
    return system


def split_deployment(system: SplitSystem, mailbox: SmtpSink, receiver: Receiver) -> Deployment:
    return Deployment(
        api=system.api,
        smtp_host="127.0.0.1",
        smtp_port=system.ports["smtp"],
        inbound_domain=INBOUND_DOMAIN,
        mailbox=mailbox,
        receiver=receiver,
    )


def test_the_agency_story_across_separate_processes_behind_the_gateway(
    split_system: SplitSystem, mailbox: SmtpSink, receiver: Receiver, http: httpx.Client
) -> None:
    AgencyScenario(split_deployment(split_system, mailbox, receiver), http).run()


def test_the_same_story_in_one_process_on_embedded_defaults(
    children: Children, mailbox: SmtpSink, receiver: Receiver, http: httpx.Client, tmp_path: Path
) -> None:
    port, smtp_port = free_port(), free_port()
    env = base_env(tmp_path / "var") | mail_env(mailbox.port, smtp_port)
    argv = [deskline_executable(), "run", "--host", "127.0.0.1", "--port", str(port)]
    child = children.start("deskline-run", argv, env, tmp_path)
    for service in SERVICES:
        wait_for_http(http, f"http://127.0.0.1:{port}/api/{service}/readyz", child)
    deployment = Deployment(
        api=f"http://127.0.0.1:{port}/api",
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        inbound_domain=INBOUND_DOMAIN,
        mailbox=mailbox,
        receiver=receiver,
    )
    AgencyScenario(deployment, http).run()


@dataclass
class Disturbances:
    """Restart one service after each step, in turn; stop the broker before step 3 (staff
    assign, the vendor answers, staff write a note: all while RabbitMQ is away) and bring it
    back 20 s later from a timer, whatever the story is doing then."""

    system: SplitSystem
    restarted: list[str] = field(default_factory=list)
    outage: threading.Thread | None = None
    outage_error: list[BaseException] = field(default_factory=list)

    def before_step(self, step: int) -> None:
        if step == 3:
            run_async(lambda: rabbitmqctl("stop_app"))
            self.outage = threading.Thread(target=self._restore_broker_later, daemon=True)
            self.outage.start()
            # The services have noticed (not ready), and yet step 3's writes must succeed.
            tickets = f"http://127.0.0.1:{self.system.ports['tickets']}/api/tickets/readyz"
            wait_for_http(
                self.system.http,
                tickets,
                self.system.servers["tickets"],
                ready=lambda response: response.status_code == 503,
                timeout=BROKER_OUTAGE_SECONDS / 2,
            )

    def _restore_broker_later(self) -> None:
        time.sleep(BROKER_OUTAGE_SECONDS)
        try:
            run_async(lambda: rabbitmqctl("start_app"))
            run_async(lambda: rabbitmqctl("await_startup"))
        except BaseException as error:
            self.outage_error.append(error)

    def between(self, step: int) -> None:
        if step == 3 and self.outage is not None:
            self.outage.join()
            assert not self.outage_error, self.outage_error
        if step <= len(SERVICES):  # steps 1-6: identity, tickets, … integrations in turn
            service = SERVICES[step - 1]
            self.system.restart(service)
            self.restarted.append(service)


@pytest.mark.reliability
def test_the_story_survives_restarts_of_every_service_and_a_broker_outage(
    split_system: SplitSystem, mailbox: SmtpSink, receiver: Receiver, http: httpx.Client
) -> None:
    disturbances = Disturbances(split_system)
    deployment = split_deployment(split_system, mailbox, receiver)
    deployment.between = disturbances.between
    deployment.before_step = disturbances.before_step
    try:
        scenario = AgencyScenario(deployment, http)
        agency = scenario.run()
    finally:
        if disturbances.outage is not None:
            disturbances.outage.join()
            run_async(lambda: rabbitmqctl("start_app"))
    assert disturbances.restarted == list(SERVICES), "every process restarted during the story"
    # A moment after the story, still nothing more: no mail or webhook sent a second time.
    time.sleep(3)
    scenario.nothing_sent_twice(agency)
