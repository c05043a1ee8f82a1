"""Live push over Server-Sent Events, fanned out through real Redis: a notice written by one
process reaches a stream held by another; counts follow reads made anywhere; a reconnecting
browser resumes after `Last-Event-ID`; heartbeats keep the stream open."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from kit.settings import Settings
from services.notifications.feed.background import hub_task
from services.notifications.module import module as notifications_module
from tests.notifications import feed_harness
from tests.notifications.feed_harness import (
    FeedApp,
    mint,
    open_stream,
)
from tests.support.harness import free_port, serving

# A second replica: the same database and Redis, but none of the consumers or background
# loops, so whatever reaches its streams came through Redis from the first replica.
STREAM_ONLY = dataclasses.replace(
    notifications_module, consumers=(), background=lambda runtime: [hub_task(runtime)]
)

# The harness's session fixtures, shared by every feed test module.
feed = feed_harness.feed
feed_settings_ = feed_harness.feed_settings_


@pytest.fixture(scope="session")
async def replica(feed: FeedApp, feed_settings_: Settings) -> AsyncIterator[FeedApp]:
    settings = feed_settings_.model_copy(update={"port": free_port()})
    async with serving(STREAM_ONLY, settings) as (base, host, client):
        yield FeedApp(base, host, client)


async def test_a_notice_written_by_one_process_reaches_a_stream_on_another(
    feed: FeedApp, replica: FeedApp
) -> None:
    ann = feed.person()
    async with open_stream(replica.client, replica.base, ann.token) as stream:
        assert (await stream.next_of("unread")).json() == {"unread": 0}
        await feed.deliver(ann, "Poster")

        pushed = await stream.next_of("notification")
        assert pushed.json()["title"] == "Poster"
        assert pushed.id == pushed.json()["id"]
        assert (await stream.next_of("unread")).json() == {"unread": 1}

        # Read through the first process: the stream on the second hears of it.
        assert (await feed.post(f"/feed/{pushed.id}/read", ann.token)).status_code == 200
        assert (await stream.next_of("unread")).json() == {"unread": 0}


async def test_a_stream_only_carries_its_own_persons_notices(
    feed: FeedApp, replica: FeedApp
) -> None:
    ann = feed.person()
    bob = feed.person(ann.workspace_id)
    async with open_stream(replica.client, replica.base, bob.token) as stream:
        await stream.next_of("unread")
        await feed.deliver(ann, "Not for Bob")
        await feed.deliver(bob, "For Bob")
        pushed = await stream.next_of("notification")
        assert pushed.json()["title"] == "For Bob"


async def test_reconnecting_with_last_event_id_replays_what_was_missed(
    feed: FeedApp, replica: FeedApp
) -> None:
    ann = feed.person()
    async with open_stream(replica.client, replica.base, ann.token) as stream:
        await stream.next_of("unread")
        await feed.deliver(ann, "One")
        last_seen = (await stream.next_of("notification")).id
    await feed.deliver(ann, "Two")
    await feed.deliver(ann, "Three")

    async with open_stream(feed.client, feed.base, ann.token, last_seen) as stream:
        replayed = [(await stream.next_of("notification")).json()["title"] for _ in range(2)]
        assert replayed == ["Two", "Three"]
        assert (await stream.next_of("unread")).json() == {"unread": 3}


async def test_heartbeats_keep_an_idle_stream_alive(feed: FeedApp, replica: FeedApp) -> None:
    ann = feed.person()
    async with open_stream(replica.client, replica.base, ann.token) as stream:
        await stream.next_of("unread")
        await stream.heartbeats(2)  # `: heartbeat` lines, every second in the tests
        # Still live after the heartbeats.
        await feed.deliver(ann, "After a quiet while")
        assert (await stream.next_of("notification")).json()["title"].endswith("quiet while")


async def test_a_stream_needs_a_valid_token(feed: FeedApp) -> None:
    ann = feed.person()
    response = await feed.request(
        "GET", "/feed/stream", headers={"Authorization": "Bearer not-a-token"}
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    async with feed.client.stream(
        "GET", f"{feed.base}/feed/stream", params={"access_token": ann.token}
    ) as ok:
        assert ok.status_code == 200


async def test_a_stream_ends_when_its_token_expires(feed: FeedApp) -> None:
    ann = feed.person()
    short = mint(ann.workspace_id, ann.id, ttl=2)
    async with open_stream(feed.client, feed.base, short) as stream:
        await stream.next_of("unread")
        assert (await stream.next_of("expired")).json() == {}
