"""Shapes of the mail-settings and template API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

Security = Literal["none", "starttls", "tls"]


class Branding(BaseModel):
    model_config = ConfigDict(extra="forbid")

    colour: str = Field(default="#2f5bea", pattern=r"^#[0-9a-fA-F]{6}$")
    logo_url: HttpUrl | None = None
    header: str = Field(default="", max_length=2000)
    footer: str = Field(default="", max_length=2000)


class MailSettings(BaseModel):
    mail_on_comment: bool
    mail_on_status_change: bool
    acknowledge_requests: bool
    branding: Branding
    smtp_host: str | None
    smtp_port: int | None
    smtp_security: Security
    smtp_username: str | None
    smtp_password_set: bool = Field(description="The password itself is never shown again.")
    from_address: str | None
    from_name: str | None
    inbound_address: str | None = Field(description="Where clients mail new requests.")


class MailSettingsUpdate(BaseModel):
    """Only what is sent changes; `smtp_host: null` returns to the system's server."""

    model_config = ConfigDict(extra="forbid")

    mail_on_comment: bool | None = None
    mail_on_status_change: bool | None = None
    acknowledge_requests: bool | None = None
    branding: Branding | None = None
    smtp_host: str | None = Field(default=None, min_length=1, max_length=255)
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_security: Security | None = None
    smtp_username: str | None = Field(default=None, max_length=255)
    smtp_password: str | None = Field(default=None, max_length=1000)
    from_address: str | None = Field(
        default=None, max_length=320, pattern=r"^[^@\s<>]{1,64}@[^@\s<>]{1,255}$"
    )
    from_name: str | None = Field(default=None, max_length=200, pattern=r"^[^\r\n]*$")


class Template(BaseModel):
    kind: str
    subject: str
    text: str
    html: str
    customised: bool
    updated_at: datetime | None = None


class TemplateUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=2000)
    text: str = Field(min_length=1, max_length=100_000)
    html: str = Field(min_length=1, max_length=200_000)


class Preview(BaseModel):
    subject: str
    text: str
    html: str
