"""Settings of the identity service alone, read from `DESKLINE_IDENTITY_*`.

Process-wide settings (bus, database, Redis) are the kit's `Settings`.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class IdentitySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DESKLINE_IDENTITY_", extra="ignore")

    access_token_ttl_seconds: int = Field(
        default=600,
        description="Lifetime of access tokens; a deactivated user is locked out within it.",
    )


@lru_cache(maxsize=1)
def get_settings() -> IdentitySettings:
    return IdentitySettings()
