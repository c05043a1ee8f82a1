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
        ge=30,
        le=600,
        description="Lifetime of access tokens. A deactivated user's tokens stop working at "
        "every service within this time (identity itself refuses them at once).",
    )
    refresh_token_ttl_days: int = Field(default=30, ge=1)
    invitation_ttl_hours: int = Field(default=72, ge=1)
    reset_ttl_minutes: int = Field(default=60, ge=5)
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Base URL of the web app, for the links mailed in invitations.",
    )
    open_signup: bool = Field(default=True, description="Anyone may create a workspace.")
    login_attempts_per_account: int = Field(default=5, ge=1)
    login_attempts_per_ip: int = Field(default=30, ge=1)
    login_window_seconds: int = Field(default=900, ge=1)
    signing_key_pem: str | None = Field(
        default=None,
        description="Ed25519 private key (PEM). Unset: one is generated and kept in the database.",
    )
    # Argon2id cost; tests lower it, production keeps the library's defaults.
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=8)


@lru_cache(maxsize=1)
def get_settings() -> IdentitySettings:
    return IdentitySettings()
