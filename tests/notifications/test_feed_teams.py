"""Teams and mentions in the feed: a team assigned an item or given a project tells its
members (never the actor); its members follow the team's items; a mention names a person
by address, handle or name, and an ambiguous or unknown name mentions nobody."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from contracts.automation import SlaWarning
from contracts.identity import GrantGiven
from tests.conftest import eventually
from tests.notifications import feed_harness
from tests.notifications.feed_harness import FeedApp, new_id, snapshot

# The harness's session fixtures, shared by every feed test module.
feed = feed_harness.feed
feed_settings_ = feed_harness.feed_settings_


async def _told(feed: FeedApp, event_id: str) -> dict[str, tuple[str, str]]:
    """Recipient → (kind, title) of what one event told."""
    return {n.recipient_id: (n.kind, n.title) for n in await feed.notices_of_event(event_id)}


# --- teams ----------------------------------------------------------------------------------


async def test_an_item_assigned_to_a_team_tells_its_members_never_the_actor(
    feed: FeedApp,
) -> None:
    team = await feed.team()
    design = await feed.add_team(team.workspace_id, "Design", [team.ann, team.bob, team.manager])

    assigned = await feed.assign(team, teams=[design])
    assert await _told(feed, assigned.id) == {
        team.ann.id: ("assigned", "Mia assigned #1042 Banner to your team Design"),
        team.bob.id: ("assigned", "Mia assigned #1042 Banner to your team Design"),
    }

    # Assigned in person and through the team in one move: told once, as a person.
    both = await feed.assign(team, team.bob, teams=[design], title="Logo")
    assert await _told(feed, both.id) == {
        team.ann.id: ("assigned", "Mia assigned #1042 Logo to your team Design"),
        team.bob.id: ("assigned", "Mia assigned you #1042 Logo"),
    }


async def test_a_team_assignment_is_mailed_to_members_who_want_it_by_mail(
    feed: FeedApp,
) -> None:
    team = await feed.team()
    design = await feed.add_team(team.workspace_id, "Design", [team.ann, team.bob])
    chosen = await feed.patch(
        "/preferences", team.bob.token, json={"channels": {"assigned": "mail"}}
    )
    assert chosen.status_code == 200, chosen.text

    await feed.assign(team, teams=[design], title="Poster")

    async def mailed() -> bool:
        return len(await feed.mails_to(team.bob)) == 1

    await eventually(mailed, timeout=10)
    [mail] = await feed.mails_to(team.bob)
    assert mail.subject == "Mia assigned #1042 Poster to your team Design"
    assert await feed.notices(team.bob) == []  # mail only: nothing in the feed
    assert [n.title for n in await feed.notices(team.ann)] == [
        "Mia assigned #1042 Poster to your team Design"
    ]
    assert await feed.mails_to(team.ann) == []  # in the app, not mailed before the delay


async def test_members_of_an_assigned_team_follow_its_conversation(feed: FeedApp) -> None:
    team = await feed.team()
    crew = await feed.add_team(team.workspace_id, "Crew", [team.ann, team.vendor, team.client])

    public = await feed.comment(team, team.ann, "Draft is up", teams=[crew])
    # A client in the team learns nothing through it: they reach items as requester,
    # follower or organisation only.
    assert await _told(feed, public) == {
        team.vendor.id: ("comment", "Ann commented on #1042 Banner"),
    }
    private = await feed.comment(team, team.manager, "Margin", teams=[crew], visibility="private")
    assert set(await _told(feed, private)) == {team.ann.id, team.vendor.id}  # never the client


async def test_sla_notices_reach_the_members_of_an_assigned_team(feed: FeedApp) -> None:
    team = await feed.team()
    support = await feed.add_team(team.workspace_id, "Support", [team.bob, team.client])
    item = snapshot(new_id(), team.project_id, teams=[support])
    warning = await feed.emit(
        SlaWarning(
            workspace_id=uuid.UUID(team.workspace_id),
            item=item,
            policy_id=uuid.uuid4(),
            policy_name="Gold",
            target="resolution",
            due_at=datetime(2026, 12, 1, 14, 30, tzinfo=UTC),
            business_minutes_left=30,
        ),
        team.workspace_id,
        f"item/{item.id}",
    )
    await feed.handled(warning)
    assert list(await _told(feed, warning.id)) == [team.bob.id]  # an SLA is internal


async def test_a_project_shared_with_a_team_is_announced_to_its_members_unless_silent(
    feed: FeedApp,
) -> None:
    team = await feed.team()
    nina = await feed.add_user(team.workspace_id, "Nina")
    design = await feed.add_team(team.workspace_id, "Design", [nina, team.ann, team.manager])

    def grant(silent: bool) -> GrantGiven:
        return GrantGiven(
            grant_id=uuid.uuid4(),
            workspace_id=uuid.UUID(team.workspace_id),
            project_id=uuid.UUID(team.project_id),
            subject_type="team",
            subject_id=uuid.UUID(design),
            role="viewer",
            silent=silent,
            granted_by=uuid.UUID(team.manager.id),
        )

    loud = await feed.emit(grant(False), team.workspace_id, f"project/{team.project_id}")
    quiet = await feed.emit(grant(True), team.workspace_id, f"project/{team.project_id}")
    await feed.handled(loud)
    await feed.handled(quiet)

    title = "Mia gave your team Design viewer access to Spring campaign"
    assert await _told(feed, loud.id) == {
        nina.id: ("access_granted", title),
        team.ann.id: ("access_granted", title),
    }
    assert await feed.notices_of_event(quiet.id) == []


async def test_a_team_is_replaced_by_its_latest_state_whatever_the_arrival_order(
    feed: FeedApp,
) -> None:
    team = await feed.team()
    design = new_id()
    now = datetime.now(UTC)
    await feed.change_team(team.workspace_id, design, "Design", [team.ann], at=now)
    await feed.change_team(
        team.workspace_id, design, "Design", [team.bob], at=now - timedelta(seconds=5)
    )
    assert await feed.team_members(team.workspace_id, design) == [team.ann.id]
    await feed.change_team(
        team.workspace_id, design, "Design", [team.ann, team.bob], at=now + timedelta(seconds=1)
    )
    assert await feed.team_members(team.workspace_id, design) == sorted([team.ann.id, team.bob.id])
    await feed.change_team(
        team.workspace_id, design, "Design", [], deleted=True, at=now + timedelta(seconds=2)
    )
    assert await feed.team_members(team.workspace_id, design) == []
    assigned = await feed.assign(team, teams=[design])
    assert await feed.notices_of_event(assigned.id) == []


@pytest.mark.parametrize("first", ["smaller", "larger"])
async def test_two_team_states_stamped_alike_keep_the_members_both_name(
    feed: FeedApp, first: str
) -> None:
    """Unorderable states give the same team whichever arrives first (as in tickets)."""
    team = await feed.team()
    design, at = new_id(), datetime.now(UTC)
    states = {"smaller": [team.ann], "larger": [team.ann, team.bob]}
    for name in (first, "larger" if first == "smaller" else "smaller"):
        await feed.change_team(team.workspace_id, design, "Design", states[name], at=at)
    assert await feed.team_members(team.workspace_id, design) == [team.ann.id]
    await feed.change_team(team.workspace_id, design, "Design", [], deleted=True, at=at)
    await feed.change_team(team.workspace_id, design, "Design", [team.bob], at=at)
    assert await feed.team_members(team.workspace_id, design) == [], "deleted if either says so"


# --- mentions by handle and name ------------------------------------------------------------


async def test_a_mention_by_handle_or_name_tells_the_one_person_it_names(feed: FeedApp) -> None:
    team = await feed.team()
    domain = f"{team.workspace_id[:8]}.example"
    berg = await feed.add_user(team.workspace_id, "Anna Berg", email=f"anna.berg@{domain}")
    smith = await feed.add_user(team.workspace_id, "Anna Smith", email=f"asmith+desk@{domain}")
    zoe = await feed.add_user(team.workspace_id, "Zoë Quinn", email=f"zq@{domain}")
    for person in (berg, smith, zoe):
        await feed.grant(team.workspace_id, team.project_id, person.id, "viewer")

    body = (
        "<p>@anna.berg has the brief, @ASmith the budget. @Zoe, @Bob. Ask @Otto too, "
        "and @nobody at all; mail x@zq or zq@elsewhere.</p>"
    )
    event_id = await feed.comment(team, team.manager, body, followers=[team.ann])
    told = await _told(feed, event_id)
    mention = ("mention", "Mia mentioned you in a comment on #1042 Banner")
    assert told == {
        berg.id: mention,  # the dotted name (and the address's local part)
        smith.id: mention,  # the address's local part, without its +tag, any case
        zoe.id: mention,  # the first name, accents ignored
        team.bob.id: mention,  # the display name, a full stop after it
        team.ann.id: ("comment", "Mia commented on #1042 Banner"),  # a follower
        # Otto has no grant on the project: not told the item exists.
    }


async def test_an_ambiguous_or_unknown_mention_tells_nobody(feed: FeedApp) -> None:
    team = await feed.team()
    for name in ("Anna Berg", "Anna Smith"):
        person = await feed.add_user(team.workspace_id, name)
        await feed.grant(team.workspace_id, team.project_id, person.id, "viewer")

    event_id = await feed.comment(team, team.manager, "@Anna and @ghost, please look")
    assert await feed.notices_of_event(event_id) == []  # handled, nobody told, no error


async def test_a_mention_reaches_someone_through_their_teams_grant(feed: FeedApp) -> None:
    team = await feed.team()
    tess = await feed.add_user(team.workspace_id, "Tess")
    studio = await feed.add_team(team.workspace_id, "Studio", [tess])

    before = await feed.comment(team, team.manager, "@Tess can you check?")
    assert await feed.notices_of_event(before) == []  # no grant of hers, nor of a team
    await feed.give_grant(
        team.workspace_id, team.project_id, studio, "viewer", subject_type="team", silent=True
    )
    after = await feed.comment(team, team.manager, "@Tess can you check?")
    assert list(await _told(feed, after)) == [tess.id]
