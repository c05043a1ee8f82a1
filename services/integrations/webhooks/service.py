"""Endpoints and what is queued for them.

A delivery row is written in the same transaction as whatever caused it (the consumed
event's inbox row, an admin's redelivery), so nothing accepted is lost; the dispatcher
sends it later. Its id is the `webhook-id` of every attempt.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from contracts.envelope import new_event_id
from contracts.integrations import EndpointDisabled
from kit import access
from kit.auth import Principal
from kit.http.problems import Problem
from kit.uow import UnitOfWork
from services.integrations.models import WebhookDelivery, WebhookEndpoint
from services.integrations.settings import IntegrationsSettings
from services.integrations.triggers.catalog import TRIGGERS, Record
from services.integrations.webhooks import handoff, repository, signing, ssrf


def _wake_after_commit(uow: UnitOfWork) -> None:
    """This process's dispatcher looks for due deliveries once the transaction commits."""
    local = handoff.local_dispatcher(uow)
    if local is not None:
        handoff.after_commit(uow, local, [], due_now=True)


Clock = Callable[[], datetime]
"""What "now" is for the delivery schedule: `now` in production; tests step through days."""


def now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return new_event_id()


# --- owners -------------------------------------------------------------------------------


def owner_of(principal: Principal) -> dict[str, Any]:
    return {
        "subject": principal.subject,
        "kind": principal.kind,
        "role": principal.workspace_role,
        "teams": list(principal.teams),
        "scopes": list(principal.scopes),
        "api_key": principal.api_key_id,
    }


def principal_of(endpoint: WebhookEndpoint) -> Principal:
    owner = endpoint.owner
    return Principal(
        subject=str(owner.get("subject", "")),
        workspace_id=endpoint.workspace_id,
        kind=owner.get("kind", "staff"),
        workspace_role=owner.get("role", "member"),
        teams=tuple(owner.get("teams", ())),
        scopes=tuple(owner.get("scopes", ())),
        api_key_id=owner.get("api_key"),
    )


# --- endpoints ----------------------------------------------------------------------------


def check_events(principal: Principal, events: Sequence[str], client_safe: bool) -> list[str]:
    unknown = sorted(set(events) - set(TRIGGERS))
    if unknown:
        raise Problem(
            422,
            "unknown-event",
            f"Unknown events: {', '.join(unknown)}.",
            known=sorted(TRIGGERS),
        )
    if principal.kind not in ("staff", "service") and not client_safe:
        raise Problem(403, "staff-only", "Only staff and API keys receive staff payloads.")
    for key in events:
        if TRIGGERS[key].staff_only and principal.kind not in ("staff", "service"):
            raise Problem(403, "staff-only", f"The `{key}` trigger is for staff only.")
    return sorted(set(events))


async def checked_url(url: str, guard: ssrf.Guard) -> str:
    try:
        await guard.check(url)
    except ssrf.TargetRefused as error:
        raise Problem(422, "url-refused", str(error)) from error
    return url


async def create_endpoint(
    uow: UnitOfWork,
    principal: Principal,
    settings: IntegrationsSettings,
    guard: ssrf.Guard,
    *,
    url: str,
    events: Sequence[str],
    filters: dict[str, str],
    client_safe: bool,
    source: str,
    description: str = "",
    max_concurrency: int | None = None,
) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(
        id=new_id(),
        workspace_id=principal.workspace_id,
        url=await checked_url(url, guard),
        description=description,
        events=check_events(principal, events, client_safe),
        filters=filters,
        client_safe=client_safe,
        source=source,
        owner_id=principal.subject,
        owner=owner_of(principal),
        secret=signing.new_secret(),
        max_concurrency=max_concurrency or settings.webhook_concurrency,
        enabled=True,
        created_at=now(),
    )
    uow.session.add(endpoint)
    return endpoint


def rotate_secret(endpoint: WebhookEndpoint, settings: IntegrationsSettings) -> None:
    """The new secret signs from now on; the old one also signs during the overlap."""
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now() + timedelta(
        hours=settings.webhook_secret_overlap_hours
    )
    endpoint.secret = signing.new_secret()


def disable(uow: UnitOfWork, endpoint: WebhookEndpoint, reason: str) -> None:
    """Switch off and tell the owner (notifications mails them on the event)."""
    if not endpoint.enabled:
        return
    endpoint.enabled = False
    endpoint.disabled_reason = reason[:200]
    owner = endpoint.owner_id
    uow.emit(
        EndpointDisabled(
            workspace_id=UUID(endpoint.workspace_id),
            endpoint_id=UUID(endpoint.id),
            url=endpoint.url,
            owner_user_id=_user_id(owner),
            reason=reason,
        ),
        workspace=endpoint.workspace_id,
        subject=f"webhook-endpoint/{endpoint.id}",
    )


def _user_id(subject: str | None) -> UUID | None:
    try:
        return None if subject is None else UUID(subject)
    except ValueError:
        return None  # the platform's own principal registered it: there is no one to tell


# --- deliveries ---------------------------------------------------------------------------


def body_of(event_name: str, payload: dict[str, Any], at: datetime) -> str:
    """The Standard Webhooks payload shape: type, timestamp, data."""
    document = {"type": event_name, "timestamp": at.isoformat(), "data": payload}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def _delivery_row(
    endpoint: WebhookEndpoint, *, event_name: str, payload: dict[str, Any], source_key: str
) -> dict[str, Any]:
    moment = now()
    return {
        "id": f"msg_{new_id()}",
        "workspace_id": endpoint.workspace_id,
        "endpoint_id": endpoint.id,
        "source_key": source_key[:120],
        "event_name": event_name,
        "body": body_of(event_name, payload, moment),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": moment,
        "created_at": moment,
    }


def queue(
    uow: UnitOfWork,
    endpoint: WebhookEndpoint,
    *,
    event_name: str,
    payload: dict[str, Any],
    source_key: str,
) -> WebhookDelivery:
    delivery = WebhookDelivery(
        **_delivery_row(endpoint, event_name=event_name, payload=payload, source_key=source_key)
    )
    uow.session.add(delivery)
    _wake_after_commit(uow)
    return delivery


def redeliver(uow: UnitOfWork, delivery: WebhookDelivery) -> None:
    """Once more, with the same id, at once (whatever its state)."""
    delivery.status = "pending"
    delivery.next_attempt_at = now()
    delivery.finished_at = None
    _wake_after_commit(uow)


async def fan_out(
    uow: UnitOfWork, workspace_id: str, event_id: str, records: Sequence[Record]
) -> int:
    """Queue one delivery per (record, endpoint subscribed to it whose owner may see it)."""
    if not records:
        return 0
    rows: list[dict[str, Any]] = []
    claimed: list[handoff.Claimed] = []
    roles: dict[tuple[str, str], bool] = {}
    local = handoff.local_dispatcher(uow)
    for endpoint in await _enabled_endpoints(uow, workspace_id):
        for record in records:
            if record.trigger not in endpoint.events or not _matches(endpoint.filters, record):
                continue
            payload = record.client if endpoint.client_safe else record.staff
            if payload is None:
                continue
            if not await _owner_sees(uow, endpoint, record.project_id, roles):
                continue
            row = _delivery_row(
                endpoint,
                event_name=record.trigger,
                payload=payload,
                source_key=f"{event_id}:{record.trigger}",
            )
            lease = local.reserve(endpoint.id, endpoint.max_concurrency) if local else None
            if local is not None and lease is not None:
                # Written claimed: the first attempt starts when this transaction commits.
                row["attempts"], row["next_attempt_at"] = 1, lease
                claimed.append(
                    handoff.Claimed.of(
                        endpoint,
                        delivery_id=row["id"],
                        workspace_id=endpoint.workspace_id,
                        body=row["body"],
                        attempt=1,
                        moment=local.now(),
                    )
                )
            rows.append(row)
    if rows:
        # Rows, not ORM objects: every consumed event may queue some, and a batch of them
        # goes in as one statement.
        await repository.add_deliveries(uow.session, rows)
        if local is not None:
            handoff.after_commit(uow, local, claimed, due_now=len(claimed) < len(rows))
    return len(rows)


async def _enabled_endpoints(uow: UnitOfWork, workspace_id: str) -> list[WebhookEndpoint]:
    """The workspace's endpoints, read once per transaction: the events of a group-committed
    batch mostly belong to few workspaces."""
    key = ("integrations.enabled-endpoints", workspace_id)
    found: list[WebhookEndpoint] | None = uow.memo.get(key)
    if found is None:
        found = await repository.enabled_endpoints(uow.session, workspace_id)
        uow.memo[key] = found
    return found


def _matches(filters: dict[str, str], record: Record) -> bool:
    for name, wanted in filters.items():
        if name == "project_id" and record.project_id != wanted:
            return False
        if name == "type_id" and record.type_id != wanted:
            return False
    return True


async def _owner_sees(
    uow: UnitOfWork,
    endpoint: WebhookEndpoint,
    project_id: str | None,
    roles: dict[tuple[str, str], bool],
) -> bool:
    owner = principal_of(endpoint)
    if owner.holds_admin_role:
        return True  # an admin sees everything, through any of their keys too
    if project_id is None:
        return False  # workspace-wide facts (new clients, unplaced time) are for admins
    key = (endpoint.id, project_id)
    if key not in roles:
        roles[key] = await access.can(uow.session, owner, "view", project_id)
    return roles[key]
