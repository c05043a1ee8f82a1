"""`deskline admin …`: operator commands of the identity service."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import async_sessionmaker

from kit.db.engine import create_engine
from kit.db.migrations import upgrade
from kit.http.problems import Problem
from kit.settings import Settings
from kit.uow import UnitOfWork
from services.identity.auth.service import Passwords
from services.identity.module import module
from services.identity.settings import get_settings
from services.identity.workspaces import service
from services.identity.workspaces.schemas import WorkspaceCreate

app = typer.Typer(help="Administration: workspaces and their first admins.", no_args_is_help=True)


@app.command("create-workspace")
def create_workspace(
    name: Annotated[str, typer.Option(help="Display name, e.g. 'Acme Agency'.")],
    slug: Annotated[str, typer.Option(help="URL handle: lowercase letters, digits, dashes.")],
    admin_email: Annotated[str, typer.Option(help="E-mail of the first admin.")],
    admin_name: Annotated[str, typer.Option(help="Display name of the first admin.")],
    admin_password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="DESKLINE_ADMIN_PASSWORD",
            help="At least 10 characters.",
        ),
    ],
    time_zone: Annotated[str, typer.Option(help="IANA time zone.")] = "UTC",
) -> None:
    """Create a workspace with its first admin (the events leave with the next relay run)."""
    try:
        body = WorkspaceCreate(
            name=name,
            slug=slug,
            time_zone=time_zone,
            admin={"email": admin_email, "display_name": admin_name, "password": admin_password},
        )
    except ValidationError as error:
        for problem in error.errors():
            where = ".".join(str(part) for part in problem["loc"])
            typer.echo(f"error: {where}: {problem['msg']}", err=True)
        raise typer.Exit(2) from error
    settings = Settings()
    url = settings.database_url_for("identity")
    upgrade(module.migrations, url)
    try:
        created = asyncio.run(_create(url, body))
    except Problem as problem:
        typer.echo(f"error: {problem.detail}", err=True)
        raise typer.Exit(1) from problem
    typer.echo(json.dumps(created))


async def _create(url: str, body: WorkspaceCreate) -> dict[str, str]:
    engine = create_engine(url)
    try:
        async with UnitOfWork(async_sessionmaker(engine, expire_on_commit=False)) as uow:
            workspace, admin = await service.create_workspace(uow, Passwords(get_settings()), body)
            await uow.commit()
            return {"workspace_id": workspace.id, "slug": workspace.slug, "admin_user_id": admin.id}
    finally:
        await engine.dispose()
