"""Request and response bodies of login, tokens and one-time links."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from services.identity.fields import Email

Password = Field(min_length=10, max_length=256, description="At least 10 characters.")


class Strict(BaseModel):
    """Unknown fields are refused (422), so nobody can sneak `role` or `workspace_id` in."""

    model_config = ConfigDict(extra="forbid")


class LoginRequest(Strict):
    workspace: str = Field(min_length=1, max_length=63, description="The workspace's slug.")
    email: Email
    password: str = Field(min_length=1, max_length=256)


class RefreshRequest(Strict):
    refresh_token: str = Field(min_length=10, max_length=200)


class TokenPairOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int = Field(description="Seconds until the access token expires.")


class LinkRequest(Strict):
    """Ask for a password-reset (or account-claim) link to be mailed."""

    workspace: str = Field(min_length=1, max_length=63)
    email: Email


class RedeemLink(Strict):
    token: str = Field(min_length=10, max_length=200)
    password: str = Password
    display_name: str | None = Field(default=None, min_length=1, max_length=200)


class Me(BaseModel):
    user_id: str
    workspace_id: str
    kind: str
    workspace_role: str
    teams: list[str]
    scopes: list[str]
    api_key_id: str | None = Field(
        default=None, description="The API key used, if any; the user is the person it acts for."
    )
    email: str | None = None
    display_name: str | None = None
    client_organisation_id: str | None = None
