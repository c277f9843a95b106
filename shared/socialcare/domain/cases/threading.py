"""Threading: one case follows a customer across channels and onto the phone.

``CaseThreading.on_interaction`` threads an inbound (or our own outbound) interaction into the
customer's case - the open one whatever the channel, the resolved one within the reopen window,
else a new one - triages it, recomputes the SLA, routes it, writes it in one transaction (case,
timeline item, the interaction's marker, the customer's pointer) and publishes the team's work
item. Idempotent on the interaction id: a redelivery writes nothing and republishes the same
work item (same id, so SQS drops a copy), which is how a crashed pipeline resumes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger

from socialcare.domain.cases.common import (
    ATTEMPTS,
    CaseOutcome,
    JoinedOps,
    add_interaction,
    apply_route,
    apply_triage,
    current_case,
    interaction_ref,
    kind_of,
    utc,
)
from socialcare.domain.cases.ids import CaseIds
from socialcare.domain.cases.incidents import IncidentCases
from socialcare.domain.faq import FaqIndex
from socialcare.domain.listening import Listening
from socialcare.domain.routing import Router
from socialcare.domain.sla import SlaClock
from socialcare.domain.triage import Triager
from socialcare.domain.workitems import build, hold
from socialcare.models.case import Case, CaseStatus, InteractionRef, Team
from socialcare.models.interaction import Direction, Interaction
from socialcare.models.triage import Route, Triage
from socialcare.models.workitem import CustomerContext, RoutingInfo, WorkItem
from socialcare.ports import Publisher
from socialcare.store.cases import (
    CasesRepository,
    CustomerRace,
    DuplicateInteraction,
    OtherItemChanged,
    VersionConflict,
)

logger = Logger(child=True)


class CaseThreading:
    def __init__(self, repo: CasesRepository, ids: CaseIds, triager: Triager, router: Router, sla: SlaClock,
                 faq: FaqIndex, listening: Listening, publisher: Publisher, *, reopen_window_hours: float) -> None:
        self.repo = repo
        self.ids = ids
        self.triager = triager
        self.router = router
        self.sla = sla
        self.faq = faq
        self.listening = listening
        self.publisher = publisher
        self.reopen_window = timedelta(hours=reopen_window_hours)
        # Teams whose dispatcher holds items on the case for pull: the item is held in the case's
        # own write, so the dispatcher only reads (no second case version, no second CRM sync).
        self.held_teams: frozenset[Team] = frozenset()
        self.incidents = IncidentCases(repo, ids, listening, router, sla, faq)

    def on_interaction(self, interaction: Interaction, customer_id: str, context: dict[str, Any] | None = None, *,
                       now: datetime | None = None, first_seen: bool = False, new_customer: bool = False,
                       joined: JoinedOps | None = None) -> CaseOutcome:
        """Thread one interaction into its case and publish its work items (module docstring).

        ``first_seen``: the caller has just stored the interaction for the first time (its guard
        was written now), so no case can know it yet: the marker is not read (it is still
        written, conditionally). ``new_customer``: recognition created the customer just now, so
        she has no case and her pointer is not read (its write still requires that none exists).
        ``joined`` adds the caller's items to the case's transaction
        (``outcome.joined`` says whether they were written; they are left out when one of their
        conditions fails, and on the paths that write no ordinary case transaction).
        """
        if not customer_id or not customer_id.strip():
            # An empty id would be an invalid CustomerIndex key and merge every stranger into one case.
            raise ValueError("on_interaction needs the recognised customer's id")
        now = utc(now)
        ctx = CustomerContext.model_validate({**(context or {}), "customer_id": customer_id})
        seen_case, seen_route = (None, None) if first_seen else self.repo.interaction_case_id(interaction.id)
        if seen_case is not None:
            outcome = self._duplicate(interaction, seen_case, seen_route, ctx, now)
        else:
            try:
                outcome = self._first_time(interaction, customer_id, ctx, now, joined, new_customer)
            except DuplicateInteraction as dup:
                _, route = self.repo.interaction_case_id(interaction.id)
                outcome = self._duplicate(interaction, dup.case_id, route, ctx, now)
        self.publisher.work_items(outcome.work_items)
        return outcome

    def _first_time(self, interaction: Interaction, customer_id: str, ctx: CustomerContext,
                    now: datetime, joined: JoinedOps | None = None, new_customer: bool = False) -> CaseOutcome:
        if interaction.direction is Direction.OUTBOUND:
            return self._outbound(interaction, customer_id, now)
        sentiment = self.triager.analyser.analyse(interaction.text, interaction.language)
        result = self.triager.triage(interaction, tier=ctx.tier, sentiment=sentiment)
        heard = self.listening.record(interaction, sentiment, now=now)
        if heard.spam and not ctx.returning and self.repo.latest_case_id(customer_id) is None:
            # A stranger's bot-like post opens no case; a known customer is never dropped.
            logger.info("spam: no case", extra={"interaction_id": interaction.id, "reasons": heard.spam_reasons})
            return CaseOutcome(case=None, spam=True, spam_reasons=heard.spam_reasons, triage=result)
        # A customer with an open case keeps her story in it, even when she joins a flood.
        if heard.incident_post_id and not self._has_open_case(customer_id, ctx):
            return self.incidents.join(interaction, result, heard.incident_post_id, heard.incident_case_id, now)
        hint = "" if new_customer else ctx.open_case_id  # "": known to have none
        for _ in range(ATTEMPTS):
            try:
                return self._thread(interaction, customer_id, ctx, result, now, hint, joined)
            except (VersionConflict, CustomerRace):
                hint = None  # someone changed the case or opened one: read again (the pointer), apply again
            except OtherItemChanged:
                joined = None  # the customer was merged away meanwhile: the caller writes its part apart
        raise VersionConflict("the customer's case kept changing concurrently", customer_id=customer_id)

    def _has_open_case(self, customer_id: str, ctx: CustomerContext) -> bool:
        _, case = current_case(self.repo, customer_id, ctx.open_case_id)
        return case is not None and case.is_open

    def _items_for(self, case: Case, route: Route, ref: InteractionRef, interaction: Interaction,
                   ctx: CustomerContext | None, now: datetime) -> list[WorkItem]:
        return [build(
            kind_of(route), route.team, case, cause=interaction.id,
            routing=RoutingInfo(rule=route.rule, version=route.version, reason=route.reason),
            customer=ctx, trigger=ref, suggestion=self.faq.suggest(interaction.text, interaction.language), now=now,
        )]

    def _reopens(self, case: Case, now: datetime) -> bool:
        if case.status is not CaseStatus.RESOLVED or case.resolved_at is None:
            return False
        return now - case.resolved_at <= self.reopen_window

    def _thread(self, interaction: Interaction, customer_id: str, ctx: CustomerContext, result: Triage,
                now: datetime, hint: str | None, joined: JoinedOps | None) -> CaseOutcome:
        pointer, case = (None, None) if hint == "" else current_case(self.repo, customer_id, hint)
        ref = interaction_ref(interaction, result.sentiment)
        reopened = case is not None and not case.is_open and self._reopens(case, now)
        expected = case.version if case is not None and (case.is_open or reopened) else None
        if expected is None:
            case = None
        route = self.router.route(interaction, result, case.team if case else None)
        if case is None:
            case = self._new_case(interaction, customer_id, result, route, now)
        elif reopened:
            case.status, case.reopened_at, case.reopen_count = CaseStatus.OPEN, now, case.reopen_count + 1
            case.resolved_at = case.first_response_at = None
        elif case.status is CaseStatus.PENDING:
            case.status = CaseStatus.OPEN  # the customer answered: back to the agents
        add_interaction(case, ref, now)
        apply_triage(case, result, interaction.is_public)
        apply_route(case, route, now, interaction.id)
        case.sla = (
            self.sla.compute(now, public=case.public, priority=case.priority, team=case.team)
            if reopened
            else self.sla.tighten(case.sla, now, public=case.public, priority=case.priority, team=case.team)
        )
        case.version = (expected or 0) + 1
        items = self._items_for(case, route, ref, interaction, ctx, now)
        for item in items:
            if item.team in self.held_teams:
                hold(case, item)
                item.held = True  # the dispatcher need not read the case to hold it again
        ops = [
            self.repo.put_case_op(case, expected),  # with the items it holds
            self.repo.marker_op(interaction.id, case.id, route.model_dump(mode="json")),
            self.repo.timeline_op(case.id, ref),
        ]
        if expected is None:
            ops.append(self.repo.pointer_op(customer_id, case.id, pointer))
        if joined is not None:
            ops.extend(joined(case, expected is None, result))
        self.repo.transact(ops)
        return CaseOutcome(case=case, work_items=items, created=expected is None, reopened=reopened, triage=result,
                           joined=joined is not None)

    def _new_case(self, interaction: Interaction, customer_id: str, result: Triage, route: Route,
                  now: datetime) -> Case:
        return Case(
            id=self.ids.next_id(now),
            status=CaseStatus.NEW,
            priority=result.priority,
            priority_reasons=result.reasons,
            team=route.team,
            public=interaction.is_public,
            began_public=interaction.is_public,
            sla=self.sla.compute(now, public=interaction.is_public, priority=result.priority, team=route.team),
            opened_at=now,
            updated_at=now,
            customer_id=customer_id,
        )

    def _outbound(self, interaction: Interaction, customer_id: str, now: datetime) -> CaseOutcome:
        """Our own reply (sent natively on the platform, or echoed back): timeline + first response."""
        _, case = current_case(self.repo, customer_id)
        ref = interaction_ref(interaction, None)
        for _ in range(ATTEMPTS):
            if case is None or not case.is_open:
                return CaseOutcome(case=case)
            expected = case.version
            add_interaction(case, ref, now)
            if case.first_response_at is None:
                case.first_response_at = interaction.occurred_at
                if case.status is CaseStatus.NEW:
                    case.status = CaseStatus.OPEN
            case.version = expected + 1
            try:
                self.repo.transact([
                    self.repo.put_case_op(case, expected),
                    self.repo.marker_op(interaction.id, case.id, None),
                    self.repo.timeline_op(case.id, ref),
                ])
                return CaseOutcome(case=case)
            except VersionConflict:
                case = self.repo.get(case.id)
        raise VersionConflict("the case kept changing concurrently", customer_id=customer_id)

    def _duplicate(self, interaction: Interaction, case_id: str | None, route: dict[str, Any] | None,
                   ctx: CustomerContext, now: datetime) -> CaseOutcome:
        """A redelivery: nothing is written again, but the work item is rebuilt with the same id,
        so a pipeline that crashed before publishing it can finish (SQS drops a second copy)."""
        case = self.repo.get(case_id) if case_id else None
        items: list[WorkItem] = []
        if case is not None and route and interaction.direction is Direction.INBOUND:
            decided = Route.model_validate(route)
            ref = next((r for r in case.recent if r.id == interaction.id), None) or interaction_ref(interaction, None)
            items = self._items_for(case, decided, ref, interaction, ctx, now)
        return CaseOutcome(case=case, work_items=items, duplicate=True)
