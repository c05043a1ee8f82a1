"""Mail settings and templates of the caller's workspace (admins)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from kit.http.problems import Problem
from services.notifications.dependencies import Caller, UoW, require_admin
from services.notifications.directory import repository as directory
from services.notifications.mailsettings import repository, service
from services.notifications.mailsettings.schemas import (
    Branding,
    MailSettings,
    MailSettingsUpdate,
    Preview,
    Template,
    TemplateUpdate,
)
from services.notifications.models import MailSettings as MailSettingsRow
from services.notifications.outbound.templates import (
    KINDS,
    Source,
    check,
    default_source,
    render,
    sample_context,
)
from services.notifications.parts import mail_parts

router = APIRouter(tags=["mail settings"])


async def settings_out(request: Request, uow: UoW, row: MailSettingsRow) -> MailSettings:
    workspace = await directory.workspace(uow.session, row.workspace_id)
    domain = mail_parts(request.app.state.runtime).settings.inbound_domain
    return MailSettings(
        mail_on_comment=row.mail_on_comment,
        mail_on_status_change=row.mail_on_status_change,
        acknowledge_requests=row.acknowledge_requests,
        branding=Branding.model_validate(row.branding or {}),
        smtp_host=row.smtp_host,
        smtp_port=row.smtp_port,
        smtp_security=row.smtp_security,
        smtp_username=row.smtp_username,
        smtp_password_set=bool(row.smtp_password_encrypted),
        from_address=row.from_address,
        from_name=row.from_name,
        inbound_address=f"{workspace.slug}@{domain}" if workspace and workspace.slug else None,
    )


@router.get("/mail/settings", response_model=MailSettings)
async def get_settings(request: Request, caller: Caller, uow: UoW) -> MailSettings:
    require_admin(caller)
    return await settings_out(request, uow, await service.current(uow, caller.workspace_id))


@router.patch("/mail/settings", response_model=MailSettings)
async def update_settings(
    request: Request, body: MailSettingsUpdate, caller: Caller, uow: UoW
) -> MailSettings:
    require_admin(caller)
    keys = mail_parts(request.app.state.runtime).keys
    row = await service.update(uow, keys, caller.workspace_id, body)
    out = await settings_out(request, uow, row)
    await uow.commit()
    return out


@router.get("/mail/templates", response_model=list[Template])
async def list_templates(caller: Caller, uow: UoW) -> list[Template]:
    require_admin(caller)
    own = await repository.templates(uow.session, caller.workspace_id)
    out = []
    for kind in KINDS:
        row = own.get(kind)
        if row is not None:
            out.append(
                Template(
                    kind=kind,
                    subject=row.subject,
                    text=row.text,
                    html=row.html,
                    customised=True,
                    updated_at=row.updated_at,
                )
            )
        else:
            source = default_source(kind)
            out.append(
                Template(
                    kind=kind,
                    subject=source.subject,
                    text=source.text,
                    html=source.html,
                    customised=False,
                )
            )
    return out


@router.put("/mail/templates/{kind}", response_model=Template)
async def save_template(kind: str, body: TemplateUpdate, caller: Caller, uow: UoW) -> Template:
    require_admin(caller)
    row = await service.save_template(uow, caller.workspace_id, kind, body)
    await uow.commit()
    return Template(
        kind=kind,
        subject=row.subject,
        text=row.text,
        html=row.html,
        customised=True,
        updated_at=row.updated_at,
    )


@router.delete("/mail/templates/{kind}", status_code=204)
async def reset_template(kind: str, caller: Caller, uow: UoW) -> Response:
    """Back to the built-in template."""
    require_admin(caller)
    await service.reset_template(uow, caller.workspace_id, kind)
    await uow.commit()
    return Response(status_code=204)


@router.post("/mail/templates/{kind}/preview", response_model=Preview)
async def preview_template(kind: str, body: TemplateUpdate, caller: Caller, uow: UoW) -> Preview:
    """Render a template (before saving it) with example values and the workspace's branding."""
    require_admin(caller)
    if kind not in KINDS:
        raise Problem(404, "not-found", f"No template kind {kind!r}.")
    source = Source(body.subject, body.text, body.html)
    error = check(source, sample_context())
    if error is not None:
        raise Problem(422, "template-invalid", f"The template does not render: {error}")
    context = sample_context()
    context["branding"] = dict((await service.current(uow, caller.workspace_id)).branding or {})
    rendered = render(source, context)
    return Preview(subject=rendered.subject, text=rendered.text, html=rendered.html)
