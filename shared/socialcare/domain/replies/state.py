"""The reply states a case keeps (``Case.replies``): queued, sent, delivered, read, failed or
refused, newest last, at most ``KEEP`` of them. Every change is a version-conditional update of
the case, so it reaches the CRM through the cases stream like any other change."""

from __future__ import annotations

from datetime import UTC, datetime

from socialcare.models.case import Case, CaseStatus
from socialcare.models.reply import ReplyState, ReplyStatus
from socialcare.store.cases import CasesRepository

KEEP = 20
# A state only moves forward: a late "sent" never hides "read"; failed and refused are final
# (a platform reports "failed" after "sent" when the message could not be delivered).
_RANK = {ReplyStatus.QUEUED: 0, ReplyStatus.SENT: 1, ReplyStatus.DELIVERED: 2, ReplyStatus.READ: 3,
         ReplyStatus.FAILED: 4, ReplyStatus.REFUSED: 4}


def merge_state(case: Case, state: ReplyState) -> bool:
    """Put ``state`` on ``case`` (False: it changes nothing)."""
    for index, known in enumerate(case.replies):
        if known.interaction_id != state.interaction_id:
            continue
        if _RANK[state.status] <= _RANK[known.status]:
            return False
        case.replies[index] = known.model_copy(update={
            k: v for k, v in state.model_dump().items() if v is not None and k != "interaction_id"})
        return True
    case.replies = [*case.replies, state][-KEEP:]
    return True


def record_reply_state(repo: CasesRepository, case_id: str, state: ReplyState, *,
                       first_response_at: datetime | None = None) -> Case:
    """Record ``state`` on the case; ``first_response_at`` (a sent reply) stops the first-response
    clock if it still runs."""

    def change(case: Case) -> bool:
        changed = merge_state(case, state)
        if first_response_at is not None and (case.first_response_at is None
                                              or case.first_response_at > first_response_at):
            case.first_response_at = first_response_at.astimezone(UTC)
            if case.status is CaseStatus.NEW:
                case.status = CaseStatus.OPEN
            changed = True
        return changed

    return repo.update(case_id, change)
