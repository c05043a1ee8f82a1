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


@lru_cache(maxsize=1)
def get_settings() -> NotificationsSettings:
    return NotificationsSettings()
