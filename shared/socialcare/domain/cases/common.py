"""What the cases services share: outcomes, the timeline reference of an interaction, how a
message changes a case, following merges to the current case, and the customer context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from socialcare.errors import Conflict
from socialcare.models.case import Case, CaseStatus, Handoff, InteractionRef
from socialcare.models.interaction import Interaction, Kind
from socialcare.models.triage import Route, Sentiment, Triage
from socialcare.models.workitem import CustomerContext, WorkItem, WorkItemKind
from socialcare.store.cases import CasesRepository

logger = Logger(child=True)

ATTEMPTS = 8  # optimistic-locking retries before a concurrent writer is reported as a conflict
# Interactions kept on the case item itself, newest last: enough for a work item's timeline
# summary without a second read; the full timeline lives in the case's INT# items.
RECENT_INTERACTIONS = 10
_SUMMARY_CHARS = 280


@dataclass
class CaseOutcome:
    """What a change did to a case; ``work_items`` were published by the service that made them."""

    case: Case | None
    work_items: list[WorkItem] = field(default_factory=list)
    created: bool = False
    reopened: bool = False
    duplicate: bool = False
    spam: bool = False
    spam_reasons: list[str] = field(default_factory=list)
    incident: bool = False
    triage: Triage | None = None
    joined: bool = False  # the caller's ``JoinedOps`` were written in the case's transaction


# Items a caller asks to be written in the same transaction as the case (the profile's context,
# the interaction marked threaded): given the case as it will be saved, whether it is new, and
# the triage; see ``CaseThreading.on_interaction``.
JoinedOps = Callable[[Case, bool, Triage], list[dict[str, Any]]]


class ContextSource(Protocol):
    """The returning-customer context of a customer id (``IdentityService.context_for``)."""

    def context_for(self, customer_id: str) -> dict[str, Any]: ...


def utc(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC)


def interaction_ref(interaction: Interaction, sentiment: Sentiment | None) -> InteractionRef:
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
        content_type=interaction.content.get("type") if interaction.content else None,
        sentiment=sentiment.label if sentiment else None,
        public=interaction.is_public,
    )


def kind_of(route: Route) -> WorkItemKind:
    try:
        return WorkItemKind(route.item)
    except ValueError:
        return WorkItemKind.RESPOND


def add_interaction(case: Case, ref: InteractionRef, now: datetime) -> None:
    if ref.channel not in case.channels:
        case.channels.append(ref.channel)
    case.interaction_count += 1
    case.recent = sorted([*case.recent, ref], key=lambda r: r.occurred_at)[-RECENT_INTERACTIONS:]
    case.updated_at = now


def apply_triage(case: Case, result: Triage, ref_public: bool) -> None:
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


def apply_route(case: Case, route: Route, now: datetime, interaction_id: str) -> None:
    case.routing = route.model_dump(mode="json") | {"interaction_id": interaction_id}
    if route.assign and route.team is not case.team:
        case.handoffs.append(
            Handoff(from_team=case.team, to_team=route.team, at=now, by=f"routing:{route.rule}", reason=route.reason)
        )
        case.team = route.team
        case.lease_owner = case.lease_until = None  # the new team claims it afresh


def current_case(repo: CasesRepository, customer_id: str, hint: str | None = None) -> tuple[str | None, Case | None]:
    """(pointer value, the case it leads to after following merges).

    ``hint`` is the open case id the customer's profile (just read) names: when it leads to an
    open case of this customer, the pointer read is skipped - it would name the same case (a
    case is only opened when none is open, and the profile is noted in the same transaction).
    Anything else (no hint, a resolved or foreign case) reads the pointer, the source of truth.
    """
    if hint:
        case = follow_merges(repo, repo.get(hint))
        if case is not None and case.is_open and case.customer_id == customer_id:
            return hint, case
    pointer = repo.latest_case_id(customer_id)
    return pointer, follow_merges(repo, repo.get(pointer) if pointer else None)


def follow_merges(repo: CasesRepository, case: Case | None) -> Case | None:
    hops = 0
    while case is not None and case.status is CaseStatus.MERGED and case.merged_into and hops < 5:
        case = repo.get(case.merged_into)
        hops += 1
    return case


def require_open(case: Case) -> None:
    if not case.is_open:
        raise Conflict(f"case {case.id} is {case.status.value}", case_id=case.id, status=case.status.value)


def customer_context(contexts: ContextSource, case: Case) -> CustomerContext | None:
    """The returning-customer context for items raised outside the pipeline (hand-off,
    escalation, close-the-loop), so they carry the same context as the first item did.

    An item is never held back for it: if the profiles cannot be read, the case snapshot still
    carries the essentials.
    """
    if not case.customer_id:
        return None
    try:
        found = contexts.context_for(case.customer_id)
    except Exception:  # profiles unavailable: the case snapshot still carries the essentials
        logger.warning("customer context unavailable", extra={"case_id": case.id}, exc_info=True)
        found = {}
    return CustomerContext.model_validate({**(found or {}), "customer_id": case.customer_id})
