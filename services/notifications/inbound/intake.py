"""Where arriving mail becomes durable: the edge both channels (SMTP listener, HTTP
endpoint) hand their mail to before answering the sender.

Mails arriving together — from different SMTP sessions, or posts — share one transaction
(`kit.groupcommit`): under load the listener pays one commit per batch instead of one per
mail, which is what bounded its rate. `take` returns only once the transaction holding
the mail has committed, so the sender's 250 (or 202) still means stored; a batch that
fails is stored again one mail per transaction, so a mail the database refuses fails
alone and the others of its batch are still taken."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kit.groupcommit import GroupCommit
from kit.uow import UnitOfWork
from services.notifications.inbound.service import Arrival, store

MAX_BATCH = 64
"""Mails per transaction at most: well above the concurrent SMTP sessions of a busy
listener, small enough that a retried batch costs little."""


class Intake:
    def __init__(
        self, unit_of_work: Callable[[], UnitOfWork], on_stored: Callable[[], None]
    ) -> None:
        self._unit_of_work = unit_of_work
        self._on_stored = on_stored
        self._group = GroupCommit(self._commit, name="mail-intake", max_batch=MAX_BATCH)

    async def take(self, mail: Arrival) -> None:
        """Store the mail durably, or raise (then it is not stored: answer "try again")."""
        await self._group(mail)
        if mail.refused is None:
            self._on_stored()

    async def _commit(self, mails: Sequence[Arrival]) -> None:
        async with self._unit_of_work() as uow:
            await store(uow, mails)
            await uow.commit()
