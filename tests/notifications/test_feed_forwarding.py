"""Notices left unread are mailed once: after the person's delay (5 minutes unless they
chose otherwise), never when read in time, never twice even with several forwarders, and
late rather than never when the forwarder was away."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from contracts import registry
from contracts.tickets import CommentAdded
from services.notifications.feed.forwarding import forward_round
from tests.conftest import eventually
from tests.notifications import feed_harness
from tests.notifications.feed_harness import FeedApp, Team, User, new_id, snapshot

# The harness's session fixtures, shared by every feed test module.
feed = feed_harness.feed
feed_settings_ = feed_harness.feed_settings_


async def _assign(feed: FeedApp, team: Team, user: User, title: str = "Banner") -> str:
    """The id of the notice an assignment gives `user`."""
    envelope = await feed.assign(team, user, title=title)
    [notice] = await feed.notices_of_event(envelope.id)
    return notice.id


async def _mailed(feed: FeedApp, notification_id: str) -> bool:
    return (await feed.notice(notification_id)).forwarded_at is not None


async def test_an_unread_notice_is_mailed_once_after_the_default_delay(feed: FeedApp) -> None:
    team = await feed.team()
    notice_id = await _assign(feed, team, team.ann, title="Poster")
    notice = await feed.notice(notice_id)
    assert notice.forward_at is not None
    assert notice.forward_at - notice.created_at == timedelta(minutes=5)
    assert await feed.mails_to(team.ann) == []  # not before its time

    await feed.backdate_forwarding(team.ann)
    await eventually(lambda: _mailed(feed, notice_id), timeout=10)
    [mail] = await feed.mails_to(team.ann)
    assert mail.dedupe_key == f"feed:{notice_id}"
    assert mail.subject == "Mia assigned you #1042 Poster"
    assert mail.kind == "feed.assigned"
    assert "had not read it in the app" in mail.text

    # Later rounds find nothing more to do for it.
    await feed.backdate_forwarding(team.ann)
    marker = await _assign(feed, team, team.ann, title="Marker")
    await feed.backdate_forwarding(team.ann)
    await eventually(lambda: _mailed(feed, marker), timeout=10)
    assert [m.dedupe_key for m in await feed.mails_to(team.ann)] == [
        f"feed:{notice_id}",
        f"feed:{marker}",
    ]


async def test_a_notice_read_in_time_is_never_mailed(feed: FeedApp) -> None:
    team = await feed.team()
    read_in_time = await _assign(feed, team, team.bob, title="Read")
    assert (await feed.post(f"/feed/{read_in_time}/read", team.bob.token)).status_code == 200
    assert (await feed.notice(read_in_time)).forward_at is None

    marker = await _assign(feed, team, team.bob, title="Unread")
    await feed.backdate_forwarding(team.bob)
    await eventually(lambda: _mailed(feed, marker), timeout=10)
    assert [m.dedupe_key for m in await feed.mails_to(team.bob)] == [f"feed:{marker}"]


async def test_a_mail_only_notice_is_mailed_at_once(feed: FeedApp) -> None:
    team = await feed.team()
    await feed.patch("/preferences", team.bob.token, json={"channels": {"assigned": "mail"}})
    notice_id = await _assign(feed, team, team.bob, title="By mail")
    await eventually(lambda: _mailed(feed, notice_id), timeout=10)  # no backdating needed
    [mail] = await feed.mails_to(team.bob)
    assert (mail.dedupe_key, mail.subject) == (
        f"feed:{notice_id}",
        "Mia assigned you #1042 By mail",
    )
    assert "had not read it" not in mail.text


async def test_several_forwarders_mail_each_notice_once(feed: FeedApp) -> None:
    """The service's own forwarder and four more rounds, all at once on PostgreSQL."""
    team = await feed.team()
    ids = [await _assign(feed, team, team.vendor, title=f"Item {n}") for n in range(30)]
    await feed.backdate_forwarding(team.vendor)

    async def one_round() -> int:
        async with feed.runtime.unit_of_work() as uow:
            done = await forward_round(uow)
            await uow.commit()
            return done

    await asyncio.gather(*(one_round() for _ in range(4)))

    async def all_mailed() -> bool:
        return all([await _mailed(feed, notice_id) for notice_id in ids])

    await eventually(all_mailed, timeout=10)
    keys = [m.dedupe_key for m in await feed.mails_to(team.vendor)]
    assert sorted(keys) == sorted(f"feed:{notice_id}" for notice_id in ids)


async def test_follower_comments_are_not_forwarded_mail_out_mails_them(feed: FeedApp) -> None:
    team = await feed.team()
    item_id = new_id()
    envelope = registry.envelope(
        CommentAdded(
            comment_id=uuid.uuid4(),
            item=snapshot(item_id, team.project_id, followers=[team.bob.id]),
            author_id=uuid.UUID(team.ann.id),
            visibility="public",
            channel="app",
            body="Looks good",
        ),
        workspace=team.workspace_id,
        subject=f"item/{item_id}",
    )
    await feed.publish(envelope)
    await feed.handled(envelope)
    [notice] = await feed.notices(team.bob)
    assert notice.kind == "comment"
    assert notice.forward_at is None
