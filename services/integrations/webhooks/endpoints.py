"""Webhook endpoints (admins): register, change, rotate the secret, the delivery log,
manual redelivery and a test ping."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from kit.http.deps import unit_of_work
from kit.http.problems import Problem
from kit.uow import UnitOfWork
from services.integrations.gateway.owners import CallerDep, require_admin
from services.integrations.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from services.integrations.settings import IntegrationsSettings
from services.integrations.webhooks import repository, service, ssrf
from services.integrations.webhooks.schemas import (
    Attempt,
    Delivery,
    DeliveryPage,
    Endpoint,
    EndpointCreate,
    EndpointUpdate,
)

router = APIRouter(prefix="/v1", tags=["webhooks"])
UoW = Annotated[UnitOfWork, Depends(unit_of_work)]


def settings_of(request: Request) -> IntegrationsSettings:
    found: IntegrationsSettings = request.app.state.integrations_settings
    return found


Settings = Annotated[IntegrationsSettings, Depends(settings_of)]


def guard_of(request: Request) -> ssrf.Guard:
    found: ssrf.Guard = request.app.state.url_guard
    return found


Guard = Annotated[ssrf.Guard, Depends(guard_of)]


def endpoint_out(row: WebhookEndpoint) -> Endpoint:
    return Endpoint(
        id=row.id,
        url=row.url,
        description=row.description,
        events=row.events,
        filters=row.filters,
        client_safe=row.client_safe,
        source=row.source,
        secret=row.secret,
        previous_secret_expires_at=row.previous_secret_expires_at,
        max_concurrency=row.max_concurrency,
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        failing_since=row.failing_since,
        created_at=row.created_at,
    )


def delivery_out(row: WebhookDelivery, attempts: list[WebhookAttempt] | None = None) -> Delivery:
    return Delivery(
        id=row.id,
        event_name=row.event_name,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        created_at=row.created_at,
        finished_at=row.finished_at,
        body=json.loads(row.body),
        log=[
            Attempt(
                attempt=a.attempt,
                url=a.url,
                request_headers=a.request_headers,
                status_code=a.status_code,
                response_excerpt=a.response_excerpt,
                error=a.error,
                latency_ms=a.latency_ms,
                attempted_at=a.attempted_at,
            )
            for a in attempts or []
        ],
    )


async def _endpoint(uow: UnitOfWork, caller: CallerDep, endpoint_id: str) -> WebhookEndpoint:
    require_admin(caller.principal)
    row = await repository.endpoint(uow.session, caller.principal.workspace_id, endpoint_id)
    if row is None:
        raise Problem(404, "not-found", "No such webhook endpoint.")
    return row


@router.post("/webhooks", status_code=201, response_model=Endpoint)
async def create_endpoint(
    body: EndpointCreate, caller: CallerDep, uow: UoW, settings: Settings, guard: Guard
) -> Endpoint:
    require_admin(caller.principal)
    row = await service.create_endpoint(
        uow,
        caller.principal,
        settings,
        guard,
        url=body.url,
        events=body.events,
        filters=body.filters.as_dict(),
        client_safe=body.client_safe,
        source="admin",
        description=body.description,
        max_concurrency=body.max_concurrency,
    )
    await uow.commit()
    return endpoint_out(row)


@router.get("/webhooks", response_model=list[Endpoint])
async def list_endpoints(caller: CallerDep, uow: UoW) -> list[Endpoint]:
    require_admin(caller.principal)
    rows = await repository.endpoints(uow.session, caller.principal.workspace_id)
    return [endpoint_out(r) for r in rows]


@router.get("/webhooks/{endpoint_id}", response_model=Endpoint)
async def get_endpoint(endpoint_id: str, caller: CallerDep, uow: UoW) -> Endpoint:
    return endpoint_out(await _endpoint(uow, caller, endpoint_id))


@router.patch("/webhooks/{endpoint_id}", response_model=Endpoint)
async def update_endpoint(
    endpoint_id: str, body: EndpointUpdate, caller: CallerDep, uow: UoW, guard: Guard
) -> Endpoint:
    row = await _endpoint(uow, caller, endpoint_id)
    client_safe = row.client_safe if body.client_safe is None else body.client_safe
    if body.url is not None:
        row.url = await service.checked_url(body.url, guard)
    if body.events is not None or body.client_safe is not None:
        row.events = service.check_events(caller.principal, body.events or row.events, client_safe)
        row.client_safe = client_safe
    if body.filters is not None:
        row.filters = body.filters.as_dict()
    if body.description is not None:
        row.description = body.description
    if body.max_concurrency is not None:
        row.max_concurrency = body.max_concurrency
    if body.enabled is True and not row.enabled:
        row.enabled, row.disabled_reason, row.failing_since = True, None, None
    elif body.enabled is False and row.enabled:
        row.enabled, row.disabled_reason = False, "switched off by an admin"
    await uow.commit()
    return endpoint_out(row)


@router.delete("/webhooks/{endpoint_id}", status_code=204)
async def delete_endpoint(endpoint_id: str, caller: CallerDep, uow: UoW) -> Response:
    row = await _endpoint(uow, caller, endpoint_id)
    await repository.fail_pending(uow.session, row.id, service.now(), "the endpoint was deleted")
    await uow.session.delete(row)
    await uow.commit()
    return Response(status_code=204)


@router.post("/webhooks/{endpoint_id}/rotate-secret", response_model=Endpoint)
async def rotate_secret(
    endpoint_id: str, caller: CallerDep, uow: UoW, settings: Settings
) -> Endpoint:
    """A new secret; the previous one keeps signing (a second signature) during the overlap."""
    row = await _endpoint(uow, caller, endpoint_id)
    service.rotate_secret(row, settings)
    await uow.commit()
    return endpoint_out(row)


@router.get("/webhooks/{endpoint_id}/deliveries", response_model=DeliveryPage)
async def list_deliveries(
    endpoint_id: str,
    caller: CallerDep,
    uow: UoW,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
) -> DeliveryPage:
    row = await _endpoint(uow, caller, endpoint_id)
    workspace = caller.principal.workspace_id
    rows = await repository.deliveries(
        uow.session, workspace, row.id, before=cursor, limit=limit + 1
    )
    page = rows[:limit]
    attempts = await repository.attempts_of(uow.session, workspace, [d.id for d in page])
    by_delivery: dict[str, list[WebhookAttempt]] = {}
    for attempt in attempts:
        by_delivery.setdefault(attempt.delivery_id, []).append(attempt)
    return DeliveryPage(
        items=[delivery_out(d, by_delivery.get(d.id)) for d in page],
        next_cursor=page[-1].id if len(rows) > limit else None,
    )


@router.post(
    "/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=Delivery,
)
async def redeliver(endpoint_id: str, delivery_id: str, caller: CallerDep, uow: UoW) -> Delivery:
    row = await _endpoint(uow, caller, endpoint_id)
    if not row.enabled:
        raise Problem(409, "endpoint-disabled", "Switch the endpoint on before redelivering.")
    found = await repository.delivery(uow.session, row.workspace_id, row.id, delivery_id)
    if found is None:
        raise Problem(404, "not-found", "No such delivery.")
    service.redeliver(uow, found)
    await uow.commit()
    return delivery_out(found)


@router.post("/webhooks/{endpoint_id}/ping", status_code=202, response_model=Delivery)
async def ping(endpoint_id: str, caller: CallerDep, uow: UoW) -> Delivery:
    """A signed `webhook.ping` through the normal delivery path; see it in the log."""
    row = await _endpoint(uow, caller, endpoint_id)
    if not row.enabled:
        raise Problem(409, "endpoint-disabled", "Switch the endpoint on before pinging it.")
    delivery = service.queue(
        uow,
        row,
        event_name="webhook.ping",
        payload={"endpoint_id": row.id, "message": "Deskline webhook test"},
        source_key=f"ping:{service.new_id()}",
    )
    await uow.commit()
    return delivery_out(delivery)
