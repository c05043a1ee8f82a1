"""Where the test servers are: an explicit URL, else the local default port, else a
testcontainer when Docker answers, else a clear failure naming what is missing."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import make_url


class MissingInfrastructure(RuntimeError):
    pass


@dataclass(frozen=True)
class Server:
    kind: str
    env: str
    default_url: str
    port: int
    image: str


POSTGRES = Server(
    "PostgreSQL",
    "DESKLINE_TEST_PG_URL",
    "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
    5432,
    "postgres:16",
)
REDIS = Server("Redis", "DESKLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0", 6379, "redis:7")
RABBITMQ = Server(
    "RabbitMQ",
    "DESKLINE_TEST_AMQP_URL",
    "amqp://guest:guest@127.0.0.1:5672/",
    5672,
    "rabbitmq:3.13",
)

_containers: list[Any] = []


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    result = subprocess.run(["docker", "info"], capture_output=True, timeout=20, check=False)
    return result.returncode == 0


def _container_url(server: Server) -> str:
    if server is POSTGRES:
        from testcontainers.postgres import PostgresContainer

        pg = PostgresContainer(server.image, driver="asyncpg").start()
        _containers.append(pg)
        return str(pg.get_connection_url())
    if server is REDIS:
        from testcontainers.redis import RedisContainer

        redis = RedisContainer(server.image).start()
        _containers.append(redis)
        return f"redis://{redis.get_container_host_ip()}:{redis.get_exposed_port(6379)}/0"
    from testcontainers.rabbitmq import RabbitMqContainer

    rabbit = RabbitMqContainer(server.image).start()
    _containers.append(rabbit)
    host, port = rabbit.get_container_host_ip(), rabbit.get_exposed_port(5672)
    return f"amqp://guest:guest@{host}:{port}/"


def resolve(server: Server) -> str:
    explicit = os.environ.get(server.env)
    if explicit:
        return explicit
    if _port_open("127.0.0.1", server.port):
        return server.default_url
    if _docker_answers():
        return _container_url(server)
    raise MissingInfrastructure(
        f"{server.kind} is not reachable: set {server.env}, start it on 127.0.0.1:{server.port} "
        f"(`make infra` starts an installed one), or provide a Docker engine for testcontainers."
    )


def database_url(server_url: str, database: str) -> str:
    return make_url(server_url).set(database=database).render_as_string(hide_password=False)


def stop_containers() -> None:
    while _containers:
        _containers.pop().stop()
