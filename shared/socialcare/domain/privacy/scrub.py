"""What an erased customer's case keeps: counts, times, status, team, priority, channels,
categories and sentiment (reporting) - and what it loses: every text, name, handle, message id,
note, reason written by or about the person, the work items held on it and the CRM record id.

Pure functions on the case model and on CasesTable timeline items.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from socialcare.models.case import Case, InteractionRef

# Attributes of a case's timeline item (``INT#...``) that say who wrote what.
PERSONAL_REF_FIELDS = ("author", "summary")


def _scrub_ref(ref: InteractionRef) -> InteractionRef:
    return ref.model_copy(update={"author": None, "summary": ""})


def scrub_case(case: Case, at: datetime, mine: set[str] | None = None) -> bool:
    """Erase the person's data from ``case`` in place; False when there is nothing left to do.

    ``mine`` None: the case is the erased customer's own - everything personal goes. Otherwise
    (an incident gathering many customers) only the interactions whose ids are in ``mine``.
    """
    if mine is not None:
        touched = [r for r in case.recent if r.id in mine and (r.author or r.summary)]
        if not touched:
            return False
        case.recent = [_scrub_ref(r) if r.id in mine else r for r in case.recent]
        return True
    if case.erased_at is not None:
        return False
    case.recent = [_scrub_ref(r) for r in case.recent]
    case.pending_items = []  # work items held for pull carry the customer's context and texts
    case.replies = [r.model_copy(update={"reason": None, "platform_message_id": None, "in_reply_to": None,
                                         "crm_reply_id": None}) for r in case.replies]
    case.handoffs = [h.model_copy(update={"note": None}) for h in case.handoffs]
    if case.routing:
        case.routing = {k: v for k, v in case.routing.items() if k != "interaction_id"}
    if case.csat is not None:
        case.csat = case.csat.model_copy(update={"comment": None, "interaction_id": None})
    case.lease_owner, case.lease_until = None, None
    case.crm_record_id = None
    case.erased_at = at
    return True


def scrub_timeline_item(item: dict[str, Any]) -> dict[str, Any] | None:
    """The case timeline item without who wrote what; None when it holds nothing personal."""
    if not any(item.get(f) for f in PERSONAL_REF_FIELDS):
        return None
    return {**{k: v for k, v in item.items() if k not in PERSONAL_REF_FIELDS}, "summary": ""}
