"""Reading cases: one case with its timeline, a team's queue in SLA order, a customer's open case."""

from __future__ import annotations

from socialcare.domain.cases.common import current_case
from socialcare.errors import NotFound
from socialcare.models.case import Case, CaseStatus, Team
from socialcare.store.cases import CasesRepository


class CaseQueries:
    def __init__(self, repo: CasesRepository) -> None:
        self.repo = repo

    def get_case(self, case_id: str, *, with_interactions: bool = True) -> Case:
        case = self.repo.get_with_interactions(case_id) if with_interactions else self.repo.get(case_id)
        if case is None:
            raise NotFound(f"case {case_id} not found", case_id=case_id)
        return case

    def list_cases(self, team: Team, status: CaseStatus, *, limit: int = 25,
                   cursor: str | None = None) -> tuple[list[Case], str | None]:
        """One page of a team's cases in one status, most pressing SLA due time first."""
        return self.repo.list_queue(team, status, limit=limit, cursor_token=cursor)

    def open_case_for(self, customer_id: str) -> Case | None:
        _, case = current_case(self.repo, customer_id)
        return case if case is not None and case.is_open else None

    def customer_cases(self, customer_id: str, limit: int = 20) -> list[Case]:
        return self.repo.customer_cases(customer_id, limit)

    def case_for_crm_record(self, crm_record_id: str) -> Case | None:
        case_id = self.repo.case_for_crm_record(crm_record_id)
        return self.repo.get(case_id) if case_id else None
