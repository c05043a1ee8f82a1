"""Preferences per person: a channel per kind (both, in the app, mail only, off), the
forwarding delay; what they change in the feed; `channels_for` as mail-out asks it."""

from __future__ import annotations

import uuid
from datetime import timedelta

from contracts.tickets import CommentAdded, ItemStatusChanged
from services.notifications.preferences.service import channels_for
from tests.notifications import feed_harness
from tests.notifications.feed_harness import FeedApp, User, new_id, snapshot

# The harness's session fixtures, shared by every feed test module.
feed = feed_harness.feed
feed_settings_ = feed_harness.feed_settings_


def _channels(body: dict[str, object]) -> dict[str, str]:
    channels = body["channels"]
    assert isinstance(channels, list)
    return {entry["kind"]: entry["channel"] for entry in channels}


async def test_defaults_until_someone_chooses(feed: FeedApp) -> None:
    body = (await feed.get("/preferences", feed.person().token)).json()
    channels = _channels(body)
    assert channels["assigned"] == "both"
    assert channels["access_granted"] == "in_app"  # noisy: not mailed unless asked for
    noisy = {entry["kind"] for entry in body["channels"] if entry["noisy"]}
    assert "access_granted" in noisy
    assert body["forward_after_minutes"] == 5
    assert body["forward_after_minutes_is_default"] is True


async def test_an_update_merges_and_forgets_defaults(feed: FeedApp) -> None:
    ann = feed.person()
    bob = feed.person(ann.workspace_id)
    first = await feed.patch(
        "/preferences",
        ann.token,
        json={
            "channels": {"access_granted": "off", "mention": "mail"},
            "forward_after_minutes": 30,
        },
    )
    assert first.status_code == 200
    second = await feed.patch("/preferences", ann.token, json={"channels": {"mention": "both"}})
    channels = _channels(second.json())
    assert (channels["access_granted"], channels["mention"]) == ("off", "both")
    assert second.json()["forward_after_minutes"] == 30
    third = await feed.patch("/preferences", ann.token, json={"forward_after_minutes": None})
    assert third.json()["forward_after_minutes_is_default"] is True
    # Someone else's choices are their own.
    assert _channels((await feed.get("/preferences", bob.token)).json())["access_granted"] == (
        "in_app"
    )


async def test_bad_preferences_are_refused_clearly(feed: FeedApp) -> None:
    token = feed.person().token
    for body in (
        {"channels": {"mention": "loud"}},
        {"channels": {"Not A Kind!": "off"}},
        {"forward_after_minutes": 0},
        {"forward_after_minutes": 100_000},
        {"colour": "blue"},
    ):
        response = await feed.patch("/preferences", token, json=body)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
    assert (await feed.request("GET", "/preferences")).status_code == 401


async def test_a_muted_kind_adds_nothing(feed: FeedApp) -> None:
    nina = feed.person()
    muted = await feed.patch(
        "/preferences", nina.token, json={"channels": {"access_granted": "off"}}
    )
    assert muted.status_code == 200
    await feed.deliver(nina, "Shared with you", kind="access_granted")
    await feed.deliver(nina, "Assigned to you", kind="assigned")
    assert [n.title for n in await feed.notices(nina, with_mail_only=True)] == ["Assigned to you"]


async def test_in_app_only_is_never_mailed_and_mail_only_skips_the_feed(feed: FeedApp) -> None:
    ann = feed.person()
    bob = feed.person(ann.workspace_id)
    await feed.patch("/preferences", ann.token, json={"channels": {"assigned": "in_app"}})
    await feed.patch("/preferences", bob.token, json={"channels": {"assigned": "mail"}})
    await feed.deliver(ann)
    await feed.deliver(bob)

    [in_app] = await feed.notices(ann)
    assert in_app.forward_at is None
    assert await feed.notices(bob) == []
    assert (await feed.get("/feed", bob.token)).json()["items"] == []
    assert (await feed.get("/feed/unread-count", bob.token)).json() == {"unread": 0}
    [mail_only] = await feed.notices(bob, with_mail_only=True)
    assert mail_only.in_feed is False
    assert mail_only.forward_at == mail_only.created_at  # mailed at the next round


async def test_the_delay_is_each_persons_choice(feed: FeedApp) -> None:
    ann = feed.person()
    bob = feed.person(ann.workspace_id)
    response = await feed.patch("/preferences", ann.token, json={"forward_after_minutes": 15})
    assert response.status_code == 200
    await feed.deliver(ann)
    await feed.deliver(bob)
    [mine] = await feed.notices(ann)
    [other] = await feed.notices(bob)
    assert mine.forward_at is not None and other.forward_at is not None
    assert mine.forward_at - mine.created_at == timedelta(minutes=15)
    assert other.forward_at - other.created_at == timedelta(minutes=5)


async def test_channels_for_answers_mail_out(feed: FeedApp) -> None:
    ann = feed.person()
    bob = feed.person(ann.workspace_id)
    await feed.patch(
        "/preferences", ann.token, json={"channels": {"comment": "in_app", "mention": "off"}}
    )
    async with feed.runtime.unit_of_work() as uow:
        session, ws = uow.session, ann.workspace_id
        assert await channels_for(session, ws, ann.id, "comment") == {"in_app"}
        assert await channels_for(session, ws, ann.id, "mention") == frozenset()
        assert await channels_for(session, ws, ann.id, "assigned") == {"mail", "in_app"}
        assert await channels_for(session, ws, bob.id, "comment") == {"mail", "in_app"}
        # An unknown kind (a rule's own) is delivered both ways until someone decides.
        assert await channels_for(session, ws, bob.id, "weekly-digest") == {"mail", "in_app"}


async def test_follower_mail_follows_preferences(feed: FeedApp) -> None:
    """Mail-out asks `channels_for` too: a kind taken off mail (or muted) sends no mail."""
    team = await feed.team()
    await feed.patch("/preferences", team.ann.token, json={"channels": {"comment": "in_app"}})
    await feed.patch("/preferences", team.vendor.token, json={"channels": {"status": "off"}})
    item = snapshot(new_id(), team.project_id, followers=[team.ann.id, team.bob.id, team.vendor.id])
    comment = await feed.emit(
        CommentAdded(
            comment_id=uuid.uuid4(),
            item=item,
            author_id=uuid.UUID(team.manager.id),
            visibility="public",
            channel="app",
            body="Proofs attached",
        ),
        team.workspace_id,
        f"item/{item.id}",
    )
    moved = await feed.emit(
        ItemStatusChanged(
            item=item,
            from_status_id=uuid.uuid4(),
            from_category="open",
            to_status_id=item.status_id,
            to_category="in_progress",
        ),
        team.workspace_id,
        f"item/{item.id}",
    )
    await feed.handled(comment)
    await feed.handled(comment, by="mail-comments")
    await feed.handled(moved, by="mail-status")

    async def mailed(user: User) -> set[str]:
        return {m.kind for m in await feed.mails_to(user)}

    assert await mailed(team.bob) == {"comment", "status"}  # chose nothing
    assert await mailed(team.ann) == {"status"}  # comments in the app only
    assert await mailed(team.vendor) == {"comment"}  # status moves muted
    # In the app, Ann still has the comment; Vic's muted kind adds nothing there either.
    assert [n.kind for n in await feed.notices(team.ann)] == ["comment"]
