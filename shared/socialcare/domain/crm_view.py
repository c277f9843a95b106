"""The CRM's read model of a case (``models.crm.CaseView``): the case, its customer, its newest
interactions and its replies (what was sent, refused or failed, and why), projected from the
cases and profiles repositories (one Query each).

``CrmSync`` reads it for every sync (always the *current* case, so a retry sends the latest
version). Where an agent's reply goes is the reply service's to decide (``domain.replies``).
"""

from __future__ import annotations

from typing import Any, Protocol

from socialcare.models.case import Case
from socialcare.models.crm import (
    CaseSnapshot,
    CaseView,
    CustomerIdentity,
    CustomerView,
    InteractionView,
    ReplyView,
)
from socialcare.store.cases import CasesRepository
from socialcare.store.profiles import ProfilesRepository

# A case.upserted carries the newest interactions only: an incident can gather thousands, and a
# CRM wants the conversation, not a dump (the full timeline stays in our API).
MAX_INTERACTIONS = 100


class CaseSource(Protocol):
    """Where the CRM flows read a case's view (``CrmCaseViews``, or a fixture in unit tests)."""

    def get_case_view(self, case_id: str) -> CaseView | None: ...


def crm_snapshot(case: Case) -> dict[str, Any]:
    """The case in the CRM read model's shape (``models.crm.CaseSnapshot`` fields)."""
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


def case_view(case: Case, customer: CustomerView) -> CaseView:
    """Project a case (with its timeline) onto the CRM's read model."""
    timeline = list(case.interactions or case.recent)[-MAX_INTERACTIONS:]
    return CaseView(
        case=CaseSnapshot.model_validate(crm_snapshot(case)),
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
        replies=[ReplyView.model_validate(reply.model_dump(mode="json")) for reply in case.replies],
    )


class CrmCaseViews:
    def __init__(self, cases: CasesRepository, profiles: ProfilesRepository) -> None:
        self.cases = cases
        self.profiles = profiles

    def get_case_view(self, case_id: str) -> CaseView | None:
        case = self.cases.get_with_interactions(case_id, newest=MAX_INTERACTIONS)
        if case is None or case.erased_at is not None:
            return None  # an erased customer's case is never sent again (the erasure told the CRM)
        return case_view(case, self._customer(case.customer_id))

    def _customer(self, customer_id: str | None) -> CustomerView:
        if not customer_id:
            return CustomerView(id="unknown")
        found = self.profiles.customer_view(customer_id)
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
