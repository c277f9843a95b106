"""Building work items (``models.workitem``): the case snapshot, the customer context, a one-line
timeline summary, the suggested answer and why the item was routed; ``item_id`` derives from
what caused the item, so a repeated cause gives the same id (and SQS drops the copy)."""

from __future__ import annotations

from datetime import UTC, datetime

from socialcare.models.case import Case, InteractionRef, Team
from socialcare.models.triage import FaqMatch
from socialcare.models.workitem import (
    CaseSnapshot,
    CustomerContext,
    RoutingInfo,
    WorkItem,
    WorkItemKind,
    item_id,
)


def timeline_summary(case: Case) -> str:
    """One line an agent reads before anything else."""
    channels = ", ".join(case.channels) or "no channel"
    parts = [
        f"{case.interaction_count} interaction(s) on {channels} since {case.opened_at:%Y-%m-%d %H:%M} UTC",
        f"priority {case.priority.value}",
    ]
    if case.sentiment:
        parts.append(f"sentiment {case.sentiment}")
    if case.categories:
        parts.append("about " + ", ".join(c.replace("_", " ") for c in case.categories))
    if case.handoffs:
        last = case.handoffs[-1]
        parts.append(f"handed {last.from_team.value if last.from_team else '?'}->{last.to_team.value}")
    if case.recent:
        last_ref = case.recent[-1]
        parts.append(f'last ({last_ref.channel}): "{last_ref.summary[:120]}"')
    return "; ".join(parts)


def build(
    kind: WorkItemKind,
    team: Team,
    case: Case,
    *,
    cause: str,
    routing: RoutingInfo,
    customer: CustomerContext | None = None,
    trigger: InteractionRef | None = None,
    suggestion: FaqMatch | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> WorkItem:
    return WorkItem(
        item_id=item_id(case.id, kind, team, cause),
        kind=kind,
        team=team,
        created_at=now or datetime.now(UTC),
        case=CaseSnapshot.of(case),
        customer=customer,
        trigger=trigger,
        timeline=list(case.recent),
        timeline_summary=timeline_summary(case),
        suggested_answer=suggestion,
        routing=routing,
        note=note,
    )


# Work items held for pull on the case (destination "pull"), oldest dropped first.
MAX_PENDING_ITEMS = 20


def hold(case: Case, item: WorkItem) -> bool:
    """Keep ``item`` on its case for the agent who claims it (a team whose destination is
    "pull"); False when it, or a newer item of the same job, is held already (a redelivery; the
    dispatcher delivering items the processor held in turn). One pending item per kind and team:
    a second public post on the same case is still one "respond" job, now about the newest."""
    if any(p.get("item_id") == item.item_id for p in case.pending_items):
        return False
    same_job = [p for p in case.pending_items if (p.get("kind"), p.get("team")) == (item.kind.value, item.team.value)]
    if any(str(p.get("created_at", "")) > item.created_at.isoformat() for p in same_job):
        return False  # a newer item of the same job is held already (the processor held each in turn)
    summary = {
        "item_id": item.item_id,
        "kind": item.kind.value,
        "team": item.team.value,
        "created_at": item.created_at.isoformat(),
        "reason": item.routing.reason,
        "note": item.note,
        "suggested_answer": item.suggested_answer.model_dump() if item.suggested_answer else None,
    }
    same = (summary["kind"], summary["team"])
    kept = [p for p in case.pending_items if (p.get("kind"), p.get("team")) != same]
    case.pending_items = [*kept, summary][-MAX_PENDING_ITEMS:]
    return True
