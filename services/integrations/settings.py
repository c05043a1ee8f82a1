"""Settings of the integrations service alone, read from `DESKLINE_INTEGRATIONS_*`.

Process-wide settings (bus, database, Redis) are the kit's `Settings`.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class IntegrationsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DESKLINE_INTEGRATIONS_", extra="ignore")

    webhook_timeout_seconds: float = Field(
        default=10.0, description="Time a receiver gets to answer one delivery."
    )


@lru_cache(maxsize=1)
def get_settings() -> IntegrationsSettings:
    return IntegrationsSettings()
