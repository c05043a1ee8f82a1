"""A workspace's own mail: its SMTP server (password encrypted at rest, never shown), its
templates (checked before they are saved) and its branding, in the mail a follower gets."""

from __future__ import annotations

from sqlalchemy import select

from services.notifications.keys import Keys
from services.notifications.models import MailSettings
from tests.conftest import eventually
from tests.notifications.conftest import DOMAIN, MailSystem
from tests.notifications.sink import SmtpSink
from tests.notifications.test_mail_out import comment, follow, new_item
from tests.support.harness import free_port


async def test_a_workspace_mails_through_its_own_server_with_its_templates(
    mail_system: MailSystem,
) -> None:
    system = mail_system
    tenant = await system.sign_up()
    url = f"{system.base}/notifications/mail/settings"
    own = SmtpSink(free_port())
    await own.start()
    try:
        # Credentials are stored encrypted and never shown again.
        saved = await system.client.patch(
            url,
            headers=tenant.auth,
            json={
                "smtp_host": "127.0.0.1",
                "smtp_port": own.port,
                "smtp_security": "none",
                "smtp_username": "acme",
                "smtp_password": "s3cret-pass",
            },
        )
        assert saved.status_code == 200, saved.text
        assert saved.json()["smtp_password_set"] is True
        assert "s3cret-pass" not in saved.text
        assert saved.json()["inbound_address"] == f"{tenant.slug}@{DOMAIN}"
        async with system.runtime("notifications").session_factory() as session:
            row = await session.scalar(
                select(MailSettings).where(MailSettings.workspace_id == tenant.workspace_id)
            )
        assert row is not None and row.smtp_password_encrypted
        assert "s3cret" not in row.smtp_password_encrypted
        assert Keys("test-secret").decrypt(row.smtp_password_encrypted) == "s3cret-pass"
        # This sink takes mail without logging in.
        cleared = await system.client.patch(
            url,
            headers=tenant.auth,
            json={
                "smtp_username": None,
                "smtp_password": None,
                "from_name": "Acme Support",
                "branding": {"colour": "#aa3300", "footer": "Acme Agency, 1 Main St"},
            },
        )
        assert cleared.status_code == 200, cleared.text
        assert cleared.json()["smtp_password_set"] is False

        templates = f"{system.base}/notifications/mail/templates"
        broken = await system.client.put(
            f"{templates}/comment",
            headers=tenant.auth,
            json={"subject": "{{ item.title", "text": "x", "html": "x"},
        )
        assert broken.status_code == 422
        assert broken.headers["content-type"] == "application/problem+json"
        unknown = await system.client.put(
            f"{templates}/nonsense",
            headers=tenant.auth,
            json={"subject": "a", "text": "b", "html": "c"},
        )
        assert unknown.status_code == 404
        custom = await system.client.put(
            f"{templates}/comment",
            headers=tenant.auth,
            json={
                "subject": "News on {{ item.title }}",
                "text": "{{ author }} says: {{ body_text }}",
                "html": '{% extends "layout.html" %}{% block content %}'
                "<p>{{ author }} says:</p>{{ body_html | safe }}{% endblock %}",
            },
        )
        assert custom.status_code == 200, custom.text

        staff = f"sam@{tenant.slug}.test"
        staff_id = await system.invite(tenant, staff, "staff")
        item = await new_item(system, tenant, "Autumn flyer")
        await follow(system, tenant, item["id"], staff_id)
        await comment(system, tenant, item["id"], "<p>Colours <script>x()</script>approved.</p>")

        async def arrived() -> bool:
            return len(own.to(staff)) == 1

        await eventually(arrived, timeout=60)
        [message] = own.to(staff)
        assert message["Subject"] == f"[#{item['number']}] News on Autumn flyer"
        assert str(message["From"]).startswith("Acme Support <")
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        assert text is not None and html is not None
        assert "Ada Admin says: Colours approved." in text.get_content()
        assert "Acme Agency, 1 Main St" in text.get_content()
        assert "#aa3300" in html.get_content() and "<script" not in html.get_content()
        assert system.sink.to(staff) == []  # not through the system's server
    finally:
        await own.stop()


async def test_mail_settings_are_for_admins_only(mail_system: MailSystem) -> None:
    system = mail_system
    tenant = await system.sign_up()
    anonymous = await system.client.get(f"{system.base}/notifications/mail/settings")
    assert anonymous.status_code == 401
    bad = await system.client.patch(
        f"{system.base}/notifications/mail/settings",
        headers=tenant.auth,
        json={"from_name": "Evil\r\nBcc: x@y.test"},
    )
    assert bad.status_code == 422
