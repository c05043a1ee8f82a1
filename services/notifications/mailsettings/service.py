"""Changing a workspace's mail settings and templates (admins only, checked at the edge)."""

from __future__ import annotations

from datetime import UTC, datetime

from kit.http.problems import Problem
from kit.uow import UnitOfWork
from services.notifications.keys import Keys
from services.notifications.mailsettings import repository
from services.notifications.mailsettings.schemas import MailSettingsUpdate, TemplateUpdate
from services.notifications.models import MailSettings, MailTemplate
from services.notifications.outbound.templates import KINDS, Source, check, sample_context


async def current(uow: UnitOfWork, workspace_id: str) -> MailSettings:
    """The workspace's row, or the defaults (not stored until something changes)."""
    row = await repository.settings(uow.session, workspace_id)
    return row or MailSettings(
        workspace_id=workspace_id,
        mail_on_comment=True,
        mail_on_status_change=True,
        acknowledge_requests=True,
        branding={},
        smtp_security="starttls",
    )


async def update(
    uow: UnitOfWork, keys: Keys, workspace_id: str, body: MailSettingsUpdate
) -> MailSettings:
    row = await repository.settings(uow.session, workspace_id)
    if row is None:
        row = await current(uow, workspace_id)
        uow.session.add(row)
    changes = body.model_dump(exclude_unset=True)
    password = changes.pop("smtp_password", None)
    if "branding" in changes:
        changes["branding"] = body.branding.model_dump(mode="json") if body.branding else {}
    for name, value in changes.items():
        setattr(row, name, value)
    if "smtp_password" in body.model_fields_set:
        # Stored encrypted with the service's key; never returned by the API.
        row.smtp_password_encrypted = keys.encrypt(password) if password else None
    if row.smtp_host is None:
        row.smtp_username = row.smtp_password_encrypted = row.from_address = None
    elif row.smtp_username and not row.smtp_password_encrypted:
        raise Problem(422, "smtp-password-required", "A username needs its password.")
    await uow.session.flush()
    return row


def _known(kind: str) -> None:
    if kind not in KINDS:
        raise Problem(404, "not-found", f"No template kind {kind!r}; kinds: {', '.join(KINDS)}.")


async def save_template(
    uow: UnitOfWork, workspace_id: str, kind: str, body: TemplateUpdate
) -> MailTemplate:
    """Refused with the template's error when it does not render (sandboxed, with the
    values every mail of the kind has)."""
    _known(kind)
    error = check(Source(body.subject, body.text, body.html), sample_context())
    if error is not None:
        raise Problem(422, "template-invalid", f"The template does not render: {error}")
    row = await repository.template(uow.session, workspace_id, kind)
    if row is None:
        row = MailTemplate(workspace_id=workspace_id, kind=kind)
        uow.session.add(row)
    row.subject, row.text, row.html = body.subject, body.text, body.html
    row.updated_at = datetime.now(UTC)
    await uow.session.flush()
    return row


async def reset_template(uow: UnitOfWork, workspace_id: str, kind: str) -> None:
    _known(kind)
    row = await repository.template(uow.session, workspace_id, kind)
    if row is not None:
        await uow.session.delete(row)
