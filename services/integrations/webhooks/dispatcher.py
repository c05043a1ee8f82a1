"""Sending what is due, and scheduling what failed.

The schedule lives in `webhook_deliveries`: a delivery is claimed by pushing its
`next_attempt_at` past the attempt's longest possible duration (a lease), so a process
killed mid-attempt leaves it due again once the lease runs out, and a restart simply
carries on with the schedule. On PostgreSQL claims are `FOR UPDATE SKIP LOCKED`, so
replicas never send the same attempt twice at once.

Isolation: each endpoint has at most `max_concurrency` attempts in flight in this process,
each bounded by the timeout; claims skip endpoints without a free slot, so a slow or dead
receiver only ever delays itself.

Attempts: redirects are not followed (a 3xx is a failure), `410 Gone` switches the
endpoint off, `429`/`503` with `Retry-After` wait at least that long, anything else that is
not 2xx is retried after the next delay of the schedule, spread by jitter. An endpoint that
has not succeeded for `webhook_disable_after_hours` is switched off and its owner told.

Time and name lookups come from the `clock` and the `guard` the dispatcher is built with
(production's by default), so a schedule spanning days and a name that re-resolves
elsewhere can be shown for real without waiting or a DNS server.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from kit.db.times import in_utc
from kit.logging import get_logger
from kit.runtime import ServiceRuntime
from kit.uow import UnitOfWork
from services.integrations.models import WebhookDelivery, WebhookEndpoint
from services.integrations.settings import IntegrationsSettings
from services.integrations.webhooks import handoff, repository, service, signing, ssrf
from services.integrations.webhooks.handoff import Claimed

log = get_logger(__name__)

CLAIM_BATCH = 200
SETTLE_LINGER = 0.005
"""Seconds a batch of outcomes waits for more to join before it is recorded."""
EXCERPT = 1000


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    excerpt: str
    error: str | None
    latency_ms: int
    retry_after: float | None
    headers: dict[str, str]


class Dispatcher:
    def __init__(
        self,
        runtime: ServiceRuntime,
        settings: IntegrationsSettings,
        *,
        clock: service.Clock = service.now,
        guard: ssrf.Guard | None = None,
    ) -> None:
        self._runtime = runtime
        self._settings = settings
        self._now = clock
        self._guard = guard or ssrf.Guard.of(settings.webhook_allow_networks)
        self._inflight: defaultdict[str, int] = defaultdict(int)
        self._limits: dict[str, int] = {}
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._outcomes: asyncio.Queue[tuple[Claimed, Outcome]] = asyncio.Queue()
        self._skip_locked = runtime.engine.dialect.name == "postgresql"
        self._lease = timedelta(seconds=settings.webhook_timeout_seconds + 30)
        self._client: httpx.AsyncClient | None = None
        self._slot_wanted: set[str] = set()
        """Endpoints with due deliveries left waiting for a free slot: only a slot freed for
        one of them is worth a claim (everything else was handed over, or is due later and
        found by the poll)."""

    def wake(self) -> None:
        self._wake.set()

    # --- handed over by consumers in this process (see `handoff`) -----------------------

    def now(self) -> datetime:
        return self._now()

    def reserve(self, endpoint_id: str, max_concurrency: int) -> datetime | None:
        self._limits[endpoint_id] = max_concurrency
        if self._inflight[endpoint_id] >= max_concurrency:
            self._slot_wanted.add(endpoint_id)  # its delivery waits, due, for the claim loop
            return None
        self._inflight[endpoint_id] += 1
        return self._now() + self._lease

    def hand_over(self, claimed: list[Claimed]) -> None:
        for item in claimed:
            self._start(item)

    def release(self, endpoint_ids: list[str]) -> None:
        for endpoint_id in endpoint_ids:
            self._free_slot(endpoint_id)

    # --- the loop ----------------------------------------------------------------------------

    async def run(self) -> None:
        unregister: Callable[[], None] = lambda: None  # noqa: E731 - until registered
        settler = asyncio.create_task(self._settle_forever(), name="webhook-settler")
        timeout = httpx.Timeout(self._settings.webhook_timeout_seconds)
        limits = httpx.Limits(max_connections=2000, max_keepalive_connections=200)
        try:
            async with httpx.AsyncClient(
                timeout=timeout, limits=limits, follow_redirects=False, trust_env=False
            ) as client:
                self._client = client
                # Consumers hand deliveries over only once there is a client to send them.
                unregister = handoff.register(self._runtime.engine.sync_engine, self)
                while True:
                    try:
                        claimed, crowded = await self._claim()
                    except Exception as error:  # database away: keep the schedule, try later
                        log.warning("webhook claim failed", error=repr(error))
                        await asyncio.sleep(self._settings.dispatcher_poll_seconds)
                        continue
                    for item in claimed:
                        self._start(item)
                    if len(claimed) < CLAIM_BATCH and not crowded:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(
                                self._wake.wait(), self._settings.dispatcher_poll_seconds
                            )
                        self._wake.clear()
        finally:
            unregister()
            self._client = None
            settler.cancel()
            for task in list(self._tasks):
                task.cancel()

    # --- claiming --------------------------------------------------------------------------

    def _busy(self) -> set[str]:
        return {
            endpoint_id
            for endpoint_id, count in self._inflight.items()
            if count >= self._limits.get(endpoint_id, self._settings.webhook_concurrency)
        }

    async def _claim(self) -> tuple[list[Claimed], bool]:
        """What was claimed, and whether some due deliveries waited for a busy endpoint (then
        the next claim, which leaves that endpoint out, follows at once)."""
        moment = self._now()
        claimed: list[Claimed] = []
        crowded = False
        busy = self._busy()
        # Busy endpoints are left out of the query, so they may have due deliveries.
        self._slot_wanted = set(busy)
        async with self._runtime.unit_of_work() as uow:
            rows = await repository.due(
                uow.session,
                moment,
                busy=busy,
                limit=CLAIM_BATCH,
                skip_locked=self._skip_locked,
            )
            if not rows:
                return [], False
            endpoints = await repository.targets(uow.session, {r.endpoint_id for r in rows})
            taken: defaultdict[str, int] = defaultdict(int)
            orphaned: list[str] = []
            for delivery in rows:
                endpoint = endpoints.get(delivery.endpoint_id)
                if endpoint is None or not endpoint.enabled:
                    orphaned.append(delivery.id)
                    continue
                self._limits[endpoint.id] = endpoint.max_concurrency
                free = endpoint.max_concurrency - self._inflight[endpoint.id] - taken[endpoint.id]
                if free <= 0:
                    crowded = True
                    self._slot_wanted.add(endpoint.id)
                    continue  # stays due; taken when a slot frees up
                taken[endpoint.id] += 1
                claimed.append(
                    Claimed.of(
                        endpoint,
                        delivery_id=delivery.id,
                        workspace_id=delivery.workspace_id,
                        body=delivery.body,
                        attempt=delivery.attempts + 1,
                        moment=moment,
                    )
                )
            await repository.finish(
                uow.session,
                orphaned,
                status="failed",
                at=moment,
                status_code=None,
                error="the endpoint is switched off or gone",
            )
            await repository.lease(
                uow.session, [item.delivery_id for item in claimed], moment + self._lease
            )
            await uow.commit()
        for item in claimed:
            self._inflight[item.endpoint_id] += 1
        return claimed, crowded

    # --- one attempt -----------------------------------------------------------------------

    def _start(self, item: Claimed) -> None:
        """Attempt `item` (its slot is taken); without a client (stopping) the slot is given
        back and the lease brings the delivery back later."""
        if self._client is None:
            self._free_slot(item.endpoint_id)
            return
        task = asyncio.create_task(self._attempt(self._client, item))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _free_slot(self, endpoint_id: str) -> None:
        self._inflight[endpoint_id] -= 1
        if self._inflight[endpoint_id] <= 0:
            del self._inflight[endpoint_id]
        if endpoint_id in self._slot_wanted:
            self._wake.set()

    async def _attempt(self, client: httpx.AsyncClient, item: Claimed) -> None:
        """Send, free the slot as soon as the receiver has answered (recording the outcome
        is local work: the receiver's concurrency is what the slot protects), then leave
        the outcome to the settler. Until it is recorded the delivery stays leased, so no
        claim can send it again meanwhile; if it is never recorded (the process stops),
        the lease runs out and it is sent again, with the same id."""
        try:
            outcome = await self._send(client, item)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the lease brings it back; never lose the dispatcher
            log.warning("webhook attempt failed", delivery=item.delivery_id, error=repr(error))
            return
        finally:
            self._free_slot(item.endpoint_id)
        self._outcomes.put_nowait((item, outcome))

    async def _settle_forever(self) -> None:
        """Outcomes that finish together are recorded in one transaction (like the consumers'
        group commit): under load that is one commit per batch, not per attempt. A batch
        waits SETTLE_LINGER for more to join it: nobody waits for the record."""
        while True:
            batch = [await self._outcomes.get()]
            await asyncio.sleep(SETTLE_LINGER)
            while not self._outcomes.empty() and len(batch) < CLAIM_BATCH:
                batch.append(self._outcomes.get_nowait())
            try:
                await self._settle(batch)
                if any(not _answered(outcome) for _, outcome in batch):
                    self._wake.set()  # a retry may be due at once
            except Exception as error:  # the lease brings them back: at least once, not lost
                log.warning("webhook outcomes not recorded", count=len(batch), error=repr(error))

    async def _send(self, client: httpx.AsyncClient, item: Claimed) -> Outcome:
        started = time.perf_counter()
        moment = self._now()
        headers = signing.headers(item.secrets, item.delivery_id, moment, item.body)
        logged = {k: v for k, v in headers.items() if k != "webhook-signature"}

        def elapsed() -> int:
            return int((time.perf_counter() - started) * 1000)

        try:
            target = await self._guard.check(item.url)
        except ssrf.TargetRefused as error:
            return Outcome(None, "", str(error), elapsed(), None, logged)
        headers["host"] = target.host_header
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        try:
            response = await client.post(
                target.connect_url,
                content=item.body.encode(),
                headers=headers,
                extensions=extensions,
            )
        except httpx.TimeoutException:
            return Outcome(None, "", "timed out", elapsed(), None, logged)
        except httpx.HTTPError as error:
            return Outcome(
                None, "", f"{type(error).__name__}: {error}"[:500], elapsed(), None, logged
            )
        excerpt = response.text[:EXCERPT]
        retry_after = None
        if response.status_code in (429, 503):
            retry_after = _retry_after(response.headers.get("retry-after"), moment)
        return Outcome(response.status_code, excerpt, None, elapsed(), retry_after, logged)

    async def _settle(self, outcomes: list[tuple[Claimed, Outcome]]) -> None:
        """Answers (2xx) in a few set-wise statements, the rest one by one: under load
        nearly everything is an answer, and its record is always the same."""
        moment = self._now()
        answered: defaultdict[int, list[tuple[Claimed, Outcome]]] = defaultdict(list)
        others: list[tuple[Claimed, Outcome]] = []
        for item, outcome in outcomes:
            if _answered(outcome):
                answered[outcome.status_code or 0].append((item, outcome))
            else:
                others.append((item, outcome))
        switched_off: list[tuple[str, str]] = []
        async with self._runtime.unit_of_work() as uow:
            session = uow.session
            logged: list[tuple[Claimed, Outcome]] = []
            for code, group in answered.items():
                still_there = await repository.finish(
                    session,
                    [item.delivery_id for item, _ in group],
                    status="succeeded",
                    at=moment,
                    status_code=code,
                    error=None,
                )
                logged += [(i, o) for i, o in group if i.delivery_id in still_there]
            await repository.clear_failing(session, {item.endpoint_id for item, _ in logged})
            if others:
                deliveries = await repository.deliveries_by_id(
                    session, {item.delivery_id for item, _ in others}
                )
                endpoints = await repository.endpoints_by_id(
                    session, {item.endpoint_id for item, _ in others}
                )
                for item, outcome in others:
                    delivery = deliveries.get(item.delivery_id)
                    endpoint = endpoints.get(item.endpoint_id)
                    if delivery is None or endpoint is None:
                        continue  # deleted meanwhile
                    logged.append((item, outcome))
                    self._apply(uow, delivery, endpoint, outcome, moment, switched_off)
            await repository.log_attempts(
                session, [_logged(item, outcome, moment) for item, outcome in logged]
            )
            for endpoint_id, reason in switched_off:
                await repository.fail_pending(session, endpoint_id, moment, reason)
            await uow.commit()

    def _apply(
        self,
        uow: UnitOfWork,
        delivery: WebhookDelivery,
        endpoint: WebhookEndpoint,
        outcome: Outcome,
        moment: datetime,
        switched_off: list[tuple[str, str]],
    ) -> None:
        code = outcome.status_code
        delivery.last_status_code = code
        delivery.last_error = outcome.error
        if code is not None and 200 <= code < 300:
            delivery.status = "succeeded"
            delivery.finished_at = moment
            endpoint.failing_since = None
            return
        if code == 410:
            delivery.status = "failed"
            delivery.finished_at = moment
            reason = "the receiver answered 410 Gone"
            if endpoint.source == "hook":
                reason = "the receiver answered 410 Gone: the subscription ended"
            _switch_off(uow, endpoint, reason, switched_off)
            return
        self._schedule_retry(delivery, outcome, moment)
        if endpoint.failing_since is None:
            endpoint.failing_since = moment
        hours = self._settings.webhook_disable_after_hours
        if moment - in_utc(endpoint.failing_since) >= timedelta(hours=hours):
            reason = f"no delivery succeeded for {hours:g} hours"
            _switch_off(uow, endpoint, reason, switched_off)

    def _schedule_retry(
        self, delivery: WebhookDelivery, outcome: Outcome, moment: datetime
    ) -> None:
        schedule = self._settings.webhook_retry_schedule
        if delivery.attempts > len(schedule):
            delivery.status = "failed"
            delivery.finished_at = moment
            return
        delay = schedule[delivery.attempts - 1]
        jitter = self._settings.webhook_retry_jitter
        delay *= random.uniform(1 - jitter, 1 + jitter)  # noqa: S311 - spreading, not secrecy
        if outcome.retry_after is not None:
            delay = max(
                delay, min(outcome.retry_after, self._settings.webhook_max_retry_after_seconds)
            )
        delivery.status = "pending"
        delivery.next_attempt_at = moment + timedelta(seconds=delay)


def _switch_off(
    uow: UnitOfWork, endpoint: WebhookEndpoint, reason: str, switched_off: list[tuple[str, str]]
) -> None:
    """Off, owner told, and what still waits for it is dropped (after this batch's rows)."""
    if endpoint.enabled:
        service.disable(uow, endpoint, reason)
        switched_off.append((endpoint.id, reason))


def _logged(item: Claimed, outcome: Outcome, moment: datetime) -> dict[str, Any]:
    """The delivery log's row of one attempt."""
    return {
        "workspace_id": item.workspace_id,
        "endpoint_id": item.endpoint_id,
        "delivery_id": item.delivery_id,
        "attempt": item.attempt,
        "url": item.url,
        "request_headers": outcome.headers,
        "status_code": outcome.status_code,
        "response_excerpt": outcome.excerpt,
        "error": outcome.error,
        "latency_ms": outcome.latency_ms,
        "attempted_at": moment,
    }


def _answered(outcome: Outcome) -> bool:
    return outcome.status_code is not None and 200 <= outcome.status_code < 300


def _retry_after(value: str | None, moment: datetime) -> float | None:
    """Seconds, or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (in_utc(when) - moment).total_seconds())
