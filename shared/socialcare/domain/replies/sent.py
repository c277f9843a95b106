"""What became of a reply, recorded where agents and the CRM look: the customer's timeline and
the case.

* ``SentReplies.record``: a reply the platform accepted joins the customer's timeline as an
  outbound interaction (its id is the reply's own, ``reply:<uuid hex>``), gets an alias under the
  platform's id (``<channel>:<platform message id>``, which receipts name), and joins the case in
  one version-conditional transaction: the case's timeline item, its marker, the reply state
  ``sent`` and the first response. Each step is idempotent, so a redelivery after a crash
  finishes what the first delivery began.
* ``SentReplies.record_failure``: a reply that cannot be sent: state ``failed`` with the reason,
  and a ``reply_failed`` work item for the case's team.
* ``record_receipt``: a platform's receipt for a reply (the processor's status events) moves
  its state to delivered, read or failed; states only move forward (``state.merge_state``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from socialcare.domain.cases.common import ATTEMPTS, add_interaction, follow_merges, interaction_ref
from socialcare.domain.replies.state import merge_state, record_reply_state
from socialcare.domain.workitems import build
from socialcare.errors import NotFound
from socialcare.models.case import Case, CaseStatus
from socialcare.models.interaction import Author, Channel, DeliveryStatus, Direction, Interaction, Kind, ThreadRef
from socialcare.models.reply import OutboundMessage, ReplyRoute, ReplyState, ReplyStatus, SendResult
from socialcare.models.workitem import RoutingInfo, WorkItem, WorkItemKind
from socialcare.ports import Publisher
from socialcare.store.cases import CasesRepository, DuplicateInteraction, VersionConflict
from socialcare.store.profiles import ProfilesRepository

# A platform's receipt statuses, in the order a reply moves through them.
RECEIPTS = {"sent": ReplyStatus.SENT, "delivered": ReplyStatus.DELIVERED, "read": ReplyStatus.READ,
            "failed": ReplyStatus.FAILED}
_ORDER = list(RECEIPTS)
_COMMENT_CHANNELS = frozenset({Channel.FACEBOOK, Channel.INSTAGRAM})


@dataclass(frozen=True)
class Recorded:
    """What recording a sent reply did."""

    case: Case | None
    first_response_seconds: float | None = None  # set when this reply stopped the first-response clock


def reply_kind(message: OutboundMessage) -> Kind:
    """A threaded public reply is an X reply or a Facebook/Instagram comment; the rest are messages."""
    if message.route is ReplyRoute.PUBLIC_REPLY:
        return Kind.COMMENT if message.channel in _COMMENT_CHANNELS else Kind.PUBLIC_REPLY
    return Kind.DIRECT_MESSAGE


def outbound_interaction(message: OutboundMessage, result: SendResult, text: str | None) -> Interaction:
    """The reply as the timeline keeps it: written by the brand account, threaded under what it answers."""
    to = message.to
    content: dict[str, Any] = {}
    if message.template is not None:
        content = {"type": "template", "name": message.template.name, "language": message.template.language,
                   "parameters": list(message.template.parameters)}
    return Interaction(
        id=message.interaction_id, channel=message.channel, kind=reply_kind(message), direction=Direction.OUTBOUND,
        account_id=to.account_id, platform_message_id=result.platform_message_id,
        author=Author(id=to.account_id or f"brand:{message.channel.value}"),
        text=text, occurred_at=result.sent_at, content=content,
        thread=ThreadRef(conversation_id=to.conversation_id, post_id=to.post_id, parent_id=to.platform_message_id),
        metadata={"route": message.route.value, "source": message.source, "agent": message.agent,
                  "automated": message.automated, "in_reply_to": to.interaction_id},
    )


def reply_state(message: OutboundMessage, status: ReplyStatus, at: datetime, *, reason: str | None = None,
                platform_message_id: str | None = None) -> ReplyState:
    return ReplyState(interaction_id=message.interaction_id, status=status, route=message.route,
                      channel=message.channel.value, source=message.source, agent=message.agent,
                      in_reply_to=message.to.interaction_id, reason=reason,
                      platform_message_id=platform_message_id, crm_reply_id=message.crm_reply_id, at=at)


def stop_first_response(case: Case, at: datetime) -> bool:
    """The first-response clock stops at ``at`` if it still runs (``record_reply_state``'s rule)."""
    if case.first_response_at is not None and case.first_response_at <= at:
        return False
    case.first_response_at = at.astimezone(UTC)
    if case.status is CaseStatus.NEW:
        case.status = CaseStatus.OPEN
    return True


class SentReplies:
    def __init__(self, profiles: ProfilesRepository, cases: CasesRepository, publisher: Publisher) -> None:
        self.profiles = profiles
        self.cases = cases
        self.publisher = publisher

    def record(self, message: OutboundMessage, result: SendResult, text: str | None) -> Recorded:
        """Timeline, alias, then the case (module docstring); safe to run again."""
        interaction = outbound_interaction(message, result, text)
        case = follow_merges(self.cases, self.cases.get(message.case_id))
        case_id = case.id if case is not None else message.case_id
        customer_id = message.customer_id or (case.customer_id if case is not None else None)
        alias = Interaction.make_id(message.channel, result.platform_message_id)
        if customer_id:
            # the customer's identity on this channel: what an unmerge splits off (identity.evidence.via_key)
            via = f"{message.channel.value}#{message.to.author_id}"
            self.profiles.record_interaction(customer_id, interaction, result.model_dump(mode="json"), via=via)
            self.profiles.link_reply(interaction.id, case_id, alias)
        state = reply_state(message, ReplyStatus.SENT, result.sent_at,
                            platform_message_id=result.platform_message_id)
        recorded = self._into_case(case, interaction, state, stops_clock=not message.automated)
        if recorded.case is not None:
            self._pending_receipts(message, alias, recorded.case.id)
        return recorded

    def _into_case(self, case: Case | None, interaction: Interaction, state: ReplyState,
                   stops_clock: bool = True) -> Recorded:
        """One transaction: the case (the reply among its interactions, its state, the first
        response), its timeline item and the reply's marker, which makes a redelivery a no-op.
        An automated message (a satisfaction survey) never stops the first-response clock: the
        customer was not answered by a person."""
        ref = interaction_ref(interaction, None)
        sent_at = interaction.occurred_at
        for _ in range(ATTEMPTS):
            if case is None:
                return Recorded(None)  # erased: nothing to record on
            expected = case.version
            clock_ran = case.first_response_at is None
            add_interaction(case, ref, datetime.now(UTC))
            merge_state(case, state)
            stopped = stops_clock and stop_first_response(case, sent_at) and clock_ran
            case.version = expected + 1
            try:
                self.cases.transact([self.cases.put_case_op(case, expected),
                                     self.cases.marker_op(interaction.id, case.id, None),
                                     self.cases.timeline_op(case.id, ref)])
            except DuplicateInteraction as dup:
                # recorded by an earlier delivery; its state is brought up to date if it lags
                known = record_reply_state(self.cases, dup.case_id or case.id, state,
                                           first_response_at=sent_at if stops_clock else None)
                return Recorded(known)
            except VersionConflict:
                case = follow_merges(self.cases, self.cases.get(case.id))
                continue
            seconds = (sent_at - case.sla.started_at).total_seconds() if stopped else None
            return Recorded(case, None if seconds is None else max(0.0, seconds))
        raise VersionConflict("the case kept changing concurrently", reply_id=state.interaction_id)

    def _pending_receipts(self, message: OutboundMessage, alias: str, case_id: str) -> None:
        """Receipts that came before the alias existed (kept under the platform's id by
        ``record_status``): show the furthest on the reply and its state now."""
        kept = [s for s in self.profiles.statuses(alias) if s.get("status") in RECEIPTS]
        if not kept:
            return
        furthest = max(kept, key=lambda s: _ORDER.index(str(s["status"])))
        status = DeliveryStatus(channel=message.channel, platform_message_id=alias.split(":", 1)[1],
                                status=str(furthest["status"]), recipient_id=furthest.get("recipient_id"),
                                occurred_at=furthest["occurred_at"], errors=furthest.get("errors") or [])
        self.profiles.record_status(status)
        apply_receipt(self.cases, case_id, message.interaction_id, status)

    def record_failure(self, message: OutboundMessage, reason: str, *, now: datetime | None = None) -> WorkItem | None:
        """State ``failed`` with ``reason`` on the case, and a ``reply_failed`` item for its team
        (same id for the same reply: a redelivery publishes it again and SQS drops the copy)."""
        at = now or datetime.now(UTC)
        current = follow_merges(self.cases, self.cases.get(message.case_id))
        if current is None:
            return None  # erased meanwhile: nobody left to tell
        case = record_reply_state(self.cases, current.id, reply_state(message, ReplyStatus.FAILED, at, reason=reason))
        note = f"reply failed: {reason}"
        item = build(WorkItemKind.REPLY_FAILED, case.team, case, cause=message.interaction_id,
                     routing=RoutingInfo(rule="reply_failed", version=1, reason=note),
                     trigger=next((r for r in case.recent if r.id == message.to.interaction_id), None),
                     note=note, now=at)
        self.publisher.work_items([item])
        return item


def record_receipt(profiles: ProfilesRepository, cases: CasesRepository, status: DeliveryStatus) -> bool:
    """A platform's receipt (already kept by ``ProfilesRepository.record_status``) for one of our
    replies: its state on the case moves forward. False when the receipt names no reply we sent."""
    found = profiles.reply_of(Interaction.make_id(status.channel, status.platform_message_id))
    if found is None or found[1] is None:
        return False
    reply_id, case_id = found
    return apply_receipt(cases, case_id, reply_id, status)


def apply_receipt(cases: CasesRepository, case_id: str, reply_id: str, status: DeliveryStatus) -> bool:
    new = RECEIPTS.get(status.status)
    if new is None:
        return False
    reason = failure_reason(status.errors) if new is ReplyStatus.FAILED else None
    changed = False

    def change(case: Case) -> bool:
        # decided from the case read (re-read on a conflict): the state the reply has now
        nonlocal changed
        known = next((r for r in case.replies if r.interaction_id == reply_id), None)
        if known is None:
            return False  # no longer among the case's newest replies
        moved = known.model_copy(update={"status": new, "at": status.occurred_at, "reason": reason or known.reason})
        changed = merge_state(case, moved)
        return changed

    try:
        cases.update(case_id, change)
    except NotFound:
        return False
    return changed


def failure_reason(errors: list[dict[str, Any]]) -> str:
    """A failed receipt's reason, as the platform words it (WhatsApp: ``errors[].title``/``message``)."""
    for error in errors:
        text = error.get("title") or error.get("message")
        if text:
            code = error.get("code")
            return f"{text} (code {code})" if code is not None else str(text)
    return "the platform reported the message as failed"
