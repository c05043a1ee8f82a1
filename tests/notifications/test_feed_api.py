"""The feed's API: pages newest first with an unread filter and count, marking one or all
read, only one's own notices (anyone else's is 404), clear problems for bad requests."""

from __future__ import annotations

from tests.notifications import feed_harness
from tests.notifications.feed_harness import FeedApp, mint, new_id

# The harness's session fixtures, shared by every feed test module.
feed = feed_harness.feed
feed_settings_ = feed_harness.feed_settings_


async def test_pages_unread_filter_and_counts(feed: FeedApp) -> None:
    ann = feed.person()
    for n in range(5):
        await feed.deliver(ann, f"Notice {n}")
    token = ann.token

    first = (await feed.get("/feed?limit=2", token)).json()
    assert [n["title"] for n in first["items"]] == ["Notice 4", "Notice 3"]
    assert first["unread"] == 5
    second = (await feed.get(f"/feed?limit=2&cursor={first['next_cursor']}", token)).json()
    third = (await feed.get(f"/feed?limit=2&cursor={second['next_cursor']}", token)).json()
    ids = [n["id"] for page in (first, second, third) for n in page["items"]]
    assert len(ids) == len(set(ids)) == 5
    assert ids == sorted(ids, reverse=True)  # newest first
    assert third["next_cursor"] is None

    newest = ids[0]
    marked = await feed.post(f"/feed/{newest}/read", token)
    assert marked.status_code == 200
    assert marked.json()["read"] is True
    again = await feed.post(f"/feed/{newest}/read", token)
    assert again.json()["read_at"] == marked.json()["read_at"]  # first read time is kept

    unread = (await feed.get("/feed?unread=true", token)).json()
    assert newest not in [n["id"] for n in unread["items"]]
    assert len(unread["items"]) == 4
    assert (await feed.get("/feed/unread-count", token)).json() == {"unread": 4}

    # "Mark all read" up to what was seen: a notice arriving meanwhile stays unread.
    seen = ids[1]
    await feed.deliver(ann, "Meanwhile")
    result = (await feed.post("/feed/read-all", token, json={"up_to": seen})).json()
    assert result == {"marked": 4, "unread": 1}
    assert (await feed.post("/feed/read-all", token)).json() == {"marked": 1, "unread": 0}


async def test_only_ones_own_notices_exist(feed: FeedApp) -> None:
    ann = feed.person()
    bob = feed.person(ann.workspace_id)
    await feed.deliver(ann)
    [notice] = await feed.notices(ann)

    for token in (bob.token, mint(new_id(), ann.id)):  # another person; Ann elsewhere
        response = await feed.post(f"/feed/{notice.id}/read", token)
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert (await feed.get("/feed", token)).json()["items"] == []
    assert (await feed.get("/feed/unread-count", ann.token)).json() == {"unread": 1}


async def test_bad_requests_get_clear_problems(feed: FeedApp) -> None:
    token = feed.person().token

    assert (await feed.request("GET", "/feed")).status_code == 401
    bad_cursor = await feed.get("/feed?cursor=%%%", token)
    assert bad_cursor.status_code == 400
    assert bad_cursor.json()["type"].endswith("/invalid-cursor")
    assert (await feed.get("/feed?limit=0", token)).status_code == 422
    assert (await feed.post("/feed/read-all", token, json={"everything": True})).status_code == 422
    assert (await feed.request("GET", "/feed/stream")).status_code == 401
