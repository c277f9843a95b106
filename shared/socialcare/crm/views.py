"""The default wiring of the CRM to the cases and identity services.

* ``StoreCaseSource`` - ``CaseSource`` over the cases repository (case + full timeline, one
  Query) and the profiles repository (customer, identities, one Query);
* ``CasesCaseService`` - ``CaseService`` over ``socialcare.cases``: ``resolve`` / ``reopen``,
  with their outcome (work items, CRM sync) sent exactly as the case API does.

``sync.default_service`` and ``inbound.default_inbound`` use these unless something else was
wired with ``sync.use_case_source`` / ``inbound.use_case_service`` (tests, another backend).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from socialcare.crm.schema import CaseSnapshot, CaseView, CustomerIdentity, CustomerView, InteractionView
from socialcare.errors import Conflict, NotFound

logger = Logger(child=True)

# A case.upserted carries the newest interactions only: an incident can gather thousands, and a
# CRM wants the conversation, not a dump (the full timeline stays in our API).
MAX_INTERACTIONS = 100


def _customer(customer_id: str | None, profiles: Any) -> CustomerView:
    if not customer_id:
        return CustomerView(id="unknown")
    found = profiles.customer_view(customer_id)
    if found is None:
        return CustomerView(id=customer_id)
    profile = found.profile
    return CustomerView(
        id=profile.id,
        name=profile.name,
        tier=profile.tier,
        emails=sorted(profile.verified_emails),
        phones=sorted(profile.verified_phones),
        identities=[CustomerIdentity(kind=i.kind, value=i.value, verified=i.verified) for i in found.identities],
        channels=sorted(profile.channel_counts),
        first_seen_at=profile.first_seen,
        last_sentiment=profile.last_sentiment,
        previous_case_ids=list(profile.previous_cases),
    )


def case_view(case: Any, customer: CustomerView) -> CaseView:
    """Project the cases service's ``Case`` (with its timeline) onto the CRM's read model."""
    timeline = list(case.interactions or case.recent)[-MAX_INTERACTIONS:]
    return CaseView(
        case=CaseSnapshot(
            id=case.id,
            version=max(1, case.version),
            status=case.status.value,
            is_open=case.is_open,
            priority=case.priority.value,
            team=case.team.value,
            channels=list(case.channels),
            category=case.categories[0] if case.categories else None,
            sentiment=case.sentiment,
            opened_at=case.opened_at,
            updated_at=case.updated_at,
            resolved_at=case.resolved_at,
            first_response_due_at=case.sla.first_response_due,
            resolution_due_at=case.sla.resolution_due,
            merged_into=case.merged_into,
        ),
        customer=customer,
        interactions=[
            InteractionView(
                id=ref.id,
                channel=ref.channel,
                kind=ref.kind,
                direction="outbound" if ref.direction == "outbound" else "inbound",
                public=ref.public,
                author_id=ref.author,
                text=ref.summary or None,
                occurred_at=ref.occurred_at,
            )
            for ref in timeline
        ],
    )


class StoreCaseSource:
    def __init__(self, cases_repo: Any = None, profiles_repo: Any = None) -> None:
        from socialcare.store.cases import CasesRepository
        from socialcare.store.profiles import ProfilesRepository

        self.cases = cases_repo or CasesRepository.default()
        self.profiles = profiles_repo or ProfilesRepository.default()

    def get_case_view(self, case_id: str) -> CaseView | None:
        case = self.cases.get_with_interactions(case_id)
        if case is None:
            return None
        return case_view(case, _customer(case.customer_id, self.profiles))


class CasesCaseService:
    """CRM-driven status changes through the cases service's own commands."""

    def resolve_case(self, case_id: str, *, actor: str) -> None:
        from socialcare import cases

        self._after(cases.resolve(case_id, by=actor), actor)

    def set_case_status(self, case_id: str, status: str, *, actor: str) -> None:
        from socialcare import cases
        from socialcare.store.cases import CaseStatus

        if status != "open":
            # pending/escalated are the CRM agents' own workflow; our service has no command for
            # them, and our SLA clock keeps running regardless.
            logger.info("crm status not mirrored", extra={"case_id": case_id, "status": status})
            return
        try:
            current = cases.get_case(case_id, with_interactions=False)
        except NotFound:
            return
        if current.status is CaseStatus.RESOLVED:
            try:
                self._after(cases.reopen(case_id, by=actor), actor)
            except Conflict as exc:  # the customer has a newer case: nothing to reopen
                logger.info("crm reopen refused", extra={"case_id": case_id, "reason": exc.reason})

    @staticmethod
    def _after(outcome: Any, actor: str) -> None:
        from socialcare import workitems
        from socialcare.crm.queue import enqueue_sync

        if outcome.work_items:
            workitems.send(outcome.work_items)
        if outcome.crm_sync and outcome.case is not None:
            enqueue_sync(outcome.case.id, outcome.case.version, reason=actor)
