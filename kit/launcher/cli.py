"""`deskline`: run everything, serve one service, migrate, list the queues."""

from __future__ import annotations

import asyncio
import sys
from importlib.metadata import entry_points
from typing import Annotated

import typer

from kit.db.migrations import upgrade
from kit.launcher import loop
from kit.launcher.host import Host
from kit.launcher.registry import UnknownService, load_modules
from kit.logging import configure_logging, get_logger
from kit.settings import SERVICE_NAMES, Settings

app = typer.Typer(
    help="Deskline: helpdesk and project management as independent services.",
    no_args_is_help=True,
    add_completion=False,
)
log = get_logger("deskline")

HostOption = Annotated[str | None, typer.Option(help="Interface to listen on.")]
PortOption = Annotated[int | None, typer.Option(help="HTTP port.")]


def _settings() -> Settings:
    settings = Settings()
    configure_logging(json=settings.log_json, level=settings.log_level)
    return settings


def _modules(names: list[str] | None) -> list:  # type: ignore[type-arg]
    try:
        return load_modules(names)
    except UnknownService as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error


def _migrate(settings: Settings, names: list[str] | None) -> None:
    for module in _modules(names):
        url = settings.database_url_for(module.name)
        upgrade(module.migrations, url)
        log.info("migrated", service=module.name)


def _declare_topology(settings: Settings, names: list[str] | None) -> None:
    """Queues must exist before producers publish, or early events find nobody bound."""
    if not settings.uses_amqp:
        return

    async def declare() -> None:
        host = Host(settings, _modules(names))
        try:
            await asyncio.wait_for(host.bus.declare(), timeout=120)
        finally:
            await host.bus.close()
            for runtime in host.runtimes:
                await runtime.stop()

    asyncio.run(declare())


@app.command()
def migrate(
    service: Annotated[str | None, typer.Argument(help="One service; all when omitted.")] = None,
) -> None:
    """Apply database migrations (creating the database if needed) and declare bus queues."""
    settings = _settings()
    names = [service] if service else None
    _migrate(settings, names)
    _declare_topology(settings, names)


@app.command()
def queues(
    service: Annotated[str | None, typer.Argument(help="One service; all when omitted.")] = None,
) -> None:
    """Each queue a service consumes from on RabbitMQ, and the event types routed to it.

    Beside each `<queue>` the broker holds `<queue>.retry.<n>` (messages waiting out a retry
    delay) and `<queue>.dead` (messages that failed every attempt)."""
    namespace = Settings().namespace
    for module in _modules([service] if service else None):
        for consumer in module.consumers:
            typer.echo(f"{namespace}.{module.name}.{consumer.name}")
            for pattern in consumer.patterns:
                typer.echo(f"    {pattern}")


@app.command()
def run(host: HostOption = None, port: PortOption = None) -> None:
    """Every service in one process on one port, each at /api/<service> (embedded defaults)."""
    settings = _settings()
    _migrate(settings, None)
    _declare_topology(settings, None)
    bind_host, bind_port = host or settings.host, port or settings.port
    settings = settings.model_copy(update={"host": bind_host, "port": bind_port})
    typer.echo(f"Deskline is running at http://{bind_host}:{bind_port}/  (Ctrl+C to stop)")
    for name in SERVICE_NAMES:
        typer.echo(f"  {name:<14} http://{bind_host}:{bind_port}/api/{name}/docs")
    sys.exit(
        loop.run(Host(settings, _modules(None)).serve(bind_host, bind_port), settings.event_loop)
    )


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help=f"One of: {', '.join(SERVICE_NAMES)}.")],
    host: HostOption = None,
    port: PortOption = None,
) -> None:
    """One service alone in this process, at /api/<service> as behind the gateway."""
    settings = _settings()
    bind_host, bind_port = host or settings.host, port or settings.port
    settings = settings.model_copy(update={"host": bind_host, "port": bind_port})
    log.info("serving", service=service, url=f"http://{bind_host}:{bind_port}/api/{service}/")
    sys.exit(
        loop.run(
            Host(settings, _modules([service])).serve(bind_host, bind_port), settings.event_loop
        )
    )


def _add_service_commands() -> None:
    """Sub-commands contributed by services through the `deskline.commands` entry points."""
    for entry in entry_points(group="deskline.commands"):
        app.add_typer(entry.load(), name=entry.name)


_add_service_commands()

if __name__ == "__main__":
    app()
