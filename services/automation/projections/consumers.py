"""Item events drive everything automation does with them, in one transaction each: the
projection is updated, the item's SLA clocks are recomputed from its history, and the
rules the event pulls are run (their commands leave through the outbox).

Items, comments and time logged share one queue, so an item's events are usually handled
in the order they were written."""

from __future__ import annotations

from contracts import Envelope
from kit.consumers import Consumer
from kit.uow import UnitOfWork
from services.automation.projections import repository
from services.automation.projections.service import (
    ITEM_EVENTS,
    PEOPLE_EVENTS,
    actor_of,
    apply_item_event,
    apply_people_event,
    apply_type_event,
    item_facts,
)
from services.automation.rules import service as rules
from services.automation.rules.engine import Facts
from services.automation.scheduler.service import utc_now
from services.automation.sla import service as sla


async def on_item_event(envelope: Envelope, uow: UnitOfWork) -> None:
    observed = await apply_item_event(envelope, uow)
    if observed is None or envelope.workspace is None:
        return
    now = utc_now()
    item = observed.item
    if observed.history_changed:
        await uow.session.flush()
        await sla.recompute_item(uow, item, now)
    if not observed.triggers or item.deleted:
        return
    _user, acting_rule = actor_of(envelope)
    chained_rule, depth = await rules.chain_of(uow, envelope.causationid)
    person = (
        await repository.person(uow.session, envelope.workspace, observed.actor_id)
        if observed.actor_id
        else None
    )
    teams = (
        await repository.teams_of(uow.session, envelope.workspace, observed.actor_id)
        if observed.actor_id
        else frozenset()
    )
    await rules.run_rules(
        uow,
        Facts(
            event_id=envelope.id,
            event_type=envelope.type,
            workspace_id=envelope.workspace,
            triggers=observed.triggers,
            item=item_facts(item),
            changes=observed.changes,
            actor_id=observed.actor_id,
            actor_kind=person.kind if person is not None else None,
            actor_teams=teams,
            caused_by_rule=acting_rule or chained_rule,
            depth=depth,
            comment=observed.comment,
            now=now,
        ),
    )


CONSUMERS = [
    Consumer("items", list(ITEM_EVENTS), on_item_event),
    Consumer("types", ["tickets.type.changed.v1"], apply_type_event),
    Consumer("people", list(PEOPLE_EVENTS), apply_people_event),
]
