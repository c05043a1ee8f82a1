"""Settings of the notifications service alone, read from `DESKLINE_NOTIFICATIONS_*`.

Process-wide settings (bus, database, Redis) are the kit's `Settings`.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class NotificationsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DESKLINE_NOTIFICATIONS_", extra="ignore")

    smtp_listen_port: int = Field(default=2525, description="Port of the inbound SMTP listener.")

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
