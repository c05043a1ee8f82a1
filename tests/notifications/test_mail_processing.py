"""Processing a batch of stored mails in one transaction (senders looked up together,
newcomers remembered together, outcomes written together) decides as one mail at a time
would: a new sender's two mails are one requester's."""

from __future__ import annotations

from sqlalchemy import delete, func, select

from services.notifications.inbound import repository
from services.notifications.inbound.processor import chunks_by_sender
from services.notifications.inbound.routing import Route
from services.notifications.inbound.service import arrival, process_all, store
from services.notifications.models import DirectoryPerson
from services.notifications.parts import mail_parts
from tests.conftest import eventually
from tests.notifications.conftest import MailSystem
from tests.notifications.test_mail_in import mail


async def test_a_batch_from_new_senders_makes_one_requester_each(mail_system: MailSystem) -> None:
    system = mail_system
    tenant = await system.sign_up()
    runtime = system.runtime("notifications")
    carla, dan = f"carla@{tenant.slug}-client.test", f"dan@{tenant.slug}-client.test"
    mails = [
        arrival(
            channel="smtp",
            mail_from=sender,
            raw=mail(f"Someone <{sender}>", tenant.address, subject, "Please help.").as_bytes(),
            routes={tenant.address: Route(tenant.workspace_id)},
        )
        for sender, subject in ((carla, "First"), (dan, "Second"), (carla, "Third"))
    ]
    # Stored and processed in one transaction, so the running processor never sees them
    # apart.
    async with runtime.unit_of_work() as uow:
        await store(uow, mails)
        rows = await repository.claim_many(uow.session, [i for m in mails for i in m.ids])
        assert len(rows) == 3
        await process_all(uow, rows, mail_parts(runtime).processing)
        await uow.commit()

    stored = {row.subject: row for row in await system.inbound(tenant.workspace_id)}
    assert {row.status for row in stored.values()} == {"accepted"}
    assert all(row.processed_at and row.event_id for row in stored.values())
    assert stored["First"].sender_user_id == stored["Third"].sender_user_id
    assert stored["First"].sender_user_id != stored["Second"].sender_user_id
    async with runtime.session_factory() as session:
        remembered = await session.scalar(
            select(func.count())
            .select_from(DirectoryPerson)
            .where(DirectoryPerson.workspace_id == tenant.workspace_id)
            .where(DirectoryPerson.email.in_([carla, dan]))
        )
    assert remembered == 2

    async def filed() -> bool:
        return len(await system.items(tenant)) == 3

    await eventually(filed, timeout=60)
    requesters = {i["title"]: i["requester_id"] for i in await system.items(tenant)}
    assert requesters["First"] == requesters["Third"] == stored["First"].sender_user_id


def test_chunks_keep_each_senders_mails_together() -> None:
    """Chunks run concurrently: a sender split across two would be minted two ids."""
    pending = [(f"m{n}", sender) for n, sender in enumerate("aAbbcabdde")]
    chunks = chunks_by_sender(pending, 3)
    assert sorted(m for chunk in chunks for m in chunk) == sorted(m for m, _ in pending)
    for sender in "abcde":
        mails = {m for m, s in pending if s.lower() == sender}
        assert sum(bool(mails & set(chunk)) for chunk in chunks) == 1
    assert chunks[0] == ["m0", "m1", "m5"]  # "a" and "A" are one sender, oldest first
    # A sender with more mails than a chunk holds stays in one (bigger) chunk.
    assert chunks_by_sender([(f"m{n}", "same") for n in range(5)], 2) == [
        [f"m{n}" for n in range(5)]
    ]


async def test_a_sender_identity_already_knows_ends_up_as_that_user(
    mail_system: MailSystem,
) -> None:
    """Notifications has not heard yet of a client identity knows (here: its directory row
    is removed, as if the user's creation were still on its way): the mail's sender is
    minted a new id, identity does not adopt it and says whose address it is, and the
    ticket ends up the known user's while the placeholder disappears."""
    system = mail_system
    tenant = await system.sign_up()
    address = f"kim@{tenant.slug}-client.test"
    known = await system.invite(tenant, address, kind="client")
    runtime = system.runtime("notifications")
    async with runtime.unit_of_work() as uow:
        await uow.session.execute(delete(DirectoryPerson).where(DirectoryPerson.id == known))
        await uow.commit()

    await system.send(
        mail(f"Kim <{address}>", tenant.address, "Logo files", "Attached."), tenant.address
    )
    [stored] = await system.processed(tenant.workspace_id, 1)
    minted = stored.sender_user_id
    assert minted is not None and minted != known

    async def the_known_users() -> bool:
        items = [i for i in await system.items(tenant) if i["title"] == "Logo files"]
        return bool(items) and items[0]["requester_id"] == known

    await eventually(the_known_users, timeout=30)

    async def placeholder_gone() -> bool:
        async with runtime.session_factory() as session:
            return await session.get(DirectoryPerson, minted) is None

    await eventually(placeholder_gone, timeout=30)
