"""Threading of mail out, as a mail client reads it from the sink: every mail about an item
names the item's thread root and the latest messages of the conversation its recipient has
(References, capped at the root and ten), and answers the latest of them (In-Reply-To) —
our earlier mails to them and their own mails on the item alike."""

from __future__ import annotations

from email.message import EmailMessage

from services.notifications.outbound.service import queue_mail
from tests.conftest import eventually
from tests.notifications.conftest import DOMAIN, MailSystem
from tests.notifications.test_mail_in import mail
from tests.notifications.test_mail_out import comment, follow, new_item


def references(message: EmailMessage) -> list[str]:
    return str(message["References"] or "").split()


async def arrived(system: MailSystem, address: str, count: int) -> list[EmailMessage]:
    async def enough() -> bool:
        return len(system.sink.to(address)) >= count

    await eventually(enough, timeout=60)
    return system.sink.to(address)


async def test_a_followers_mails_chain_the_conversation_they_have(
    mail_system: MailSystem,
) -> None:
    system = mail_system
    tenant = await system.sign_up()
    sam = f"sam@{tenant.slug}.test"
    sam_id = await system.invite(tenant, sam, "staff")
    await arrived(system, sam, 1)  # the invitation, about no item
    item = await new_item(system, tenant, "Spring newsletter")
    root = f"<item-{item['id']}@{DOMAIN}>"
    await follow(system, tenant, item["id"], sam_id)

    seen: list[EmailMessage] = []
    for n in range(3):
        await comment(system, tenant, item["id"], f"<p>Draft {n} is ready.</p>")
        seen.append((await arrived(system, sam, 2 + n))[-1])
    first, second, third = seen
    ids = [str(m["Message-ID"]) for m in seen]
    assert (first["In-Reply-To"], references(first)) == (root, [root])
    assert (second["In-Reply-To"], references(second)) == (ids[0], [root, ids[0]])
    assert (third["In-Reply-To"], references(third)) == (ids[1], [root, *ids[:2]])

    # Sam answers the third by mail, through his own reply address.
    answer = mail(
        f"Sam <{sam}>",
        str(third["Reply-To"]),
        f"Re: {third['Subject']}",
        "Looks good to me.",
        In_Reply_To=ids[2],
        References=" ".join([*references(third), ids[2]]),
    )
    await system.send(answer, str(third["Reply-To"]))

    async def answered() -> bool:
        return any(c["author_id"] == sam_id for c in await system.comments(tenant, item["id"]))

    await eventually(answered, timeout=60)
    # The next mail he gets follows his answer: the latest message of the item he saw.
    await comment(system, tenant, item["id"], "<p>Sent to the printer.</p>")
    fourth = (await arrived(system, sam, 5))[-1]
    assert "Sent to the printer." in str(fourth.get_body(preferencelist=("plain",)))
    assert fourth["In-Reply-To"] == answer["Message-ID"]
    assert references(fourth) == [root, *ids, str(answer["Message-ID"])]


async def test_references_keep_the_root_and_the_ten_latest(mail_system: MailSystem) -> None:
    system = mail_system
    tenant = await system.sign_up()
    tess = f"tess@{tenant.slug}.test"
    tess_id = await system.invite(tenant, tess, "staff")
    await arrived(system, tess, 1)
    item = await new_item(system, tenant, "Catalogue")
    root = f"<item-{item['id']}@{DOMAIN}>"
    notifications = system.runtime("notifications")
    async with notifications.unit_of_work() as uow:
        for n in range(12):
            await queue_mail(
                uow,
                workspace_id=tenant.workspace_id,
                user_id=tess_id,
                dedupe_key=f"note:{n}",
                kind="message",
                subject=f"Note {n}",
                text=f"Note {n}",
                html=f"<p>Note {n}</p>",
                item_id=item["id"],
            )
        await uow.commit()

    received = await arrived(system, tess, 13)
    by_subject = {str(m["Subject"]): m for m in received}
    notes = [by_subject[f"Note {n}"] for n in range(12)]
    ids = [str(m["Message-ID"]) for m in notes]
    last = notes[-1]
    assert references(last) == [root, *ids[1:11]]
    assert last["In-Reply-To"] == ids[10]
    assert references(notes[0]) == [root]
