"""Group commit on its own, with a fake transaction: concurrent pieces share one, each
submitter returns only after the transaction holding its piece, and a failing piece fails
alone."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from kit.groupcommit import GroupCommit, Interrupted


class Ledger:
    """A fake transaction log: which pieces committed together, refusing any piece < 0."""

    def __init__(self, delay: float = 0.01) -> None:
        self.attempts: list[list[int]] = []
        self.committed: list[list[int]] = []
        self.delay = delay

    async def commit(self, pieces: Sequence[int]) -> None:
        self.attempts.append(list(pieces))
        await asyncio.sleep(self.delay)  # the commit's round trip, while others gather
        if any(piece < 0 for piece in pieces):
            raise ValueError(f"refused {[p for p in pieces if p < 0]}")
        self.committed.append(list(pieces))


async def test_concurrent_pieces_share_transactions_and_return_after_theirs() -> None:
    ledger = Ledger()
    group = GroupCommit(ledger.commit, name="test", max_batch=8)
    returned: list[int] = []

    async def submit(piece: int) -> None:
        await group(piece)
        # Never before the transaction holding the piece committed.
        assert any(piece in batch for batch in ledger.committed)
        returned.append(piece)

    await asyncio.gather(*(submit(n) for n in range(20)))

    assert sorted(returned) == list(range(20))
    assert sorted(p for batch in ledger.committed for p in batch) == list(range(20))
    assert len(ledger.committed) < 20
    assert max(len(batch) for batch in ledger.committed) <= 8


async def test_a_lone_piece_commits_at_once() -> None:
    ledger = Ledger()
    group = GroupCommit(ledger.commit, name="test")
    await group(1)
    await group(2)
    assert ledger.committed == [[1], [2]]


async def test_a_refused_piece_fails_alone() -> None:
    ledger = Ledger()
    group = GroupCommit(ledger.commit, name="test")
    results = await asyncio.gather(*(group(n) for n in (1, 2, -3, 4)), return_exceptions=True)

    assert [type(r) for r in results] == [type(None), type(None), ValueError, type(None)]
    assert ledger.attempts[0] == [1, 2, -3, 4]
    assert ledger.attempts[1:] == [[1], [2], [-3], [4]]
    assert ledger.committed == [[1], [2], [4]]


async def test_stopped_mid_batch_nobody_is_told_it_committed() -> None:
    ledger = Ledger(delay=10)
    group = GroupCommit(ledger.commit, name="test-stopped")
    waiting = [asyncio.ensure_future(group(n)) for n in range(3)]
    await asyncio.sleep(0.05)
    # As at shutdown, when the loop's tasks are cancelled.
    [flusher] = [
        task for task in asyncio.all_tasks() if task.get_name() == "group-commit:test-stopped"
    ]
    flusher.cancel()
    for submitted in waiting:
        with pytest.raises(Interrupted):
            await submitted
    assert ledger.committed == []
