"""What agents (through the API) and the CRM do to a case: resolve, reopen, hand off, claim,
release, set a status, record the first response.

Each action is a version-conditional read-modify-write of the case (``CasesRepository.update``)
and then publishes the work items it causes (a hand-off item, "close the loop publicly"), so a
reader sees every side effect of an action here. Every saved version reaches the CRM through the
table's stream.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from aws_lambda_powertools import Logger

from socialcare.domain.cases.common import CaseOutcome, ContextSource, customer_context, require_open, utc
from socialcare.domain.routing import Router
from socialcare.domain.sla import SlaClock
from socialcare.domain.workitems import build
from socialcare.errors import BadRequest, Conflict
from socialcare.models.case import QUEUED_STATUSES, Case, CaseStatus, Handoff, Team
from socialcare.models.workitem import RoutingInfo, WorkItem, WorkItemKind
from socialcare.ports import Publisher
from socialcare.store.cases import CasesRepository, iso

logger = Logger(child=True)



class CaseActions:
    def __init__(self, repo: CasesRepository, sla: SlaClock, router: Router, publisher: Publisher,
                 contexts: ContextSource, *, claim_lease_seconds: int,
                 after_resolve: Callable[[Case, datetime], object] | None = None) -> None:
        self.repo = repo
        self.sla = sla
        self.router = router
        self.publisher = publisher
        self.contexts = contexts
        self.lease = timedelta(seconds=claim_lease_seconds)
        # Called with every resolved case (the satisfaction survey); it must never raise: the
        # case is resolved whatever it does.
        self.after_resolve = after_resolve

    def record_first_response(self, case_id: str, at: datetime) -> Case:
        """The first outbound reply stops the first-response clock (later replies change nothing)."""
        at = at.astimezone(UTC)

        def change(case: Case) -> bool:
            if case.first_response_at is not None and case.first_response_at <= at:
                return False
            case.first_response_at = at
            if case.status is CaseStatus.NEW:
                case.status = CaseStatus.OPEN
            return True

        return self.repo.update(case_id, change)

    def resolve(self, case_id: str, *, by: str = "agent", note: str | None = None,
                now: datetime | None = None) -> CaseOutcome:
        """Resolve a case. A call-centre case that began in public gets the social team a
        "close the loop publicly" item, so the people who saw the complaint see it answered."""
        now = utc(now)

        def change(case: Case) -> bool:
            if case.status is CaseStatus.RESOLVED:
                return False  # resolving twice is a retry: answer as the first time did
            require_open(case)
            case.status, case.resolved_at = CaseStatus.RESOLVED, now
            case.lease_owner = case.lease_until = None
            case.pending_items = []
            return True

        case = self.repo.update(case_id, change, now=now)
        items = [self._close_the_loop(case, note, now)] if case.team is Team.CALLCENTRE and case.began_public else []
        self.publisher.work_items(items)
        logger.info("case resolved", extra={"case_id": case_id, "by": by})
        if self.after_resolve is not None:
            self.after_resolve(case, now)
        return CaseOutcome(case=case, work_items=items)

    def _close_the_loop(self, case: Case, note: str | None, now: datetime) -> WorkItem:
        resolved_at = case.resolved_at or now
        return build(
            WorkItemKind.CLOSE_LOOP, Team.SOCIAL, case,
            # Same resolution, same id: a retried resolve cannot post the item twice.
            cause=f"resolved:{iso(resolved_at)}",
            routing=RoutingInfo(
                rule="close-the-loop", version=self.router.version,
                reason="the call centre resolved a case that began in public: close the loop publicly",
            ),
            trigger=next((r for r in reversed(case.recent) if r.public), None),
            customer=customer_context(self.contexts, case), note=note, now=now,
        )

    def reopen(self, case_id: str, *, by: str = "agent", now: datetime | None = None) -> CaseOutcome:
        now = utc(now)

        def change(case: Case) -> bool:
            if case.status is not CaseStatus.RESOLVED:
                raise Conflict(f"case {case.id} is {case.status.value}, not resolved", case_id=case.id)
            if case.customer_id and self.repo.latest_case_id(case.customer_id) not in (None, case.id):
                # Reopening an older case would give the customer two open cases.
                raise Conflict("the customer has a newer case; reopen that one", case_id=case.id)
            case.status, case.resolved_at, case.reopened_at = CaseStatus.OPEN, None, now
            case.reopen_count += 1
            case.first_response_at = None
            case.sla = self.sla.compute(now, public=case.public, priority=case.priority, team=case.team)
            return True

        case = self.repo.update(case_id, change, now=now)
        logger.info("case reopened", extra={"case_id": case_id, "by": by})
        return CaseOutcome(case=case, reopened=True)

    def handoff(self, case_id: str, to: Team, *, note: str | None = None, by: str = "agent",
                now: datetime | None = None) -> CaseOutcome:
        """Move the case to the other team, with a hand-off item carrying its full context."""
        now, to = utc(now), Team(to)

        def change(case: Case) -> bool:
            last = case.handoffs[-1] if case.handoffs else None
            if case.team is to and last is not None and last.to_team is to and last.by == by and case.is_open:
                return False  # a retry of this hand-off: re-send its item, change nothing
            require_open(case)
            if case.team is to:
                raise Conflict(f"case {case.id} is already with {to.value}", case_id=case.id)
            case.handoffs.append(Handoff(from_team=case.team, to_team=to, at=now, by=by, reason="agent hand-off",
                                         note=note))
            case.team = to
            case.lease_owner = case.lease_until = None
            case.sla = self.sla.tighten(case.sla, now, public=case.public, priority=case.priority, team=to.value)
            return True

        case = self.repo.update(case_id, change, now=now)
        item = build(
            WorkItemKind.HANDOFF, to, case, cause=f"handoff:{len(case.handoffs)}",
            routing=RoutingInfo(rule="handoff", version=self.router.version, reason=f"handed off by {by}"),
            trigger=case.recent[-1] if case.recent else None, customer=customer_context(self.contexts, case),
            note=note, now=now,
        )
        self.publisher.work_items([item])
        return CaseOutcome(case=case, work_items=[item])

    def claim(self, team: Team, agent: str, *, now: datetime | None = None) -> Case | None:
        """Lease the most urgent unclaimed open case of ``team`` to ``agent`` (None: queue empty).

        Candidates come from QueueIndex (escalated, new and open partitions, SLA due order, leased
        ones filtered out); the lease itself is a version-conditional write, so two agents
        claiming at once get two different cases. Pending cases wait for the customer, not for an
        agent, and are not claimable.
        """
        now = utc(now)
        candidates: list[Case] = []
        for status in QUEUED_STATUSES:
            for found, case in enumerate(self.repo.iter_queue(team, status, unleased_at=now, limit=25), start=1):
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
                case.lease_owner, case.lease_until = agent, (now + self.lease).replace(microsecond=0)
                if case.status is CaseStatus.NEW:
                    case.status = CaseStatus.OPEN
                won = True
                return True

            case = self.repo.update(candidate.id, change, now=now)
            if won:
                return case
        return None

    def release(self, case_id: str, agent: str | None = None, *, now: datetime | None = None) -> Case:
        now = utc(now)

        def change(case: Case) -> bool:
            if case.lease_owner is None:
                return False
            if agent and case.lease_owner != agent and case.leased(now):
                raise Conflict(f"case {case.id} is leased by another agent", case_id=case.id)
            case.lease_owner = case.lease_until = None
            return True

        return self.repo.update(case_id, change, now=now)

    # ------------------------------------------------------------------ the CRM's commands
    def set_case_status(self, case_id: str, status: str, *, actor: str) -> None:
        """A status a CRM agent set: resolved resolves, open/pending/escalated reopen if needed."""
        wanted = CaseStatus(status)
        if wanted is CaseStatus.RESOLVED:
            self.resolve(case_id, by=actor)
            return
        if wanted is CaseStatus.MERGED:
            raise BadRequest("cases are merged through their customers, not by status")
        current = self.repo.get(case_id)
        if current is not None and current.status is CaseStatus.RESOLVED:
            self.reopen(case_id, by=actor)
            if wanted is CaseStatus.OPEN:
                return

        def change(case: Case) -> bool:
            require_open(case)
            if case.status is wanted:
                return False
            case.status = wanted
            return True

        self.repo.update(case_id, change)
