"""Settings of the notifications service alone, read from `DESKLINE_NOTIFICATIONS_*`.

Process-wide settings (bus, database, Redis, `var_dir`) are the kit's `Settings`.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class NotificationsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DESKLINE_NOTIFICATIONS_", extra="ignore")

    # --- addresses ---
    inbound_domain: str = Field(
        default="deskline.localhost",
        description="Domain of the inbound addresses (`<workspace>[+<project>]@<domain>`), "
        "of reply addresses and of the Message-IDs this service mints.",
    )
    from_address: str | None = Field(
        default=None, description="Sender of system mail; default `notifications@<domain>`."
    )
    secret: str | None = Field(
        default=None,
        description="Signs reply tokens and encrypts stored SMTP passwords; default: a random "
        "key kept in `<var_dir>/notifications.secret`.",
    )

    public_url: str | None = Field(
        default=None,
        description="This service's API as other services reach it (for the links to inbound "
        "attachments); default `http://<host>:<port>/api/notifications` of this process.",
    )

    # --- mail out ---
    smtp_url: str | None = Field(
        default=None,
        description="System SMTP server, `smtp://[user:pass@]host[:port][?starttls=true]` or "
        "`smtps://…`; unset: mail is dropped as .eml files under `<var_dir>/mail`.",
    )
    sender_poll_interval: float = Field(default=1.0, gt=0)
    sender_batch: int = Field(default=200, ge=1, description="Mails leased per batch.")
    sender_concurrency: int = Field(default=8, ge=1)
    retry_base_seconds: float = Field(default=5.0, gt=0)
    retry_max_seconds: float = Field(default=600.0, gt=0)
    max_attempts: int = Field(default=30, ge=1, description="Then a mail is recorded failed.")
    smtp_timeout: float = Field(default=30.0, gt=0)

    # --- mail in ---
    smtp_listen: bool = Field(default=True, description="Run the inbound SMTP listener.")
    smtp_listen_host: str = "127.0.0.1"
    smtp_listen_port: int = Field(default=2525, description="Port of the inbound SMTP listener.")
    tls_cert_file: Path | None = Field(default=None, description="Offer STARTTLS with this.")
    tls_key_file: Path | None = None
    max_message_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    max_attachments: int = Field(default=100, ge=0, description="Attachments kept per mail.")
    inbound_poll_interval: float = Field(default=1.0, gt=0)
    inbound_http_secret: str | None = Field(
        default=None,
        description="Shared secret a mail provider sends as `X-Inbound-Secret` when posting "
        "raw MIME; unset: only workspace admins may post.",
    )
    rate_limit_mails: int = Field(default=30, ge=1, description="Mails per sender per window.")
    rate_limit_window_seconds: int = Field(default=600, ge=1)

    @property
    def system_from(self) -> str:
        return self.from_address or f"notifications@{self.inbound_domain}"

    def secret_key(self, var_dir: Path) -> str:
        if self.secret:
            return self.secret
        path = var_dir / "notifications.secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text().strip()

    # --- in-app feed ---
    feed_forward_after_minutes: int = Field(
        default=5, ge=1, description="Unread notices are mailed after this (per-user preference)."
    )
    feed_push_interval: float = Field(
        default=0.2, gt=0, description="Seconds between looks for notices not yet pushed live."
    )
    feed_forward_interval: float = Field(
        default=10.0, gt=0, description="Seconds between looks for unread notices to mail."
    )
    feed_heartbeat_seconds: float = Field(
        default=15.0, gt=0, description="Live stream heartbeat (keeps proxies from closing it)."
    )


@lru_cache(maxsize=1)
def get_settings() -> NotificationsSettings:
    return NotificationsSettings()
