"""Checking and queueing a reply: the one way a reply to a customer leaves socialcare, from the
agent API (``POST /api/cases/{id}/replies``) and from a CRM (an agent's public comment).

A reply answers one of the customer's interactions (by default the case's latest message on a
social channel), read back from their timeline: thread ids, author, brand account, and the
customer's latest message on that channel from that author (the start of the platform's
window). The platform's rules (``policy.choose``) decide the route BEFORE anything is queued; a
reply they refuse is never queued (a CRM's refused reply is recorded on the case as REFUSED, so
the CRM hears why). An accepted reply is published on outbound.fifo (``OutboundMessage``) and
recorded QUEUED on the case; the ResponderFunction sends it.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from socialcare.domain.cases.reads import CaseQueries
from socialcare.domain.faq import FaqIndex
from socialcare.domain.replies.drafts import Draft, draft_reply
from socialcare.domain.replies.policy import ReplyRules, choose, reply_options
from socialcare.domain.replies.state import record_reply_state
from socialcare.errors import BadRequest, Conflict, NotFound
from socialcare.models.case import Case, CaseStatus, InteractionRef
from socialcare.models.interaction import PUBLIC_KINDS, Channel, Direction, Kind
from socialcare.models.reply import (
    OutboundMessage,
    ReplyRefused,
    ReplyRoute,
    ReplyState,
    ReplyStatus,
    ReplyTo,
    TemplateRef,
    Visibility,
)
from socialcare.observability import count, logger
from socialcare.ports import Publisher
from socialcare.store.cases import CasesRepository
from socialcare.store.profiles import ProfilesRepository

# The channels socialcare answers on; a case whose latest message came by phone or e-mail is
# answered where the customer last wrote on social media.
REPLY_CHANNELS = frozenset({Channel.X, Channel.FACEBOOK, Channel.INSTAGRAM, Channel.MESSENGER, Channel.WHATSAPP})
# The newest interactions of a case looked at for the message to answer (an incident gathers
# thousands; the one to answer is among the latest).
RECENT = 200
MERGE_HOPS = 5  # merged_into chains longer than this are not followed
TIMELINE_PAGE, TIMELINE_PAGES = 50, 10  # at most 500 newer timeline items read for the window's start

# The platforms' maxima for a reply's text, checked before queueing so the agent hears "too long"
# now rather than a failed send later. X counts weighted characters (CJK and emoji 2, a link 23):
# twitter-text is not in the layer, so code points are counted here and X may still refuse a
# reply full of emoji at send time (the responder then records it FAILED with X's reason).
# Sources: X "Counting characters" (280) and DMs (10,000); Messenger Send API text (2,000; also
# Instagram messages and private replies, sent through it); WhatsApp text body (4,096);
# Facebook comments (8,000); Instagram comments (2,200).
_LIMITS: dict[tuple[Channel, ReplyRoute], int] = {
    (Channel.X, ReplyRoute.PUBLIC_REPLY): 280,
    (Channel.X, ReplyRoute.DIRECT_MESSAGE): 10_000,
    (Channel.X, ReplyRoute.MESSAGE): 10_000,
    (Channel.FACEBOOK, ReplyRoute.PUBLIC_REPLY): 8_000,
    (Channel.INSTAGRAM, ReplyRoute.PUBLIC_REPLY): 2_200,
    (Channel.WHATSAPP, ReplyRoute.MESSAGE): 4_096,
}
_MESSENGER_LIMIT = 2_000
MAX_TEXT = 10_000  # what an OutboundMessage carries at most
# A CRM reply's id is derived from the CRM's own comment id: a CRM retrying its webhook (for
# hours, longer than SQS's 5-minute deduplication) gets the same id, which the case's reply states
# and the responder's send-once guard both recognise.
_CRM_REPLIES = uuid.UUID("6f1d3c5e-2b8a-4c7e-9a41-5d0b7e2f8c19")
_NOT_ALNUM = re.compile(r"[^0-9A-Z]+")
# a reference as people write it: letters, digits and the separators brands use (LX-2026-004711, #A7K3, 2024/000431)
_TOKEN = re.compile(r"#?[0-9A-Za-z]+(?:[-/.][0-9A-Za-z]+)*")


def reply_id(source: str, crm_reply_id: str | None = None) -> str:
    """``reply:<32 hex>``: random for an agent's reply, deterministic for a CRM's comment."""
    if crm_reply_id and source.startswith("crm:"):
        return "reply:" + uuid.uuid5(_CRM_REPLIES, f"{source}\x1f{crm_reply_id}").hex
    return "reply:" + uuid.uuid4().hex


def text_limit(channel: Channel, route: ReplyRoute) -> int:
    return _LIMITS.get((channel, route), _MESSENGER_LIMIT)


def _at(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class ReplyService:
    def __init__(self, *, cases: CasesRepository, queries: CaseQueries, profiles: ProfilesRepository,
                 rules: ReplyRules, publisher: Publisher, faq: FaqIndex) -> None:
        self.cases = cases
        self.queries = queries
        self.profiles = profiles
        self.rules = rules
        self.publisher = publisher
        self.faq = faq

    # ------------------------------------------------------------------ reads
    def case(self, case_id: str) -> Case:
        """The case with its newest interactions; a merged case is followed to its survivor."""
        current = case_id
        for _ in range(MERGE_HOPS):
            case = self.queries.get_case(current, with_interactions=False)  # NotFound: 404
            if case.status is CaseStatus.MERGED and case.merged_into:
                current = case.merged_into
                continue
            found = self.cases.get_with_interactions(case.id, newest=RECENT)
            if found is None:
                break
            return found
        raise NotFound(f"case {case_id} not found", case_id=case_id)

    def target(self, case: Case, in_reply_to: str | None) -> ReplyTo:
        """The interaction a reply to ``case`` answers, with what the platform's rules need."""
        return self._target(case, in_reply_to)[0]

    def _target(self, case: Case, in_reply_to: str | None) -> tuple[ReplyTo, dict[str, Any]]:
        interaction_id = self._answered(case, in_reply_to)
        item = self.profiles.interaction(interaction_id)
        if item is None:
            raise NotFound(f"interaction {interaction_id} is not on the customer's timeline",
                           interaction_id=interaction_id)
        if item.get("direction") == Direction.OUTBOUND.value:
            raise BadRequest(f"{interaction_id} is one of our own messages: answer one of the customer's",
                             interaction_id=interaction_id)
        kind, channel = Kind(item["kind"]), Channel(item["channel"])
        occurred_at = _at(item["occurred_at"])
        public = kind in PUBLIC_KINDS
        author_id = str(item.get("author_id") or "")
        owner = str(item.get("pk", "")).removeprefix("CUSTOMER#") or case.customer_id or ""
        thread = item.get("thread") or {}
        to = ReplyTo(
            interaction_id=interaction_id, channel=channel, kind=kind, public=public,
            platform_message_id=str(item["platform_message_id"]), author_id=author_id,
            author_handle=item.get("author_handle"), account_id=item.get("account_id"),
            conversation_id=thread.get("conversation_id"), post_id=thread.get("post_id"),
            parent_id=thread.get("parent_id"), occurred_at=occurred_at,
            last_inbound_at=self._last_inbound(owner, channel, author_id, public, occurred_at),
            private_replied=any(
                r.route is ReplyRoute.PRIVATE_REPLY and r.in_reply_to == interaction_id
                and r.status not in (ReplyStatus.FAILED, ReplyStatus.REFUSED) for r in case.replies),
        )
        return to, item

    def _answered(self, case: Case, in_reply_to: str | None) -> str:
        """The id of the customer's interaction to answer: ``in_reply_to`` if it belongs to the
        case, else the case's latest inbound message on a social channel (else its latest)."""
        inbound = [r for r in case.interactions if r.direction == Direction.INBOUND.value]
        if in_reply_to is None:
            social = [r for r in inbound if r.channel in REPLY_CHANNELS]
            latest = _latest(social) or _latest(inbound)
            if latest is None:
                raise ReplyRefused("no_reply_route", "no_customer_message",
                                   f"case {case.id} holds no message from the customer to answer", [])
            return latest.id
        if any(r.id == in_reply_to for r in case.interactions):
            return in_reply_to
        owner, _ = self.cases.interaction_case_id(in_reply_to)
        if owner is None:
            if self.profiles.guard(in_reply_to) is None:
                raise NotFound(f"no interaction {in_reply_to}", interaction_id=in_reply_to)
            raise BadRequest(f"interaction {in_reply_to} belongs to no case", interaction_id=in_reply_to)
        if owner != case.id and owner not in case.merged_from:
            raise BadRequest(f"interaction {in_reply_to} belongs to case {owner}, not {case.id}",
                             interaction_id=in_reply_to)
        return in_reply_to

    def _last_inbound(self, customer_id: str, channel: Channel, author_id: str, public: bool,
                      occurred_at: datetime) -> datetime:
        """The customer's newest message on ``channel`` from ``author_id`` (a DM counts for a DM,
        a post or comment for a public one: a comment opens no messaging window), from their
        whole timeline, not only this case. The interaction answered is one, so the newest-first
        read stops there at the latest."""
        if not customer_id or not author_id:
            return occurred_at
        cursor: str | None = None
        for _ in range(TIMELINE_PAGES):
            page = self.profiles.timeline(customer_id, limit=TIMELINE_PAGE, cursor=cursor)
            for item in page.items:
                at = _at(item["occurred_at"])
                if at <= occurred_at:
                    return occurred_at
                if (item.get("direction", "inbound") == Direction.INBOUND.value and item.get("channel") == channel.value
                        and item.get("author_id") == author_id and (item.get("kind") in PUBLIC_KINDS) == public):
                    return at
            cursor = page.cursor
            if cursor is None:
                break
        return occurred_at

    # ------------------------------------------------------------------ options and drafts
    def options(self, case_id: str, in_reply_to: str | None = None, now: datetime | None = None) -> dict[str, Any]:
        """Every route a reply may take now, open or not, and a draft in the customer's tone."""
        now = now or datetime.now(UTC)
        case = self.case(case_id)
        to, item = self._target(case, in_reply_to)
        return {"case_id": case.id, "in_reply_to": to.interaction_id, "to": to,
                "options": reply_options(to, self.rules, now, human=True),
                "draft": self.draft(case, to, item)}

    def draft(self, case: Case, to: ReplyTo, item: dict[str, Any]) -> Draft:
        """A suggested reply: the customer's language and register, their first name, the order
        references they quoted in this case, the FAQ answer their message matches (like a work
        item's ``suggested_answer``) and the case's first category as the topic."""
        text, language = item.get("text") or None, item.get("language") or None
        match = self.faq.suggest(text, language)
        customer_id = str(item.get("pk", "")).removeprefix("CUSTOMER#") or case.customer_id
        profile = self.profiles.get_profile(customer_id) if customer_id else None
        name = (profile.name if profile and profile.name else None) or item.get("author_name")
        return draft_reply(
            customer_text=text, language=language, customer_name=name,
            references=self._references(customer_id, [text or "", *(r.summary for r in case.interactions)]),
            faq_answer=match.answer if match else None,
            topic=case.categories[0].replace("_", " ") if case.categories else None,
        )

    def _references(self, customer_id: str | None, texts: list[str]) -> list[str]:
        """The customer's order/ticket references (``ref`` identities) quoted in this case: one
        from an older case is not this case's, and a draft must not invent facts."""
        if not customer_id:
            return []
        refs = [i.value for i in self.profiles.identities(customer_id) if i.kind == "ref"]
        quoted = (as_written(r, texts) for r in dict.fromkeys(refs) if r)
        return list(dict.fromkeys(q for q in quoted if q))

    # ------------------------------------------------------------------ the request
    def request(self, case_id: str, *, text: str | None, in_reply_to: str | None = None,
                visibility: Visibility | None = None, template: TemplateRef | None = None, source: str = "api",
                agent: str | None = None, automated: bool = False, crm_record_id: str | None = None,
                crm_reply_id: str | None = None, now: datetime | None = None) -> OutboundMessage:
        """Check a reply against the platform's rules and queue it (``ReplyRefused``: 409, nothing
        queued; ``BadRequest``: 400). A CRM's retry of a reply already queued queues nothing more."""
        now = now or datetime.now(UTC)
        case = self.case(case_id)
        text = (text or "").strip() or None
        interaction_id = reply_id(source, crm_reply_id)
        known = next((r for r in case.replies if r.interaction_id == interaction_id), None)
        if known is not None and known.status is ReplyStatus.REFUSED:
            raise Conflict(f"this reply was refused: {known.reason}", interaction_id=interaction_id)
        to: ReplyTo | None = None
        try:
            if text is None and template is None:
                raise BadRequest("a reply needs a text (or, on WhatsApp, a template)")
            to = self.target(case, known.in_reply_to if known else in_reply_to)
            if known is not None and known.route is not None:
                route, chosen = known.route, template  # queued before: answered again, not re-decided
            else:
                option, chosen = choose(to, self.rules, now, visibility=visibility, template=template,
                                        human=not automated, text=text)
                route = option.route
                _check_text(text, to.channel, route)
        except (ReplyRefused, BadRequest) as exc:
            logger.info("reply refused", extra={"case_id": case.id, "source": source, "code": exc.code,
                                                "rule": getattr(exc, "rule", None)})
            count("RepliesRefused", reason=exc.code)
            if source.startswith("crm:"):
                self._refused(case, interaction_id, exc, to, source=source, agent=agent, crm_reply_id=crm_reply_id,
                              now=now)
            raise
        message = OutboundMessage(
            interaction_id=interaction_id, case_id=case.id, customer_id=case.customer_id, channel=to.channel,
            route=route, to=to, text=text, template=chosen, source=source, agent=agent, automated=automated,
            crm_record_id=crm_record_id, crm_reply_id=crm_reply_id, requested_at=now,
        )
        if known is not None:
            return message
        self.publisher.outbound([message])
        logger.info("reply queued", extra={"case_id": case.id, "interaction_id": interaction_id, "route": route.value,
                                           "channel": to.channel.value, "source": source})
        count("RepliesQueued", channel=to.channel.value, route=route.value)
        record_reply_state(self.cases, case.id, ReplyState(
            interaction_id=interaction_id, status=ReplyStatus.QUEUED, route=route, channel=to.channel.value,
            source=source, agent=agent, in_reply_to=to.interaction_id, crm_reply_id=crm_reply_id, at=now))
        return message

    def _refused(self, case: Case, interaction_id: str, exc: ReplyRefused | BadRequest, to: ReplyTo | None, *,
                 source: str, agent: str | None, crm_reply_id: str | None, now: datetime) -> None:
        """A CRM's reply the rules (or its text) refused, on the case: the CRM's copy shows it."""
        reason = f"{exc.rule}: {exc.detail}" if isinstance(exc, ReplyRefused) else f"{exc.code}: {exc.reason}"
        channel = to.channel.value if to else (case.channels[-1] if case.channels else "unknown")
        record_reply_state(self.cases, case.id, ReplyState(
            interaction_id=interaction_id, status=ReplyStatus.REFUSED, channel=channel, source=source, agent=agent,
            in_reply_to=to.interaction_id if to else None, reason=reason[:1000], crm_reply_id=crm_reply_id,
            at=now))


def as_written(ref: str, texts: list[str]) -> str | None:
    """``ref`` (a ``ref`` identity: stored normalised, e.g. ``123456`` for ``ORD-123456``) as the
    customer wrote it in ``texts`` - the draft quotes her own words - or None when she did not."""
    wanted = _NOT_ALNUM.sub("", ref.upper())
    for text in texts:
        for token in _TOKEN.findall(text):
            if _NOT_ALNUM.sub("", token.upper()).endswith(wanted):
                return token
    return None


def _latest(refs: list[InteractionRef]) -> InteractionRef | None:
    return max(refs, key=lambda r: (r.occurred_at, r.id)) if refs else None


def _check_text(text: str | None, channel: Channel, route: ReplyRoute) -> None:
    # A template sends its approved text; an agent's text beside it stays on the record only.
    if text is None and route is not ReplyRoute.TEMPLATE:
        raise BadRequest(f"a {route.value} reply on {channel.value} needs a text")
    limit = MAX_TEXT if route is ReplyRoute.TEMPLATE else text_limit(channel, route)
    if text is not None and len(text) > limit:
        raise BadRequest(f"the reply is {len(text)} characters; a {route.value} on {channel.value} takes at most "
                         f"{limit}", length=len(text), limit=limit, route=route.value, channel=channel.value)
