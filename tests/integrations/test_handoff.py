"""Deliveries queued by a consumed event go straight to this process's dispatcher when it has
a free slot: written already claimed, handed over only once the transaction commits, and
the slot given back if it rolls back; without a slot they wait for the claim loop."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from kit.db.times import in_utc
from services.integrations.models import WebhookDelivery
from services.integrations.triggers.catalog import Record
from services.integrations.webhooks import handoff, service
from services.integrations.webhooks.handoff import Claimed
from tests.integrations.conftest import IntegrationsApp, Receiver
from tests.timetracking.conftest import new_id

LEASE_END = datetime(2031, 1, 1, tzinfo=UTC)


class CountingDispatcher:
    """Stands in for the dispatcher's bookkeeping only: `slots` free slots per endpoint."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.taken: dict[str, int] = {}
        self.handed: list[Claimed] = []
        self.released: list[str] = []
        self.woken = 0

    def wake(self) -> None:
        self.woken += 1

    def now(self) -> datetime:
        return datetime.now(UTC)

    def reserve(self, endpoint_id: str, max_concurrency: int) -> datetime | None:
        if self.taken.get(endpoint_id, 0) >= min(self.slots, max_concurrency):
            return None
        self.taken[endpoint_id] = self.taken.get(endpoint_id, 0) + 1
        return LEASE_END

    def hand_over(self, claimed: list[Claimed]) -> None:
        self.handed.extend(claimed)

    def release(self, endpoint_ids: list[str]) -> None:
        self.released.extend(endpoint_ids)


@contextmanager
def standing_in(integrations: IntegrationsApp, fake: CountingDispatcher) -> Iterator[None]:
    """`fake` as the runtime's local dispatcher for a while (the real one afterwards)."""
    unregister = handoff.register(integrations.runtime.engine.sync_engine, fake)
    try:
        yield
    finally:
        unregister()


def records(count: int) -> list[Record]:
    """`count` records of one event, each for its own trigger's endpoint subscription."""
    return [
        Record("item_created", new_id(), {"item_id": str(n)}, {"item_id": str(n)})
        for n in range(count)
    ]


async def test_with_free_slots_deliveries_are_written_claimed_and_handed_over_after_commit(
    integrations: IntegrationsApp, receiver: Receiver
) -> None:
    ws = await integrations.new_workspace()
    endpoint = await integrations.endpoint(
        ws, receiver.url(receiver.new_path()), ["item_created"], max_concurrency=2
    )
    fake = CountingDispatcher(slots=2)
    with standing_in(integrations, fake):
        async with integrations.runtime.unit_of_work() as uow:
            for _ in range(3):
                assert await service.fan_out(uow, ws.id, new_id(), records(1)) == 1
            rows = list(
                await uow.session.scalars(
                    select(WebhookDelivery)
                    .where(WebhookDelivery.endpoint_id == endpoint["id"])
                    .order_by(WebhookDelivery.id)
                )
            )
            assert fake.handed == []  # nothing is attempted before the rows are committed
            await uow.commit()

    first, second, third = rows
    for claimed in (first, second):
        assert claimed.attempts == 1 and in_utc(claimed.next_attempt_at) == LEASE_END
    # The third found no free slot: an ordinary pending delivery for the claim loop.
    assert third.attempts == 0 and third.status == "pending"
    assert in_utc(third.next_attempt_at) <= datetime.now(UTC) + timedelta(seconds=1)
    assert [c.delivery_id for c in fake.handed] == [first.id, second.id]
    assert [c.attempt for c in fake.handed] == [1, 1]
    assert all(c.secrets == (endpoint["secret"],) for c in fake.handed)
    assert fake.handed[0].body == first.body and fake.handed[0].url == endpoint["url"]
    assert fake.released == [] and fake.woken == 1


async def test_when_everything_was_handed_over_the_claim_loop_is_not_woken(
    integrations: IntegrationsApp, receiver: Receiver
) -> None:
    ws = await integrations.new_workspace()
    await integrations.endpoint(ws, receiver.url(receiver.new_path()), ["item_created"])
    fake = CountingDispatcher(slots=5)
    with standing_in(integrations, fake):
        async with integrations.runtime.unit_of_work() as uow:
            await service.fan_out(uow, ws.id, new_id(), records(1))
            await uow.commit()
    assert len(fake.handed) == 1 and fake.woken == 0  # nothing left due for a claim


async def test_a_rolled_back_transaction_gives_its_slots_back_and_hands_nothing_over(
    integrations: IntegrationsApp, receiver: Receiver
) -> None:
    ws = await integrations.new_workspace()
    endpoint = await integrations.endpoint(ws, receiver.url(receiver.new_path()), ["item_created"])
    fake = CountingDispatcher(slots=10)
    with standing_in(integrations, fake):
        async with integrations.runtime.unit_of_work() as uow:
            for _ in range(2):
                assert await service.fan_out(uow, ws.id, new_id(), records(1)) == 1
            # leaving without commit: the consumer's handler failed
    assert fake.handed == []
    assert fake.released == [endpoint["id"], endpoint["id"]]
    assert await _deliveries(integrations, endpoint["id"]) == []


async def _deliveries(integrations: IntegrationsApp, endpoint_id: str) -> list[WebhookDelivery]:
    async with integrations.runtime.session_factory() as session:
        return list(
            await session.scalars(
                select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
            )
        )
