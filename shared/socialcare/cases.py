"""Cases: one case follows a customer across channels and onto the phone (ARCHITECTURE.md §5).

Public entry points (the pipeline, identity, CRM, API and the SLA monitor call these):

* ``on_interaction(interaction, customer_id, context)`` -> ``CaseOutcome``: thread an inbound
  (or our own outbound) interaction into the customer's case, triage, SLA, route, and say what
  to enqueue. Idempotent on the interaction id.
* ``record_first_response(case_id, at)``: the first reply stops the first-response clock.
* ``merge_customers(source_customer_id, target_customer_id)``: their open cases merge.
* ``open_case_for(customer_id)``, ``connect_summary(customer_id)``, ``get_case``, ``list_cases``.
* agent actions: ``resolve``, ``reopen``, ``handoff``, ``claim``, ``release``.
* ``escalate_breaches(now)``: the SLA monitor's run.
* CRM: ``set_crm_record``, ``case_for_crm_record``.

Case ids are ``SC-<year>-<sequence>``. The sequence comes from blocks reserved per execution
environment with one atomic ``ADD`` on a StateTable counter (``SEQ#CASE#<year>``): one write
per ``case_id_block`` cases instead of a hot counter per case. Ids are unique and increasing
per environment, not gapless (an environment that is recycled leaves its unused ids).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit

from socialcare import aws, faq, identity, listening, routing, sla, workitems
from socialcare.config import case_settings
from socialcare.errors import BadRequest, Conflict, NotFound
from socialcare.models.case import Case, CaseStatus, Handoff, InteractionRef, Priority, Team
from socialcare.models.interaction import Channel, Direction, Interaction, Kind
from socialcare.models.triage import Route, Sentiment, Triage
from socialcare.models.workitem import CustomerContext, RoutingInfo, WorkItem, WorkItemKind
from socialcare.observability import metrics
from socialcare.sentiment import analyse
from socialcare.settings import get_settings
from socialcare.store.cases import (
    RECENT_INTERACTIONS,
    CasesRepository,
    CustomerRace,
    DuplicateInteraction,
    VersionConflict,
)
from socialcare.store.cases import iso as iso_seconds
from socialcare.triage import triage
from socialcare.workitems import build

logger = Logger(child=True)

_ATTEMPTS = 8
_SUMMARY_CHARS = 280


@dataclass
class CaseOutcome:
    """What the pipeline does next: enqueue ``work_items`` (``workitems.send``). Every case
    version written is already queued for the CRM by the cases repository."""

    case: Case | None
    work_items: list[WorkItem] = field(default_factory=list)
    created: bool = False
    reopened: bool = False
    duplicate: bool = False
    spam: bool = False
    spam_reasons: list[str] = field(default_factory=list)
    incident: bool = False
    triage: Triage | None = None


@dataclass
class MergeOutcome:
    survivor: Case | None
    merged: Case | None
    work_items: list[WorkItem] = field(default_factory=list)



# ---------------------------------------------------------------- case ids
class _IdBlocks:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._year = 0
        self._next = 1
        self._end = 0

    def reset(self) -> None:
        with self._lock:
            self._year, self._next, self._end = 0, 1, 0

    def next_id(self, now: datetime) -> str:
        year = now.astimezone(UTC).year
        with self._lock:
            if year != self._year or self._next > self._end:
                size = case_settings().case_id_block
                result = aws.dynamodb().update_item(
                    TableName=get_settings().state_table,
                    Key={"pk": {"S": f"SEQ#CASE#{year}"}, "sk": {"S": "SEQ"}},
                    # ADD is atomic: concurrent environments get disjoint blocks.
                    UpdateExpression="ADD reserved :n",
                    ExpressionAttributeValues={":n": {"N": str(size)}},
                    ReturnValues="UPDATED_NEW",
                )
                end = int(result["Attributes"]["reserved"]["N"])
                self._year, self._next, self._end = year, end - size + 1, end
            number = self._next
            self._next += 1
        # Six digits keep ids of a normal year the same width; beyond that they simply grow.
        return f"SC-{year}-{number:06d}"


_ids = _IdBlocks()


def new_case_id(now: datetime | None = None) -> str:
    return _ids.next_id(now or datetime.now(UTC))


def reset() -> None:
    """Forget per-environment state (tests)."""
    _ids.reset()


def _repo() -> CasesRepository:
    return CasesRepository.default()


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC)


# ---------------------------------------------------------------- threading interactions
def _ref(interaction: Interaction, sentiment: Sentiment | None) -> InteractionRef:
    text = " ".join((interaction.text or "").split())
    if not text and interaction.kind is Kind.CALL:
        text = "phone call"
    return InteractionRef(
        id=interaction.id,
        channel=interaction.channel.value,
        kind=interaction.kind.value,
        direction=interaction.direction.value,
        occurred_at=interaction.occurred_at,
        author=interaction.author.handle or interaction.author.name or interaction.author.id,
        summary=text[:_SUMMARY_CHARS],
        sentiment=sentiment.label if sentiment else None,
        public=interaction.is_public,
    )


def _kind_of(route: Route) -> WorkItemKind:
    try:
        return WorkItemKind(route.item)
    except ValueError:
        return WorkItemKind.RESPOND


def _add_interaction(case: Case, ref: InteractionRef, now: datetime) -> None:
    if ref.channel not in case.channels:
        case.channels.append(ref.channel)
    case.interaction_count += 1
    case.recent = sorted([*case.recent, ref], key=lambda r: r.occurred_at)[-RECENT_INTERACTIONS:]
    case.updated_at = now


def _apply_triage(case: Case, result: Triage, ref_public: bool) -> None:
    case.public = case.public or ref_public
    for category in result.categories:
        if category not in case.categories:
            case.categories.append(category)
    case.sentiment = result.sentiment.label
    case.sentiment_score = result.sentiment.score
    # Never lower automatically: an escalated or urgent case stays so until an agent acts.
    if result.priority.rank > case.priority.rank:
        case.priority = result.priority
        case.priority_reasons = result.reasons


def _apply_route(case: Case, route: Route, now: datetime, interaction_id: str) -> None:
    case.routing = route.model_dump(mode="json") | {"interaction_id": interaction_id}
    if route.assign and route.team is not case.team:
        case.handoffs.append(
            Handoff(from_team=case.team, to_team=route.team, at=now, by=f"routing:{route.rule}", reason=route.reason)
        )
        case.team = route.team
        case.lease_owner = case.lease_until = None  # the new team claims it afresh


def _within_reopen_window(case: Case, now: datetime) -> bool:
    if case.status is not CaseStatus.RESOLVED or case.resolved_at is None:
        return False
    return now - case.resolved_at <= timedelta(hours=case_settings().reopen_window_hours)


def _current_case(repo: CasesRepository, customer_id: str) -> tuple[str | None, Case | None]:
    """(pointer value, the case it leads to after following merges)."""
    pointer = repo.latest_case_id(customer_id)
    case = repo.get(pointer) if pointer else None
    hops = 0
    while case is not None and case.status is CaseStatus.MERGED and case.merged_into and hops < 5:
        case = repo.get(case.merged_into)
        hops += 1
    return pointer, case


def _customer_context(case: Case) -> CustomerContext | None:
    """The returning-customer context for items raised outside the pipeline (hand-off,
    escalation, close-the-loop), so they carry the same context as the first item did.

    An item is never held back for it: if the profiles cannot be read, the case snapshot still
    carries the essentials.
    """
    if not case.customer_id:
        return None
    try:
        found = identity.context_for(case.customer_id)
    except Exception:  # profiles unavailable: the case snapshot still carries the essentials
        logger.warning("customer context unavailable", extra={"case_id": case.id}, exc_info=True)
        found = {}
    return CustomerContext.model_validate({**(found or {}), "customer_id": case.customer_id})


def _items_for(
    case: Case,
    route: Route,
    ref: InteractionRef,
    interaction: Interaction,
    ctx: CustomerContext | None,
    now: datetime,
) -> list[WorkItem]:
    suggestion = faq.suggest(interaction.text, interaction.language)
    item = build(
        _kind_of(route),
        route.team,
        case,
        cause=interaction.id,
        routing=RoutingInfo(rule=route.rule, version=route.version, reason=route.reason),
        customer=ctx,
        trigger=ref,
        suggestion=suggestion,
        now=now,
    )
    return [item]


def _thread(
    repo: CasesRepository,
    interaction: Interaction,
    customer_id: str,
    ctx: CustomerContext,
    result: Triage,
    now: datetime,
) -> CaseOutcome:
    pointer, case = _current_case(repo, customer_id)
    ref = _ref(interaction, result.sentiment)
    created = reopened = False
    if case is not None and case.is_open:
        expected: int | None = case.version
    elif case is not None and _within_reopen_window(case, now):
        expected = case.version
        case.status = CaseStatus.OPEN
        case.reopened_at = now
        case.reopen_count += 1
        case.resolved_at = None
        case.first_response_at = None
        reopened = True
    else:
        expected = None
        created = True
        case = None
    route = routing.route(interaction, result, case.team if case else None)

    if case is None:
        case = Case(
            id=new_case_id(now),
            status=CaseStatus.NEW,
            priority=result.priority,
            priority_reasons=result.reasons,
            team=route.team,
            public=interaction.is_public,
            began_public=interaction.is_public,
            sla=sla.compute(now, public=interaction.is_public, priority=result.priority, team=route.team),
            opened_at=now,
            updated_at=now,
            customer_id=customer_id,
        )
    elif case.status is CaseStatus.PENDING:
        case.status = CaseStatus.OPEN  # the customer answered: back to the agents

    _add_interaction(case, ref, now)
    _apply_triage(case, result, interaction.is_public)
    _apply_route(case, route, now, interaction.id)
    case.sla = (
        sla.compute(now, public=case.public, priority=case.priority, team=case.team)
        if reopened
        else sla.tighten(case.sla, now, public=case.public, priority=case.priority, team=case.team)
    )
    case.version = (expected or 0) + 1

    ops = [
        repo.put_case_op(case, expected),
        repo.marker_op(interaction.id, case.id, route.model_dump(mode="json")),
        {"Put": repo.timeline_put(case.id, ref)},
    ]
    if created:
        ops.append(repo.pointer_op(customer_id, case.id, pointer))
    repo.transact(ops)
    return CaseOutcome(
        case=case,
        work_items=_items_for(case, route, ref, interaction, ctx, now),
        created=created,
        reopened=reopened,
        triage=result,
    )


def _incident(
    repo: CasesRepository, interaction: Interaction, result: Triage, post_id: str, known: str | None, now: datetime
) -> CaseOutcome:
    """Join the incident of ``post_id`` (creating it if this mention tipped the flood)."""
    ref = _ref(interaction, result.sentiment)
    case_id, won = (known, False) if known else listening.claim_incident(post_id, new_case_id(now), now)
    assert case_id is not None
    items: list[WorkItem] = []
    case = repo.get(case_id)
    ops: list[Any] = [
        repo.marker_op(interaction.id, case_id, None),
        {"Put": repo.timeline_put(case_id, ref)},
    ]
    if case is None:
        # The winner creates the case; a joiner that finds it missing (the winner died between
        # claiming and writing) creates it too, conditionally, so it is never left dangling.
        priority = Priority.highest(result.priority, Priority.HIGH)
        case = Case(
            id=case_id,
            kind="incident",
            status=CaseStatus.NEW,
            priority=priority,
            priority_reasons=[f"incident: a flood of mentions of post {post_id}", *result.reasons],
            team=Team.SOCIAL,
            public=True,
            began_public=True,
            sla=sla.compute(now, public=True, priority=priority, team=Team.SOCIAL.value),
            opened_at=now,
            updated_at=now,
            incident_post_id=post_id,
            channels=[interaction.channel.value],
            categories=list(result.categories),
            sentiment=result.sentiment.label,
            interaction_count=1,
            recent=[ref],
            version=1,
        )
        ops.insert(0, repo.put_case_op(case, None))
        reason = f"{interaction.channel.value} post {post_id} is drawing a flood of mentions"
        items.append(
            build(
                WorkItemKind.INCIDENT,
                Team.SOCIAL,
                case,
                cause=f"incident:{post_id}",
                routing=RoutingInfo(rule="incident", version=routing.rules_version(), reason=reason),
                trigger=ref,
                suggestion=faq.suggest(interaction.text, interaction.language),
                now=now,
            )
        )
    try:
        repo.transact(ops)
    except VersionConflict:
        # Another mention created the incident case at the same moment: just join it.
        repo.transact(ops[1:])
        items = []
        case = repo.get(case_id) or case
    logger.debug("mention joined incident", extra={"case_id": case_id, "post_id": post_id, "won": won})
    return CaseOutcome(
        case=case, work_items=items, created=bool(items), incident=True, triage=result
    )


def _outbound(repo: CasesRepository, interaction: Interaction, customer_id: str, now: datetime) -> CaseOutcome:
    """Our own reply (sent natively on the platform, or echoed back): timeline + first response."""
    _, case = _current_case(repo, customer_id)
    if case is None or not case.is_open:
        return CaseOutcome(case=case)
    ref = _ref(interaction, None)
    for _ in range(_ATTEMPTS):
        expected = case.version
        _add_interaction(case, ref, now)
        if case.first_response_at is None:
            case.first_response_at = interaction.occurred_at
            if case.status is CaseStatus.NEW:
                case.status = CaseStatus.OPEN
        case.version = expected + 1
        try:
            repo.transact(
                [
                    repo.put_case_op(case, expected),
                    repo.marker_op(interaction.id, case.id, None),
                    {"Put": repo.timeline_put(case.id, ref)},
                ]
            )
            return CaseOutcome(case=case)
        except VersionConflict:
            case = repo.get(case.id)
            if case is None or not case.is_open:
                return CaseOutcome(case=case)
    raise VersionConflict("the case kept changing concurrently", case_id=case.id)


def _duplicate(
    repo: CasesRepository,
    interaction: Interaction,
    case_id: str | None,
    route: dict[str, Any] | None,
    ctx: CustomerContext,
    now: datetime,
) -> CaseOutcome:
    """A redelivery: nothing is written again, but the work item is rebuilt with the same id,
    so a pipeline that crashed before enqueueing it can finish (SQS drops a second copy)."""
    case = repo.get(case_id) if case_id else None
    items: list[WorkItem] = []
    if case is not None and route and interaction.direction is Direction.INBOUND:
        decided = Route.model_validate(route)
        ref = next((r for r in case.recent if r.id == interaction.id), None) or _ref(interaction, None)
        items = _items_for(case, decided, ref, interaction, ctx, now)
    return CaseOutcome(case=case, work_items=items, duplicate=True)


def on_interaction(
    interaction: Interaction, customer_id: str, context: dict[str, Any] | None = None, *, now: datetime | None = None
) -> CaseOutcome:
    """Thread one interaction into its case (see the module docstring)."""
    if not customer_id or not customer_id.strip():
        # An empty id would be an invalid CustomerIndex key and merge every stranger into one case.
        raise ValueError("on_interaction needs the recognised customer's id")
    now = _now(now)
    repo = _repo()
    ctx = CustomerContext.model_validate({**(context or {}), "customer_id": customer_id})
    seen_case, seen_route = repo.interaction_case_id(interaction.id)
    if seen_case is not None:
        return _duplicate(repo, interaction, seen_case, seen_route, ctx, now)
    try:
        if interaction.direction is Direction.OUTBOUND:
            return _outbound(repo, interaction, customer_id, now)
        sentiment = analyse(interaction.text, interaction.language)
        result = triage(interaction, tier=ctx.tier, sentiment=sentiment)
        heard = listening.record(interaction, sentiment, now=now)
        if heard.spam and not ctx.returning and repo.latest_case_id(customer_id) is None:
            # A stranger's bot-like post opens no case; a known customer is never dropped.
            logger.info("spam: no case", extra={"interaction_id": interaction.id, "reasons": heard.spam_reasons})
            return CaseOutcome(case=None, spam=True, spam_reasons=heard.spam_reasons, triage=result)
        # A customer with an open case keeps her story in it, even when she joins a flood.
        if heard.incident_post_id and open_case_for(customer_id) is None:
            return _incident(repo, interaction, result, heard.incident_post_id, heard.incident_case_id, now)
        for _ in range(_ATTEMPTS):
            try:
                return _thread(repo, interaction, customer_id, ctx, result, now)
            except (VersionConflict, CustomerRace):
                continue  # someone changed the case or opened one: read again, apply again
        raise VersionConflict("the customer's case kept changing concurrently", customer_id=customer_id)
    except DuplicateInteraction as dup:
        _, route = repo.interaction_case_id(interaction.id)
        return _duplicate(repo, interaction, dup.case_id, route, ctx, now)


# ---------------------------------------------------------------- reads
def open_case_for(customer_id: str) -> Case | None:
    _, case = _current_case(_repo(), customer_id)
    return case if case is not None and case.is_open else None


def get_case(case_id: str, *, with_interactions: bool = True) -> Case:
    repo = _repo()
    case = repo.get_with_interactions(case_id) if with_interactions else repo.get(case_id)
    if case is None:
        raise NotFound(f"case {case_id} not found", case_id=case_id)
    return case


def list_cases(
    team: Team, status: CaseStatus, *, limit: int = 25, cursor: str | None = None
) -> tuple[list[Case], str | None]:
    return _repo().list_queue(team, status, limit=limit, cursor=cursor)


def connect_summary(customer_id: str) -> dict[str, Any]:
    """Flat attributes for the Amazon Connect contact flow (CallerLookupFunction)."""
    case = open_case_for(customer_id)
    if case is None:
        return {"openCaseId": "", "casePriority": "", "channelCount": "0", "sentiment": ""}
    return {
        "openCaseId": case.id,
        "casePriority": case.priority.value,
        "channelCount": str(len(case.channels)),
        "sentiment": case.sentiment or "",
    }


def case_for_crm_record(crm_record_id: str) -> Case | None:
    case_id = _repo().by_crm_record(crm_record_id)
    return _repo().get(case_id) if case_id else None


def set_crm_record(case_id: str, crm_record_id: str) -> Case:
    def change(case: Case) -> bool:
        if case.crm_record_id == crm_record_id:
            return False
        case.crm_record_id = crm_record_id
        return True

    return _repo().update(case_id, change)


# ---------------------------------------------------------------- agent actions
def record_first_response(case_id: str, at: datetime) -> Case:
    """The first outbound reply stops the first-response clock (later replies change nothing)."""
    at = at.astimezone(UTC)

    def change(case: Case) -> bool:
        if case.first_response_at is not None and case.first_response_at <= at:
            return False
        case.first_response_at = at
        if case.status is CaseStatus.NEW:
            case.status = CaseStatus.OPEN
        return True

    return _repo().update(case_id, change)


def _require_open(case: Case) -> None:
    if not case.is_open:
        raise Conflict(f"case {case.id} is {case.status.value}", case_id=case.id, status=case.status.value)


def resolve(case_id: str, *, by: str = "agent", note: str | None = None, now: datetime | None = None) -> CaseOutcome:
    """Resolve a case. A call-centre case that began in public gets the social team a
    "close the loop publicly" item, so the people who saw the complaint see it answered."""
    now = _now(now)

    def change(case: Case) -> bool:
        if case.status is CaseStatus.RESOLVED:
            return False  # resolving twice is a retry: answer as the first time did
        _require_open(case)
        case.status = CaseStatus.RESOLVED
        case.resolved_at = now
        case.lease_owner = case.lease_until = None
        case.pending_items = []
        return True

    case = _repo().update(case_id, change, now=now)
    items: list[WorkItem] = []
    if case.team is Team.CALLCENTRE and case.began_public:
        resolved_at = case.resolved_at or now
        items.append(
            build(
                WorkItemKind.CLOSE_LOOP,
                Team.SOCIAL,
                case,
                # Same resolution, same id: a retried resolve cannot post the item twice.
                cause=f"resolved:{iso_seconds(resolved_at)}",
                routing=RoutingInfo(
                    rule="close-the-loop",
                    version=routing.rules_version(),
                    reason="the call centre resolved a case that began in public: close the loop publicly",
                ),
                trigger=next((r for r in reversed(case.recent) if r.public), None),
                customer=_customer_context(case),
                note=note,
                now=now,
            )
        )
    logger.info("case resolved", extra={"case_id": case_id, "by": by})
    return CaseOutcome(case=case, work_items=items)


def reopen(case_id: str, *, by: str = "agent", now: datetime | None = None) -> CaseOutcome:
    now = _now(now)
    repo = _repo()

    def change(case: Case) -> bool:
        if case.status is not CaseStatus.RESOLVED:
            raise Conflict(f"case {case.id} is {case.status.value}, not resolved", case_id=case.id)
        if case.customer_id and repo.latest_case_id(case.customer_id) not in (None, case.id):
            # Reopening an older case would give the customer two open cases.
            raise Conflict("the customer has a newer case; reopen that one", case_id=case.id)
        case.status = CaseStatus.OPEN
        case.resolved_at = None
        case.reopened_at = now
        case.reopen_count += 1
        case.first_response_at = None
        case.sla = sla.compute(now, public=case.public, priority=case.priority, team=case.team)
        return True

    case = repo.update(case_id, change, now=now)
    logger.info("case reopened", extra={"case_id": case_id, "by": by})
    return CaseOutcome(case=case, reopened=True)


def handoff(
    case_id: str, to: Team, *, note: str | None = None, by: str = "agent", now: datetime | None = None
) -> CaseOutcome:
    """Move the case to the other team, with a hand-off item carrying its full context."""
    now = _now(now)
    to = Team(to)

    def change(case: Case) -> bool:
        last = case.handoffs[-1] if case.handoffs else None
        if case.team is to and last is not None and last.to_team is to and last.by == by and case.is_open:
            return False  # a retry of this hand-off: re-send its item, change nothing
        _require_open(case)
        if case.team is to:
            raise Conflict(f"case {case.id} is already with {to.value}", case_id=case.id)
        case.handoffs.append(
            Handoff(from_team=case.team, to_team=to, at=now, by=by, reason="agent hand-off", note=note)
        )
        case.team = to
        case.lease_owner = case.lease_until = None
        case.sla = sla.tighten(case.sla, now, public=case.public, priority=case.priority, team=to.value)
        return True

    case = _repo().update(case_id, change, now=now)
    item = build(
        WorkItemKind.HANDOFF,
        to,
        case,
        cause=f"handoff:{len(case.handoffs)}",
        routing=RoutingInfo(rule="handoff", version=routing.rules_version(), reason=f"handed off by {by}"),
        trigger=case.recent[-1] if case.recent else None,
        customer=_customer_context(case),
        note=note,
        now=now,
    )
    return CaseOutcome(case=case, work_items=[item])


def claim(team: Team, agent: str, *, now: datetime | None = None) -> Case | None:
    """Lease the most urgent unclaimed open case of ``team`` to ``agent`` (None: queue empty).

    Candidates come from QueueIndex (escalated, new and open partitions, SLA due order, leased
    ones filtered out); the lease itself is a version-conditional write, so two agents
    claiming at once get two different cases. Pending cases wait for the customer, not for an
    agent, and are not claimable.
    """
    now = _now(now)
    repo = _repo()
    lease = timedelta(seconds=case_settings().claim_lease_seconds)
    candidates: list[Case] = []
    for status in (CaseStatus.ESCALATED, CaseStatus.NEW, CaseStatus.OPEN):
        for found, case in enumerate(repo.iter_queue(team, status, unleased_at=now, limit=25), start=1):
            candidates.append(case)
            if found >= 5:  # the few most urgent per status are enough to survive races
                break
    candidates.sort(key=lambda c: (c.running_due, -c.priority.rank))
    for candidate in candidates:
        won = False

        def change(case: Case) -> bool:
            nonlocal won
            if not case.is_open or case.team is not team or case.leased(now) or case.status is CaseStatus.PENDING:
                return False
            # Whole seconds: lease times are compared as strings in the claim query's filter.
            case.lease_owner, case.lease_until = agent, (now + lease).replace(microsecond=0)
            if case.status is CaseStatus.NEW:
                case.status = CaseStatus.OPEN
            won = True
            return True

        case = repo.update(candidate.id, change, now=now)
        if won:
            return case
    return None


def release(case_id: str, agent: str | None = None, *, now: datetime | None = None) -> Case:
    now = _now(now)

    def change(case: Case) -> bool:
        if case.lease_owner is None:
            return False
        if agent and case.lease_owner != agent and case.leased(now):
            raise Conflict(f"case {case.id} is leased by another agent", case_id=case.id)
        case.lease_owner = case.lease_until = None
        return True

    return _repo().update(case_id, change, now=now)


# ---------------------------------------------------------------- CRM wiring
def crm_snapshot(case: Case) -> dict[str, Any]:
    """The case in the CRM read model's shape (``crm.schema.CaseSnapshot`` fields)."""
    first = case.recent[0].summary if case.recent else None
    return {
        "id": case.id,
        "version": max(case.version, 1),
        "status": case.status.value,
        "is_open": case.is_open,
        "priority": case.priority.value,
        "team": case.team.value,
        "channels": list(case.channels),
        "subject": (first or case.id)[:120],
        "category": case.categories[0] if case.categories else None,
        "sentiment": case.sentiment,
        "opened_at": case.opened_at,
        "updated_at": case.updated_at,
        "resolved_at": case.resolved_at,
        "first_response_due_at": case.sla.first_response_due,
        "resolution_due_at": case.sla.resolution_due,
        "merged_into": case.merged_into,
    }


class CrmCaseService:
    """The commands a CRM may send (``crm.inbound.CaseService``); wire it with
    ``crm.inbound.use_case_service(cases.CrmCaseService)``. Work items they cause are enqueued."""

    def resolve_case(self, case_id: str, *, actor: str) -> None:
        outcome = resolve(case_id, by=actor)
        if outcome.work_items:
            workitems.send(outcome.work_items)

    def set_case_status(self, case_id: str, status: str, *, actor: str) -> None:
        wanted = CaseStatus(status)
        if wanted is CaseStatus.RESOLVED:
            self.resolve_case(case_id, actor=actor)
            return
        if wanted is CaseStatus.MERGED:
            raise BadRequest("cases are merged through their customers, not by status")
        current = get_case(case_id, with_interactions=False)
        if current.status is CaseStatus.RESOLVED:
            reopen(case_id, by=actor)
            if wanted is CaseStatus.OPEN:
                return

        def change(case: Case) -> bool:
            _require_open(case)
            if case.status is wanted:
                return False
            case.status = wanted
            return True

        _repo().update(case_id, change)


# ---------------------------------------------------------------- merge (identity)
def merge_customers(source_customer_id: str, target_customer_id: str, *, now: datetime | None = None) -> MergeOutcome:
    """Two customers became one (``source`` merged into ``target``): merge their open cases.

    The older case survives and takes the other's channels, categories, highest priority,
    tightest SLA and timeline; the other becomes ``merged`` with ``merged_into``; the survivor
    lists it in ``merged_from``. Both customers' pointers lead to the survivor, so a late
    event for the source customer still lands in the right case. Safe to call again.
    """
    if source_customer_id == target_customer_id:
        raise BadRequest("cannot merge a customer into itself")
    now = _now(now)
    repo = _repo()
    for _ in range(_ATTEMPTS):
        src_ptr, src = _current_case(repo, source_customer_id)
        dst_ptr, dst = _current_case(repo, target_customer_id)
        src = src if src is not None and src.is_open else None
        dst = dst if dst is not None and dst.is_open else None
        try:
            if src is None and dst is None:
                return MergeOutcome(survivor=None, merged=None)
            if src is None or dst is None or src.id == dst.id:
                only = src or dst
                assert only is not None
                return _rehome(repo, only, source_customer_id, target_customer_id, src_ptr, dst_ptr, now)
            survivor, loser = sorted((src, dst), key=lambda c: (c.opened_at, c.id))
            return _merge_pair(repo, survivor, loser, source_customer_id, target_customer_id, src_ptr, dst_ptr, now)
        except (VersionConflict, CustomerRace):
            continue
    raise VersionConflict("cases kept changing during the merge; try again")


def _rehome(
    repo: CasesRepository, case: Case, source: str, target: str, src_ptr: str | None, dst_ptr: str | None, now: datetime
) -> MergeOutcome:
    expected = case.version
    changed = case.customer_id != target
    if changed:
        if case.customer_id and case.customer_id not in case.former_customer_ids:
            case.former_customer_ids.append(case.customer_id)
        case.customer_id = target
        case.version = expected + 1
        case.updated_at = now
    ops: list[Any] = [repo.put_case_op(case, expected)] if changed else []
    if dst_ptr != case.id:
        ops.append(repo.pointer_op(target, case.id, dst_ptr))
    if src_ptr != case.id:
        ops.append(repo.pointer_op(source, case.id, src_ptr))
    if ops:
        repo.transact(ops)
    return MergeOutcome(survivor=case, merged=None)


def _merge_pair(
    repo: CasesRepository,
    survivor: Case,
    loser: Case,
    source: str,
    target: str,
    src_ptr: str | None,
    dst_ptr: str | None,
    now: datetime,
) -> MergeOutcome:
    s_expected, l_expected = survivor.version, loser.version
    for customer in (survivor.customer_id, loser.customer_id):
        if customer and customer != target and customer not in survivor.former_customer_ids:
            survivor.former_customer_ids.append(customer)
    survivor.customer_id = target
    for channel in loser.channels:
        if channel not in survivor.channels:
            survivor.channels.append(channel)
    for category in loser.categories:
        if category not in survivor.categories:
            survivor.categories.append(category)
    survivor.priority = Priority.highest(survivor.priority, loser.priority)
    survivor.public = survivor.public or loser.public
    survivor.began_public = survivor.began_public or loser.began_public
    survivor.sla = survivor.sla.model_copy(
        update={
            "first_response_due": min(survivor.sla.first_response_due, loser.sla.first_response_due),
            "resolution_due": min(survivor.sla.resolution_due, loser.sla.resolution_due),
        }
    )
    if survivor.first_response_at is None and loser.first_response_at is not None:
        survivor.first_response_at = loser.first_response_at
    survivor.interaction_count += loser.interaction_count
    survivor.recent = sorted([*survivor.recent, *loser.recent], key=lambda r: r.occurred_at)[-RECENT_INTERACTIONS:]
    survivor.merged_from = [*survivor.merged_from, loser.id]
    survivor.version, survivor.updated_at = s_expected + 1, now
    loser.status = CaseStatus.MERGED
    loser.merged_into = survivor.id
    loser.lease_owner = loser.lease_until = None
    loser.version, loser.updated_at = l_expected + 1, now
    ops: list[Any] = [repo.put_case_op(survivor, s_expected), repo.put_case_op(loser, l_expected)]
    if dst_ptr != survivor.id:
        ops.append(repo.pointer_op(target, survivor.id, dst_ptr))
    if src_ptr != survivor.id:
        ops.append(repo.pointer_op(source, survivor.id, src_ptr))
    repo.transact(ops)
    # The timeline items are copied after the transaction (it is bounded to 100 items); the
    # copy is idempotent, and the loser keeps its own, so nothing is lost if this is retried.
    timeline = repo.get_with_interactions(loser.id)
    if timeline is not None and timeline.interactions:
        repo.put_timeline(survivor.id, timeline.interactions)
    logger.info("cases merged", extra={"survivor": survivor.id, "merged": loser.id})
    return MergeOutcome(survivor=survivor, merged=loser)


# ---------------------------------------------------------------- SLA monitor
@dataclass
class Escalation:
    case_id: str
    team: str
    clock: str
    due: datetime
    priority: str


def _breach_key(case: Case) -> str:
    # Per clock and per reopening: a reopened case can breach again, once.
    return f"{case.running_clock}#{case.reopen_count}"


def _escalation_targets(now: datetime) -> list[Case]:
    repo = _repo()
    found: list[Case] = []
    limit = case_settings().sla_monitor_max_escalations
    for team in Team:
        for status in (CaseStatus.ESCALATED, CaseStatus.NEW, CaseStatus.OPEN):
            for case in repo.iter_queue(team, status, due_before=now, limit=100):
                # Low priority is praise and thanks: a late "thank you" pages nobody.
                if _breach_key(case) in case.sla_breaches or case.priority is Priority.LOW:
                    continue
                found.append(case)
                if len(found) >= limit:
                    return found
    return found


def escalate_breaches(now: datetime | None = None) -> list[Escalation]:
    """Escalate every open case whose running SLA clock is past due, once per breach.

    Finds them through QueueIndex (``queue_sk < now`` per team and status, no scan). For each:
    the escalation item goes on the owning team's queue and the alert to SNS first, with ids
    derived from the breach, then the case is marked (priority one step up, status
    ``escalated``, the breach recorded) with a version-conditional write. If sending fails
    nothing is marked and the next run retries; the SQS dedupe id absorbs a repeat.
    """
    now = _now(now)
    repo = _repo()
    done: list[Escalation] = []
    for found in _escalation_targets(now):
        key = _breach_key(found)
        clock, due = found.running_clock, found.running_due
        preview = found.model_copy(deep=True)
        preview.priority = found.priority.raised()
        preview.status = CaseStatus.ESCALATED
        detail = f"{clock.replace('_', ' ')} was due {due:%Y-%m-%d %H:%M} UTC"
        item = build(
            WorkItemKind.ESCALATION,
            found.team,
            preview,
            cause=f"breach:{key}",
            routing=RoutingInfo(rule="sla-breach", version=routing.rules_version(), reason=f"SLA breached: {detail}"),
            trigger=found.recent[-1] if found.recent else None,
            customer=_customer_context(found),
            note=detail,
            now=now,
        )
        workitems.send([item])
        _alert(found, clock, due, preview.priority)

        def change(case: Case, key: str = key) -> bool:
            if key in case.sla_breaches or not case.is_open:
                return False
            case.sla_breaches = [*case.sla_breaches, key]
            case.priority = case.priority.raised()
            case.status = CaseStatus.ESCALATED
            return True

        updated = repo.update(found.id, change, now=now)
        done.append(Escalation(found.id, updated.team.value, clock, due, updated.priority.value))
    return done


def monitor_slas(now: datetime | None = None) -> dict[str, Any]:
    """SlaMonitorFunction's run: escalate every breach once, with a metric and a log line."""
    escalated = escalate_breaches(now)
    metrics.add_metric(name="SlaBreaches", unit=MetricUnit.Count, value=len(escalated))
    if escalated:
        logger.info("SLA breaches escalated", extra={"cases": [e.case_id for e in escalated]})
    return {"escalated": [e.case_id for e in escalated]}


def _alert(case: Case, clock: str, due: datetime, priority: Priority) -> None:
    topic = get_settings().alerts_topic_arn
    message = {
        "type": "sla_breach",
        "case_id": case.id,
        "team": case.team.value,
        "clock": clock,
        "due": due.isoformat(),
        "priority": priority.value,
        "customer_id": case.customer_id,
        "channels": case.channels,
    }
    if not topic:
        logger.error("alerts topic not configured", extra={"alert": message})
        return
    aws.sns().publish(TopicArn=topic, Subject=f"SLA breach {case.id} ({clock})"[:100], Message=json.dumps(message))


__all__ = [
    "Case",
    "CaseOutcome",
    "CaseStatus",
    "Channel",
    "MergeOutcome",
    "claim",
    "connect_summary",
    "escalate_breaches",
    "get_case",
    "handoff",
    "list_cases",
    "merge_customers",
    "on_interaction",
    "open_case_for",
    "record_first_response",
    "release",
    "reopen",
    "resolve",
]
