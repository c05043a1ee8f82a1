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
        default=10.0, gt=0, description="Time a receiver gets to answer one delivery."
    )
    webhook_retry_schedule: list[float] = Field(
        default=[5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 86400.0],
        description="Seconds before each retry after a failed attempt (the first is immediate).",
    )
    webhook_retry_jitter: float = Field(
        default=0.1, ge=0, le=0.5, description="Each delay is spread by up to this fraction."
    )
    webhook_max_retry_after_seconds: float = Field(
        default=86400.0, description="A receiver's `Retry-After` is honoured up to this."
    )
    webhook_disable_after_hours: float = Field(
        default=120.0, gt=0, description="An endpoint failing without a success this long is off."
    )
    webhook_concurrency: int = Field(
        default=4, ge=1, le=64, description="Deliveries in flight per endpoint (per process)."
    )
    webhook_allow_networks: list[str] = Field(
        default=[],
        description="CIDRs webhooks may reach although private (on-premises targets), "
        'e.g. ["10.1.2.0/24"]; everything non-public is refused otherwise.',
    )
    webhook_secret_overlap_hours: float = Field(
        default=24.0, ge=0, description="After a rotation, the old secret also signs this long."
    )
    dispatcher_poll_seconds: float = Field(
        default=0.5, gt=0, description="How often due retries are looked for when nothing wakes."
    )
    api_url: str | None = Field(
        default=None,
        description="Where `/api/<service>` of the other services answers (the gateway's URL); "
        "default: this process's own address, as in the embedded mode.",
    )
    api_key_cache_seconds: float = Field(
        default=60.0, ge=0, description="How long an exchanged API key's token is reused."
    )


@lru_cache(maxsize=1)
def get_settings() -> IntegrationsSettings:
    return IntegrationsSettings()
