"""From a committed delivery to its first attempt without a second transaction.

A delivery queued by a consumed event would otherwise be written, then found and claimed by
the dispatcher in a transaction of its own, then attempted. When this process's dispatcher
has a free slot for the endpoint, the delivery is instead written already claimed (first
attempt counted, leased like any claim) and handed to the dispatcher once the consumer's
transaction commits; if that transaction rolls back, the slot is given back. A process that
dies in between leaves a leased row, which the dispatcher of any replica claims again when
the lease runs out — the same recovery as for a claim.

Dispatchers register per database engine: tests run several services' runtimes in one
process, and a delivery must go to the dispatcher of the database it was written to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import event as orm_event

from kit.db.times import in_utc
from kit.uow import UnitOfWork


class Signing(Protocol):
    """What an attempt needs of its endpoint (an ORM row, or the dispatcher's `Target`)."""

    @property
    def id(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def secret(self) -> str: ...
    @property
    def previous_secret(self) -> str | None: ...
    @property
    def previous_secret_expires_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class Claimed:
    """A delivery this process attempts now."""

    delivery_id: str
    workspace_id: str
    endpoint_id: str
    url: str
    body: str
    attempt: int
    secrets: tuple[str, ...]

    @classmethod
    def of(
        cls,
        endpoint: Signing,
        *,
        delivery_id: str,
        workspace_id: str,
        body: str,
        attempt: int,
        moment: datetime,
    ) -> Claimed:
        """Signed with the secrets in use at `moment`: the current one, and the previous one
        while its overlap after a rotation lasts."""
        secrets = [endpoint.secret]
        expires = endpoint.previous_secret_expires_at
        if endpoint.previous_secret and expires is not None and in_utc(expires) > moment:
            secrets.append(endpoint.previous_secret)
        return cls(
            delivery_id, workspace_id, endpoint.id, endpoint.url, body, attempt, tuple(secrets)
        )


class LocalDispatcher(Protocol):
    def wake(self) -> None:
        """Deliveries were queued: look for due ones now rather than at the next poll."""

    def now(self) -> datetime: ...

    def reserve(self, endpoint_id: str, max_concurrency: int) -> datetime | None:
        """Take one of the endpoint's slots for an attempt about to be committed; the lease's
        end, or None when every slot is busy."""

    def hand_over(self, claimed: list[Claimed]) -> None:
        """Attempt these (their slots were reserved and their rows committed)."""

    def release(self, endpoint_ids: list[str]) -> None:
        """Give back slots reserved for rows that were not committed."""


_LOCAL: dict[int, LocalDispatcher] = {}


def register(engine: Any, dispatcher: LocalDispatcher) -> Callable[[], None]:
    """`engine`: the sync Engine of the dispatcher's database (`AsyncEngine.sync_engine`).
    Unregistering puts back the one registered before, if any."""
    key = id(engine)
    previous = _LOCAL.get(key)
    _LOCAL[key] = dispatcher

    def unregister() -> None:
        if _LOCAL.get(key) is dispatcher:
            if previous is None:
                del _LOCAL[key]
            else:
                _LOCAL[key] = previous

    return unregister


def local_dispatcher(uow: UnitOfWork) -> LocalDispatcher | None:
    return _LOCAL.get(id(uow.session.get_bind()))


@dataclass
class _AfterCommit:
    dispatcher: LocalDispatcher
    claimed: list[Claimed] = field(default_factory=list)
    due_now: bool = False
    """Some committed deliveries were not handed over and are due: wake the claim loop."""
    settled: bool = False

    def committed(self, _session: Any) -> None:
        if not self.settled:
            self.settled = True
            if self.claimed:
                self.dispatcher.hand_over(self.claimed)
            if self.due_now:
                self.dispatcher.wake()

    def rolled_back(self, _session: Any) -> None:
        if not self.settled:
            self.settled = True
            self.dispatcher.release([item.endpoint_id for item in self.claimed])


def after_commit(
    uow: UnitOfWork, dispatcher: LocalDispatcher, claimed: list[Claimed], *, due_now: bool
) -> None:
    """Once the unit of work commits: hand `claimed` over, and wake the dispatcher if other
    deliveries it wrote are `due_now`; if it rolls back instead, give the slots back."""
    session = uow.session.sync_session
    pending: _AfterCommit | None = session.info.get("webhook_handoff")
    if pending is None or pending.settled:
        pending = _AfterCommit(dispatcher)
        session.info["webhook_handoff"] = pending
        orm_event.listen(session, "after_commit", pending.committed, once=True)
        orm_event.listen(session, "after_rollback", pending.rolled_back, once=True)
    pending.claimed.extend(claimed)
    pending.due_now = pending.due_now or due_now
