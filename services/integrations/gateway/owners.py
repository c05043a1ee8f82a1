"""Who is calling the gateway, and calling the owning services on their behalf.

Authentication: a user's access token is verified locally like in every service. An API
key (`X-API-Key`, or a Bearer token starting with `dlk_`) is exchanged at identity for a
short-lived access token of the person who created the key, capped by the key's scopes
(`POST /api-keys/token`), reused for `api_key_cache_seconds`, so a revoked key stops working
within that time. A key therefore does what its person may do, as that person: a ticket it
creates, a comment it posts, time it logs are theirs.

Actions, searches and dropdown lists are forwarded to the service owning the data, over
its HTTP API, with that same access token. Why HTTP rather than commands on the bus: a tool
needs the created object (its number, its id) in the response, and the owner's own
validation errors (a missing required field, a status the workflow refuses) as they are;
the owner authorises the caller exactly as it authorises its own users, so the gateway
never widens anyone's rights. The write is still durable: the owner commits it with its
events through its outbox before it answers.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
from fastapi import Depends, Request

from kit import context
from kit.auth import Principal, TokenVerifier
from kit.http.problems import Problem
from kit.runtime import ServiceRuntime
from services.integrations.settings import IntegrationsSettings

API_KEY_PREFIX = "dlk_"


@dataclass(frozen=True)
class Caller:
    principal: Principal
    token: str
    """The access token forwarded to owning services."""


class Owners:
    def __init__(self, runtime: ServiceRuntime, settings: IntegrationsSettings) -> None:
        self._runtime = runtime
        self._settings = settings
        base = settings.api_url or f"http://{runtime.settings.host}:{runtime.settings.port}"
        self._base = base.rstrip("/")
        self._client: httpx.AsyncClient | None = None
        self._exchanged: dict[str, tuple[str, float]] = {}

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=30, trust_env=False)
        return self._client

    async def token_for_key(self, secret: str) -> str:
        digest = hashlib.sha256(secret.encode()).hexdigest()
        cached = self._exchanged.get(digest)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        try:
            response = await self.client.post(
                f"{self._base}/api/identity/api-keys/token", headers={"x-api-key": secret}
            )
        except httpx.HTTPError as error:
            raise Problem(503, "identity-unavailable", "API keys cannot be checked now.") from error
        if response.status_code == 401:
            raise Problem(401, "invalid-api-key", "The API key is not valid or was revoked.")
        if response.status_code != 200:
            raise Problem(503, "identity-unavailable", "API keys cannot be checked now.")
        document = response.json()
        token = str(document["access_token"])
        lifetime = min(self._settings.api_key_cache_seconds, float(document["expires_in"]) - 30)
        if len(self._exchanged) > 10_000:
            self._exchanged.clear()
        self._exchanged[digest] = (token, time.monotonic() + max(lifetime, 0))
        return token

    async def call(
        self,
        caller: Caller,
        method: str,
        service: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """The owner's answer as JSON; its problem (status and body) relayed when it refuses."""
        url = f"{self._base}/api/{service}{path}"
        headers = {"authorization": f"Bearer {caller.token}"}
        correlation = context.current().correlation_id
        if correlation:
            headers["x-correlation-id"] = correlation
        try:
            response = await self.client.request(
                method, url, json=json, params=_clean(params), headers=headers
            )
        except httpx.HTTPError as error:
            raise Problem(
                503, "owner-unavailable", f"The {service} service cannot be reached now."
            ) from error
        if response.status_code >= 400:
            raise _relayed(response, service)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()


def _clean(params: dict[str, Any] | None) -> dict[str, Any] | None:
    if params is None:
        return None
    return {k: v for k, v in params.items() if v is not None}


def _relayed(response: httpx.Response, service: str) -> Problem:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    kind = str(body.get("type", "")).rsplit("/", 1)[-1] or "owner-refused"
    extensions = {k: v for k, v in body.items() if k in ("errors", "missing_fields", "fields")}
    status = response.status_code if response.status_code < 500 else 502
    detail = body.get("detail") or f"The {service} service answered {response.status_code}."
    return Problem(status, kind, str(detail), **extensions)


def owners(request: Request) -> Owners:
    found: Owners = request.app.state.owners
    return found


async def authenticated_caller(request: Request) -> Caller:
    runtime: ServiceRuntime = request.app.state.runtime
    api_key = request.headers.get("x-api-key")
    header = request.headers.get("authorization", "")
    scheme, _, bearer = header.partition(" ")
    bearer = bearer.strip() if scheme.lower() == "bearer" else ""
    if not api_key and bearer.startswith(API_KEY_PREFIX):
        api_key = bearer
    if api_key:
        token = await owners(request).token_for_key(api_key)
    elif bearer:
        token = bearer
    else:
        raise Problem(
            401,
            "unauthenticated",
            "Send an API key as `X-API-Key` (or Bearer), or an access token as Bearer.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    verifier: TokenVerifier = runtime.token_verifier
    principal = await verifier.verify(token)
    if principal.is_client:
        raise Problem(403, "staff-only", "The integrations gateway serves staff and API keys.")
    context.bind(actor=principal.subject, workspace=principal.workspace_id)
    return Caller(principal, token)


CallerDep = Annotated[Caller, Depends(authenticated_caller)]
OwnersDep = Annotated[Owners, Depends(owners)]


def require_scope(principal: Principal, scope: str) -> None:
    """API keys carry scopes (read < write < admin); users are limited by their role. The
    owning services cap a key by its scopes as well; checking here first refuses before
    anything is forwarded."""
    if not principal.has_scope(scope):
        raise Problem(403, "insufficient-scope", f"This API key lacks the `{scope}` scope.")


def require_admin(principal: Principal) -> None:
    require_scope(principal, "admin")
    if not principal.is_admin:
        raise Problem(403, "admin-only", "Only workspace admins manage webhook endpoints.")
