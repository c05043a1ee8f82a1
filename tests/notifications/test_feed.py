"""The feed from events: who is told what, never the actor, once per (event, recipient);
private notes only to insiders; and the feed's API (pages, unread, marking read, 404 for
anyone else's notice)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from contracts import registry
from contracts.automation import SlaBreached, SlaWarning
from contracts.identity import AccessRequested, GrantGiven
from contracts.integrations import EndpointDisabled
from contracts.notifications import MessageRecipient, SendMessage
from contracts.tickets import CommentAdded, ItemAssigned
from tests.notifications import feed_harness
from tests.notifications.feed_harness import (
    FeedApp,
    User,
    new_id,
    snapshot,
)

# The harness's session fixtures, shared by every feed test module.
feed = feed_harness.feed
feed_settings_ = feed_harness.feed_settings_


def _uuid(user: User) -> uuid.UUID:
    return uuid.UUID(user.id)


# --- who is told ---------------------------------------------------------------------------------


async def test_an_assignment_notifies_the_assignees_but_never_the_actor(feed: FeedApp) -> None:
    team = await feed.team()
    await feed.assign(team, team.ann, team.manager)

    [notice] = await feed.notices(team.ann)
    assert notice.kind == "assigned"
    assert notice.title == "Mia assigned you #1042 Banner"
    assert notice.actor_id == team.manager.id
    assert await feed.notices(team.manager) == []


async def test_a_redelivered_event_notifies_once(feed: FeedApp) -> None:
    team = await feed.team()
    item_id = new_id()
    envelope = registry.envelope(
        ItemAssigned(item=snapshot(item_id, team.project_id), added_user_ids=[_uuid(team.ann)]),
        workspace=team.workspace_id,
        subject=f"item/{item_id}",
    )
    await feed.publish(envelope)
    await feed.handled(envelope)
    await feed.publish(envelope)  # the broker redelivers
    await feed.publish(envelope.model_copy(update={"time": datetime.now(UTC)}))  # published twice
    later = (await feed.assign(team, team.bob)).id  # a later event, handled after them

    assert len(await feed.notices_of_event(envelope.id)) == 1
    assert len(await feed.notices_of_event(later)) == 1


async def test_a_public_comment_tells_every_follower_but_its_author(feed: FeedApp) -> None:
    team = await feed.team()
    followers = [team.ann, team.bob, team.vendor, team.client]
    await feed.comment(team, team.ann, "<p>Draft is up</p>", followers=followers)

    for follower in (team.bob, team.vendor, team.client):
        [notice] = await feed.notices(follower)
        assert (notice.kind, notice.title, notice.body) == (
            "comment",
            "Ann commented on #1042 Banner",
            "Draft is up",
        )
    assert await feed.notices(team.ann) == []
    assert await feed.notices(team.outsider) == []


async def test_a_private_note_reaches_staff_and_collaborators_never_a_client(
    feed: FeedApp,
) -> None:
    team = await feed.team()
    body = f"Internal: margin is thin, @{team.client.email} must not know"
    followers = [team.bob, team.vendor, team.client]
    await feed.comment(team, team.ann, body, followers=followers, visibility="private")

    assert [n.kind for n in await feed.notices(team.bob)] == ["comment"]
    assert [n.title for n in await feed.notices(team.vendor)] == [
        "Ann added a private note to #1042 Banner"
    ]
    # Neither as a follower nor as a mentioned person.
    assert await feed.notices(team.client, with_mail_only=True) == []


async def test_a_mention_by_address_tells_who_may_see_the_item(feed: FeedApp) -> None:
    team = await feed.team()
    body = (
        f"<p>@{team.bob.email.upper()} and @{team.outsider.email}, see "
        f"mail x@{team.ann.email} too</p>"
    )
    event_id = await feed.comment(team, team.manager, body, followers=[team.ann])

    [mention] = await feed.notices(team.bob)
    assert mention.kind == "mention"
    assert mention.title == "Mia mentioned you in a comment on #1042 Banner"
    # No grant on the project: Otto may not know the item exists.
    assert await feed.notices(team.outsider) == []
    # Ann follows (a comment notice: `x@address` is no mention), told once for the event.
    assert [
        n.kind for n in await feed.notices_of_event(event_id) if n.recipient_id == team.ann.id
    ] == ["comment"]


async def test_a_client_mentioned_on_a_public_reply_to_their_request_is_told(
    feed: FeedApp,
) -> None:
    team = await feed.team()
    item_id = new_id()
    envelope = registry.envelope(
        CommentAdded(
            comment_id=uuid.uuid4(),
            item=snapshot(item_id, team.project_id, requester_id=team.client.id),
            author_id=_uuid(team.ann),
            visibility="public",
            channel="app",
            body=f"@{team.client.email} could you send the logo?",
        ),
        workspace=team.workspace_id,
        subject=f"item/{item_id}",
    )
    await feed.publish(envelope)
    await feed.handled(envelope)

    assert [n.kind for n in await feed.notices(team.client)] == ["mention"]


async def test_an_access_request_goes_to_the_projects_managers(feed: FeedApp) -> None:
    team = await feed.team()
    admin = await feed.add_user(team.workspace_id, "Ada")
    envelope = await feed.emit(
        AccessRequested(
            request_id=uuid.uuid4(),
            workspace_id=uuid.UUID(team.workspace_id),
            project_id=uuid.UUID(team.project_id),
            user_id=_uuid(team.outsider),
            note="I run the launch",
            manager_ids=[_uuid(admin), _uuid(team.outsider)],
        ),
        team.workspace_id,
        f"project/{team.project_id}",
    )
    await feed.handled(envelope)

    told = {n.recipient_id for n in await feed.notices_of_event(envelope.id)}
    assert told == {admin.id, team.manager.id}  # identity's list and the grants; not the asker
    [notice] = await feed.notices(team.manager)
    assert notice.title == "Otto asks for access to Spring campaign"
    assert notice.body == "I run the launch"


async def test_a_shared_project_is_announced_unless_silent(feed: FeedApp) -> None:
    team = await feed.team()
    newcomer = await feed.add_user(team.workspace_id, "Nina")
    loud = await feed.grant(
        team.workspace_id,
        team.project_id,
        newcomer.id,
        "viewer",
        silent=False,
        granted_by=team.manager.id,
    )
    await feed.handled(loud)
    quiet = await feed.grant(team.workspace_id, team.project_id, newcomer.id, "editor")
    await feed.handled(quiet)

    [notice] = await feed.notices(newcomer)
    assert (notice.kind, notice.title) == (
        "access_granted",
        "Mia gave you viewer access to Spring campaign",
    )


async def test_a_grant_to_a_team_not_known_yet_announces_nothing(feed: FeedApp) -> None:
    team = await feed.team()
    envelope = await feed.emit(
        GrantGiven(
            grant_id=uuid.uuid4(),
            workspace_id=uuid.UUID(team.workspace_id),
            project_id=uuid.UUID(team.project_id),
            subject_type="team",
            subject_id=uuid.uuid4(),
            role="viewer",
        ),
        team.workspace_id,
        f"project/{team.project_id}",
    )
    await feed.handled(envelope)
    assert await feed.notices_of_event(envelope.id) == []


async def test_sla_warnings_and_breaches_go_to_the_assignees(feed: FeedApp) -> None:
    team = await feed.team()
    item = snapshot(new_id(), team.project_id, assignees=[team.ann.id, team.client.id])
    due = datetime(2026, 12, 1, 14, 30, tzinfo=UTC)
    common = {
        "workspace_id": uuid.UUID(team.workspace_id),
        "item": item,
        "policy_id": uuid.uuid4(),
        "policy_name": "Gold",
        "target": "first_response",
        "due_at": due,
    }
    warning = await feed.emit(
        SlaWarning(**common, business_minutes_left=30), team.workspace_id, f"item/{item.id}"
    )
    breach = await feed.emit(
        SlaBreached(**common, breached_at=due + timedelta(minutes=1)),
        team.workspace_id,
        f"item/{item.id}",
    )
    await feed.handled(warning)
    await feed.handled(breach)

    assert [(n.kind, n.title) for n in await feed.notices(team.ann)] == [
        ("sla_warning", "SLA: first response on #1042 Banner is due soon"),
        ("sla_breached", "SLA missed: first response on #1042 Banner"),
    ]
    assert await feed.notices(team.client) == []  # an SLA is internal


async def test_a_disabled_webhook_endpoint_is_told_to_its_owner(feed: FeedApp) -> None:
    team = await feed.team()
    envelope = await feed.emit(
        EndpointDisabled(
            workspace_id=uuid.UUID(team.workspace_id),
            endpoint_id=uuid.uuid4(),
            url="https://hooks.example/x",
            owner_user_id=_uuid(team.bob),
            reason="410 Gone",
        ),
        team.workspace_id,
        "endpoint/x",
    )
    await feed.handled(envelope)

    [notice] = await feed.notices(team.bob)
    assert (notice.kind, notice.body) == ("endpoint_disabled", "410 Gone")


async def test_a_rules_private_in_app_message_skips_clients(feed: FeedApp) -> None:
    team = await feed.team()
    envelope = registry.envelope(
        SendMessage(
            workspace_id=uuid.UUID(team.workspace_id),
            recipients=[
                MessageRecipient(user_id=_uuid(team.ann)),
                MessageRecipient(email=team.vendor.email),
                MessageRecipient(user_id=_uuid(team.client)),
            ],
            channel="in_app",
            subject="Weekly\r\nBcc: evil@x.example review",
            body_html="<p>Please <b>review</b> the board</p>",
            visibility="private",
            kind="reminder",
        ),
        source="automation",
        workspace=team.workspace_id,
        subject="rule/weekly",
    ).model_copy(update={"actor": "rule:weekly"})
    await feed.publish(envelope)
    await feed.handled(envelope)

    told = {n.recipient_id: n for n in await feed.notices_of_event(envelope.id)}
    assert set(told) == {team.ann.id, team.vendor.id}
    notice = told[team.ann.id]
    assert (notice.kind, notice.body) == ("reminder", "Please review the board")
    assert notice.title == "Weekly Bcc: evil@x.example review"  # one line, never a header
