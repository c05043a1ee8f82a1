"""The processor: a background task turning stored mails into outcomes, a chunk of mails per
transaction (an exception in one mail is recorded on it and never stops the others)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime

from kit.logging import get_logger
from kit.uow import UnitOfWork
from services.notifications.inbound import repository
from services.notifications.inbound.service import Processing, process_all

log = get_logger(__name__)

BATCH = 64
CHUNK = 16


def chunks_by_sender(pending: list[tuple[str, str]], size: int) -> list[list[str]]:
    """Mail ids in chunks of about `size`, a sender's mails always in the same chunk: chunks
    run concurrently, and two of them meeting one new sender would each mint a requester
    id for the same person (identity adopts only the first)."""
    by_sender: dict[str, list[str]] = {}
    for mail_id, mail_from in pending:
        by_sender.setdefault(mail_from.lower(), []).append(mail_id)
    chunks: list[list[str]] = []
    current: list[str] = []
    for ids in by_sender.values():
        if current and len(current) + len(ids) > size:
            chunks.append(current)
            current = []
        current.extend(ids)
    if current:
        chunks.append(current)
    return chunks


class Processor:
    def __init__(self, unit_of_work: Callable[[], UnitOfWork], how: Processing) -> None:
        self._unit_of_work = unit_of_work
        self._how = how
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run_forever(self) -> None:
        while True:
            try:
                handled = await self.process_pending()
            except Exception as error:  # the database may be away: try again, do not die
                log.error("mail.processor.batch_failed", error=repr(error))
                handled = 0
            if handled:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._how.settings.inbound_poll_interval)

    async def process_pending(self) -> int:
        """Up to BATCH stored mails, in chunks handled concurrently, one transaction per
        chunk; a chunk that fails is handled again one mail per transaction, so one bad mail
        only ever fails itself."""
        async with self._unit_of_work() as uow:
            found = await repository.pending(uow.session, BATCH)
        if not found:
            return 0
        await asyncio.gather(*(self._chunk(chunk) for chunk in chunks_by_sender(found, CHUNK)))
        return len(found)

    async def _chunk(self, ids: list[str]) -> None:
        try:
            await self._together(ids)
        except Exception:
            log.warning("mail.inbound.chunk_failed", mails=len(ids))
            for mail_id in ids:
                try:
                    await self._together([mail_id])
                except Exception as error:
                    log.exception("mail.inbound.process_failed", mail_id=mail_id)
                    await self._record_failure(mail_id, error)

    async def _together(self, ids: list[str]) -> None:
        async with self._unit_of_work() as uow:
            await process_all(uow, await repository.claim_many(uow.session, ids), self._how)
            await uow.commit()

    async def _record_failure(self, mail_id: str, error: Exception) -> None:
        async with self._unit_of_work() as uow:
            row = await repository.claim(uow.session, mail_id)
            if row is None:
                return
            row.status, row.reason = "failed", f"processing error: {error!r}"[:2000]
            row.processed_at = datetime.now(UTC)
            await uow.commit()
