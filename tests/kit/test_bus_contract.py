"""One contract, two transports: the in-memory bus must behave as the RabbitMQ one does."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from contracts import Envelope
from kit.bus.base import Bus, OutgoingMessage, PublishOutcome, Subscription
from tests.conftest import eventually
from tests.support.buses import build_bus, delete_namespace

RETRY_DELAYS = (0.1, 0.2, 0.3)


@pytest.fixture(params=["memory", "rabbitmq"])
async def bus(request: pytest.FixtureRequest, namespace: str) -> AsyncIterator[Bus]:
    kind = request.param
    amqp_url = request.getfixturevalue("amqp_url") if kind == "rabbitmq" else ""
    instance = build_bus(kind, amqp_url=amqp_url, namespace=namespace, retry_delays=RETRY_DELAYS)
    yield instance
    await instance.close()
    if kind == "rabbitmq":
        await delete_namespace(amqp_url, namespace)


def event(event_type: str, n: int = 0) -> Envelope:
    return Envelope(source="test", type=event_type, data={"n": n})


class Recorder:
    def __init__(self) -> None:
        self.received: list[Envelope] = []

    async def __call__(self, envelope: Envelope) -> None:
        self.received.append(envelope)


async def wait_ready(bus: Bus) -> None:
    async def ready() -> bool:
        return bus.is_connected() and bus.consumers_alive()

    await eventually(ready)


async def test_envelope_round_trips_through_the_transport(bus: Bus) -> None:
    recorder = Recorder()
    bus.subscribe(Subscription("svc", "all", ["test.#"], recorder))
    await bus.start()
    await wait_ready(bus)
    sent = event("test.thing.created.v1", 7).model_copy(
        update={"workspace": "w1", "actor": "u1", "subject": "thing/1"}
    )
    assert await bus.publish([OutgoingMessage.of(sent)]) == [PublishOutcome.CONFIRMED]

    async def arrived() -> bool:
        return len(recorder.received) == 1

    await eventually(arrived)
    assert recorder.received[0] == sent
    assert recorder.received[0] is not sent


async def test_topic_patterns_match_like_amqp(bus: Bus) -> None:
    star, hash_tail, hash_middle, exact = Recorder(), Recorder(), Recorder(), Recorder()
    bus.subscribe(Subscription("svc", "star", ["tickets.*.created.v1"], star))
    bus.subscribe(Subscription("svc", "hash-tail", ["tickets.#"], hash_tail))
    bus.subscribe(Subscription("svc", "hash-middle", ["tickets.#.v2"], hash_middle))
    bus.subscribe(Subscription("svc", "exact", ["identity.user.created.v1"], exact))
    await bus.start()
    await wait_ready(bus)
    types = [
        "tickets.item.created.v1",
        "tickets.comment.created.v1",
        "tickets.item.comment.created.v1",
        "tickets.item.updated.v2",
        "identity.user.created.v1",
    ]
    outcomes = await bus.publish([OutgoingMessage.of(event(t)) for t in types])
    assert outcomes == [PublishOutcome.CONFIRMED] * len(types)

    async def all_arrived() -> bool:
        return (
            len(star.received),
            len(hash_tail.received),
            len(hash_middle.received),
            len(exact.received),
        ) == (2, 4, 1, 1)

    await eventually(all_arrived)
    assert {e.type for e in star.received} == {types[0], types[1]}
    assert [e.type for e in hash_middle.received] == ["tickets.item.updated.v2"]
    assert [e.type for e in exact.received] == ["identity.user.created.v1"]


async def test_every_binding_gets_its_own_copy(bus: Bus) -> None:
    first, second = Recorder(), Recorder()
    bus.subscribe(Subscription("a", "h", ["x.#"], first))
    bus.subscribe(Subscription("b", "h", ["x.#"], second))
    await bus.start()
    await wait_ready(bus)
    await bus.publish([OutgoingMessage.of(event("x.y.v1", n)) for n in range(20)])

    async def both() -> bool:
        return len(first.received) == 20 and len(second.received) == 20

    await eventually(both)


async def test_a_message_no_binding_matches_is_reported_unroutable(bus: Bus) -> None:
    bus.subscribe(Subscription("svc", "only", ["bound.#"], Recorder()))
    await bus.start()
    await wait_ready(bus)
    outcomes = await bus.publish(
        [OutgoingMessage.of(event("unbound.thing.v1")), OutgoingMessage.of(event("bound.x.v1"))]
    )
    assert outcomes == [PublishOutcome.UNROUTABLE, PublishOutcome.CONFIRMED]


async def test_a_failing_handler_is_retried_until_it_succeeds(bus: Bus) -> None:
    attempts: Counter[str] = Counter()
    done: list[str] = []

    async def flaky(envelope: Envelope) -> None:
        attempts[envelope.id] += 1
        if attempts[envelope.id] < 3:
            raise RuntimeError("temporary failure")
        done.append(envelope.id)

    subscription = Subscription("svc", "flaky", ["flaky.#"], flaky)
    bus.subscribe(subscription)
    await bus.start()
    await wait_ready(bus)
    sent = event("flaky.thing.v1")
    await bus.publish([OutgoingMessage.of(sent)])

    async def succeeded() -> bool:
        return done == [sent.id]

    await eventually(succeeded)
    await asyncio.sleep(0.5)
    assert attempts[sent.id] == 3
    assert await bus.drain_dead_letters(subscription) == []


async def test_a_poison_message_is_dead_lettered_while_others_keep_flowing(bus: Bus) -> None:
    healthy: list[int] = []
    poison_attempts = 0

    async def handler(envelope: Envelope) -> None:
        nonlocal poison_attempts
        if envelope.data.get("poison"):
            poison_attempts += 1
            raise ValueError("cannot ever handle this")
        healthy.append(int(envelope.data["n"]))

    subscription = Subscription("svc", "mixed", ["mixed.#"], handler)
    bus.subscribe(subscription)
    await bus.start()
    await wait_ready(bus)
    poison = Envelope(source="test", type="mixed.thing.v1", data={"poison": True})
    await bus.publish([OutgoingMessage.of(poison)])
    await bus.publish([OutgoingMessage.of(event("mixed.thing.v1", n)) for n in range(50)])

    async def healthy_done() -> bool:
        return len(healthy) == 50

    await eventually(healthy_done, timeout=10)
    dead: list = []  # type: ignore[type-arg]

    async def dead_lettered() -> bool:
        dead.extend(await bus.drain_dead_letters(subscription))
        return bool(dead)

    await eventually(dead_lettered, timeout=20, interval=0.3)
    assert poison_attempts == len(RETRY_DELAYS) + 1
    assert len(dead) == 1
    assert Envelope.from_json(dead[0].envelope_json).id == poison.id
    assert "cannot ever handle this" in dead[0].error
    assert sorted(healthy) == list(range(50))


async def test_an_unparseable_message_goes_straight_to_dead_letters(bus: Bus) -> None:
    calls: list[Envelope] = []

    async def handler(envelope: Envelope) -> None:
        calls.append(envelope)

    subscription = Subscription("svc", "strict", ["strict.#"], handler)
    bus.subscribe(subscription)
    await bus.start()
    await wait_ready(bus)
    await bus.publish([OutgoingMessage("strict.thing.v1", "bad-1", b"{not json")])
    dead: list = []  # type: ignore[type-arg]

    async def dead_lettered() -> bool:
        dead.extend(await bus.drain_dead_letters(subscription))
        return bool(dead)

    await eventually(dead_lettered, timeout=10, interval=0.2)
    assert calls == []
