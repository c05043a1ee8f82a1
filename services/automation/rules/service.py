"""Rules: admins write them (every edit kept as a version); events and the scheduler run them.

Each workspace's enabled rules are compiled once per process into an index by trigger and
reused until the workspace's rule revision moves, so an event costs one indexed lookup of
the revision and a dictionary access per trigger, whatever the number of rules.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from datetime import UTC, datetime

from contracts import new_event_id
from kit.auth import Principal
from kit.http.problems import Problem
from kit.logging import get_logger
from kit.uow import UnitOfWork
from services.automation.models import Execution, Rule, RuleVersion
from services.automation.projections import repository as projections
from services.automation.projections.service import item_facts
from services.automation.rules import actions, repository
from services.automation.rules.engine import CompiledRule, Facts, RuleSet, evaluate
from services.automation.rules.schemas import (
    TIMED_TRIGGERS,
    Definition,
    DryRun,
    DryRunOutcome,
    DryRunRequest,
    RuleCreate,
    RuleUpdate,
)
from services.automation.scheduler import repository as jobs
from services.automation.scheduler.timing import next_run
from services.automation.settings import get_settings

log = get_logger(__name__)


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Problem(403, "forbidden", "Only workspace admins manage automation.")


# --- writing rules --------------------------------------------------------------------------


async def create_rule(uow: UnitOfWork, principal: Principal, body: RuleCreate) -> Rule:
    require_admin(principal)
    workspace = principal.workspace_id
    now = datetime.now(UTC)
    position = body.position
    if position is None:
        position = await repository.next_position(uow.session, workspace)
    definition = Definition(
        trigger=body.trigger, conditions=body.conditions, actions=body.actions, scope=body.scope
    )
    row = Rule(
        id=new_event_id(),
        workspace_id=workspace,
        name=body.name,
        trigger=body.trigger.kind,
        trigger_key=body.trigger.key,
        position=position,
        enabled=body.enabled,
        version=1,
        definition=definition.model_dump(mode="json"),
        deleted=False,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(row)
    await _changed(uow, principal, row, now)
    return row


async def update_rule(
    uow: UnitOfWork, principal: Principal, rule_id: str, body: RuleUpdate
) -> Rule:
    row = await get_rule(uow, principal, rule_id)
    current = Definition.model_validate(row.definition)
    definition = Definition(
        trigger=body.trigger or current.trigger,
        conditions=body.conditions or current.conditions,
        actions=body.actions or current.actions,
        scope=body.scope or current.scope,
    )
    row.definition = definition.model_dump(mode="json")
    row.trigger, row.trigger_key = definition.trigger.kind, definition.trigger.key
    if body.name is not None:
        row.name = body.name
    if body.enabled is not None:
        row.enabled = body.enabled
    if body.position is not None:
        row.position = body.position
    row.version += 1
    now = datetime.now(UTC)
    row.updated_at = now
    await _changed(uow, principal, row, now)
    return row


async def delete_rule(uow: UnitOfWork, principal: Principal, rule_id: str) -> None:
    row = await get_rule(uow, principal, rule_id)
    row.deleted, row.enabled = True, False
    row.version += 1
    now = datetime.now(UTC)
    row.updated_at = now
    await _changed(uow, principal, row, now)


async def _changed(uow: UnitOfWork, principal: Principal, row: Rule, now: datetime) -> None:
    """Keep the version, move the workspace's revision, and (re)plan a timed rule's runs."""
    uow.session.add(
        RuleVersion(
            rule_id=row.id,
            version=row.version,
            workspace_id=row.workspace_id,
            name=row.name,
            enabled=row.enabled,
            position=row.position,
            definition=row.definition,
            deleted=row.deleted,
            changed_by=principal.subject,
            changed_at=now,
        )
    )
    await repository.bump_revision(uow.session, row.workspace_id)
    await repository.drop_pending_ticks(uow.session, row.id)
    definition = Definition.model_validate(row.definition)
    if row.enabled and not row.deleted and definition.trigger.kind in TIMED_TRIGGERS:
        await schedule_tick(uow, row, next_run(definition.trigger, now))


async def schedule_tick(uow: UnitOfWork, row: Rule, due_at: datetime) -> None:
    await jobs.schedule(
        uow.session,
        workspace_id=row.workspace_id,
        kind="rule_tick",
        key=f"rule-tick:{row.id}:{due_at.isoformat()}",
        subject_id=row.id,
        due_at=due_at,
        payload={"rule_id": row.id, "version": row.version},
    )


async def get_rule(uow: UnitOfWork, principal: Principal, rule_id: str) -> Rule:
    require_admin(principal)
    row = await repository.rule(uow.session, principal.workspace_id, rule_id)
    if row is None:
        raise Problem(404, "not-found", "No such rule.")
    return row


async def list_rules(
    uow: UnitOfWork, principal: Principal, cursor: str | None, limit: int
) -> tuple[list[Rule], str | None]:
    require_admin(principal)
    after = _decode(cursor) if cursor else None
    rows = await repository.rules_page(uow.session, principal.workspace_id, after, limit + 1)
    more, rows = len(rows) > limit, rows[:limit]
    return rows, f"{rows[-1].position}:{rows[-1].id}" if more and rows else None


def _decode(cursor: str) -> tuple[int, str]:
    position, _, rule_id = cursor.partition(":")
    try:
        return int(position), rule_id
    except ValueError as error:
        raise Problem(400, "bad-cursor", "The cursor is not one this API issued.") from error


async def rule_versions(uow: UnitOfWork, principal: Principal, rule_id: str) -> list[RuleVersion]:
    require_admin(principal)
    found = await repository.versions(uow.session, principal.workspace_id, rule_id)
    if not found:
        raise Problem(404, "not-found", "No such rule.")
    return found


async def executions(
    uow: UnitOfWork,
    principal: Principal,
    *,
    rule_id: str | None,
    item_id: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Execution], str | None]:
    require_admin(principal)
    rows = await repository.executions_page(
        uow.session,
        principal.workspace_id,
        rule_id=rule_id,
        item_id=item_id,
        before=cursor,
        limit=limit + 1,
    )
    more, rows = len(rows) > limit, rows[:limit]
    return rows, rows[-1].id if more and rows else None


# --- running rules --------------------------------------------------------------------------


def compile_rule(row: Rule) -> CompiledRule:
    return CompiledRule.of(
        row.id, row.version, row.name, row.position, Definition.model_validate(row.definition)
    )


class _Cache:
    """Compiled rule sets per (database, workspace), newest revision only."""

    def __init__(self, size: int = 512) -> None:
        self._sets: OrderedDict[tuple[str, str], tuple[int, RuleSet]] = OrderedDict()
        self._size = size

    async def rules(self, uow: UnitOfWork, workspace_id: str) -> RuleSet:
        bind = uow.session.get_bind()
        key = (str(bind.engine.url), workspace_id)
        revision = await repository.revision(uow.session, workspace_id)
        cached = self._sets.get(key)
        if cached is not None and cached[0] == revision:
            self._sets.move_to_end(key)
            return cached[1]
        rows = await repository.enabled_rules(uow.session, workspace_id)
        ruleset = RuleSet(compile_rule(r) for r in rows)
        self._sets[key] = (revision, ruleset)
        if len(self._sets) > self._size:
            self._sets.popitem(last=False)
        return ruleset


RULES = _Cache()


async def chain_of(uow: UnitOfWork, causation_id: str | None) -> tuple[str | None, int]:
    """(rule, depth) of the command that caused an event: (None, 0) for a person's change."""
    if causation_id is None:
        return None, 0
    command = await repository.issued(uow.session, causation_id)
    if command is None:
        return None, 0
    return command.rule_id, command.depth


async def run_rules(uow: UnitOfWork, facts: Facts) -> list[Execution]:
    """Every rule the event pulls, in order; each evaluation is logged."""
    ruleset = await RULES.rules(uow, facts.workspace_id)
    candidates = ruleset.candidates(facts)
    return [await run_rule(uow, rule, facts) for rule in candidates]


async def run_rule(uow: UnitOfWork, rule: CompiledRule, facts: Facts) -> Execution:
    limit = get_settings().max_rule_chain_depth
    trace: list[dict[str, object]] = []
    results: list[dict[str, object]] = []
    reason = ""
    if facts.caused_by_rule == rule.id:
        outcome, reason = "skipped", "the change was made by this rule"
    elif facts.depth >= limit:
        outcome = "stopped"
        reason = f"chain of rule-caused changes reached depth {facts.depth} (limit {limit})"
        log.warning("rule chain stopped", rule_id=rule.id, depth=facts.depth)
    else:
        matched, trace = evaluate(rule.definition.conditions, facts)
        if matched:
            run = actions.Run(uow, rule, facts, dry_run=False)
            results = await actions.perform(run, list(rule.definition.actions))
            outcome = "fired"
        else:
            outcome, reason = "not_matched", "conditions did not hold"
    row = Execution(
        id=new_event_id(),
        workspace_id=facts.workspace_id,
        rule_id=rule.id,
        rule_version=rule.version,
        event_id=facts.event_id,
        event_type=facts.event_type,
        item_id=facts.item_id,
        depth=facts.depth,
        outcome=outcome,
        reason=reason,
        conditions=trace,
        actions=results,
        at=facts.now,
    )
    uow.session.add(row)
    return row


# --- dry run --------------------------------------------------------------------------------


async def dry_run(uow: UnitOfWork, principal: Principal, body: DryRunRequest) -> DryRun:
    """Evaluate a rule (saved or draft) against existing open items; nothing is written and
    nothing is sent. The rule's trigger is taken as pulled: the question is what it would do
    to these items."""
    require_admin(principal)
    workspace = principal.workspace_id
    if body.rule is not None:
        draft = body.rule
        rule = CompiledRule.of(
            "00000000-0000-0000-0000-000000000000",
            0,
            draft.name,
            0,
            Definition(
                trigger=draft.trigger,
                conditions=draft.conditions,
                actions=draft.actions,
                scope=draft.scope,
            ),
        )
    else:
        rule = compile_rule(await get_rule(uow, principal, body.rule_id or ""))
    rows = await projections.open_items(
        uow.session, workspace, item_ids=body.item_ids, limit=body.limit
    )
    now = datetime.now(UTC)
    outcomes: list[DryRunOutcome] = []
    for item in rows:
        facts = Facts(
            event_id="dry-run",
            event_type="dry-run",
            workspace_id=workspace,
            triggers=[(rule.trigger.kind, rule.trigger.key)],
            item=item_facts(item),
            actor_id=principal.subject,
            now=now,
        )
        if not rule.in_scope(facts.item):
            continue
        matched, trace = evaluate(rule.definition.conditions, facts)
        planned = []
        if matched:
            run = actions.Run(uow, replace(rule), facts, dry_run=True)
            planned = await actions.perform(run, list(rule.definition.actions))
        outcomes.append(
            DryRunOutcome(item_id=item.id, matched=matched, conditions=trace, actions=planned)
        )
    return DryRun(
        evaluated=len(outcomes), matched=sum(o.matched for o in outcomes), outcomes=outcomes
    )
