"""The default wiring of the CRM to the cases and identity services.

* ``StoreCaseSource`` - ``CaseSource`` over the cases repository (case + full timeline, one
  Query; the case part projected by ``cases.crm_snapshot``) and the profiles repository
  (customer and identities, one Query);
* the ``CaseService`` is ``cases.CrmCaseService`` itself: every case version it writes is queued
  for the CRM sync by the cases repository, so the CRM's copy carries our version of it
  (``resolved_at``, SLA) and reconcile never finds it lagging.

``sync.default_service`` and ``inbound.default_inbound`` use these unless something else was
wired with ``sync.use_case_source`` / ``inbound.use_case_service`` (tests, another backend).
"""

from __future__ import annotations

from typing import Any

from socialcare.models.crm import CaseSnapshot, CaseView, CustomerIdentity, CustomerView, InteractionView

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
    from socialcare import cases

    timeline = list(case.interactions or case.recent)[-MAX_INTERACTIONS:]
    return CaseView(
        case=CaseSnapshot.model_validate(cases.crm_snapshot(case)),
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
