"""What each fuzz target runs: the pure chain between a verified body and the queue, as the real
entry point runs it, with nothing faked but the ports the chain hands its results to.

* webhooks (X, Meta, gateway): ``common.load_json`` (with ``repair_text`` where the webhook uses
  it) -> ``flows.webhooks.parse_or_400`` around the platform's parser -> every event's SQS body
  (``InboundEvent.queue_body``), UTF-8 encoded and read back as the processor reads it;
* Amazon Connect: the Lambda event as the runtime decodes it -> ``CallerLookup.handle`` (a
  directory that knows nobody, a publisher that keeps what it is given);
* CRM inbound: ``load_json`` (what ``verify_and_parse`` does after the signature: ``json.loads``
  + ``check_document``) -> the vendor's parser -> ``CrmInbound.apply`` with in-memory case ports.

A target returns what a user would see (the interactions' ids and actions, or the events
applied) and raises only what the entry point answers 400 for: ``BadRequest`` or a pydantic
``ValidationError``. Anything else is a 5xx in production, and a failing example here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError

from socialcare.crm.hubspot import DEFAULT_STAGES
from socialcare.crm.inbound_events import CrmInboundEvent, parse_hubspot, parse_socialcare, parse_zendesk
from socialcare.crm.samples import sample_view
from socialcare.domain.channels import gateway, meta, x
from socialcare.domain.channels.common import MAX_IGNORED_REASONS, Parsed, load_json
from socialcare.domain.channels.connect import KEYS
from socialcare.domain.replies.service import reply_id
from socialcare.errors import BadRequest
from socialcare.flows.caller_lookup import CallerLookup
from socialcare.flows.crm_webhook import CrmInbound
from socialcare.flows.webhooks import parse_or_400
from socialcare.models.interaction import Channel, InboundEvent, Kind
from socialcare.models.reply import OutboundMessage, ReplyRoute, ReplyTo

ALLOWED = (BadRequest, ValidationError)  # the entry points answer both with 400 and a JSON reason
BRAND_X_IDS = frozenset({"783214", "2244994945"})
REGION = "IT"


def delivered(parsed: Parsed) -> list[str]:
    """The events as the queue and the processor see them; what the user would notice of each."""
    assert len(parsed.ignored) <= MAX_IGNORED_REASONS + 1, "ignored reasons must stay bounded"
    seen = []
    for event in parsed.events:
        body = event.queue_body()
        body.encode("utf-8")  # SQS takes UTF-8 only: a lone surrogate here is a 5xx
        back = InboundEvent.model_validate_json(body)
        assert back.dedupe_key == event.dedupe_key and back.group_id == event.group_id
        subject = event.interaction.id if event.interaction else event.target_id or event.event_id
        seen.append(f"{subject}|{event.action.value}")
    return sorted(seen)


def _x(body: bytes) -> list[str]:
    return delivered(parse_or_400(lambda p: x.parse(p, BRAND_X_IDS), load_json(body, repair_text=True)))


def _meta(body: bytes) -> list[str]:
    return delivered(parse_or_400(meta.parse, load_json(body, repair_text=True)))


def _gateway(body: bytes) -> list[str]:
    return delivered(parse_or_400(lambda p: gateway.parse(p, REGION), load_json(body)))


class KeptEvents:
    """A ``ports.Publisher`` that keeps what it is given (the SQS side is tested elsewhere)."""

    def __init__(self) -> None:
        self.events: list[InboundEvent] = []
        self.replies: list[OutboundMessage] = []

    def inbound(self, events: Sequence[InboundEvent]) -> int:
        self.events.extend(events)
        return len(events)

    def outbound(self, replies: Sequence[OutboundMessage]) -> None:
        self.replies.extend(replies)


class Nobody:
    """A customer directory that knows no number (``flows.caller_lookup.CustomerDirectory``)."""

    def find_customer(self, kind: str, value: str) -> str | None:
        return None

    def context_for(self, customer_id: str) -> dict[str, Any]:
        return {}


def _connect(body: bytes) -> list[str]:
    try:
        event = json.loads(body)
    except (ValueError, RecursionError):
        return []  # the Lambda runtime refuses a body that is not JSON before our handler runs
    kept = KeptEvents()
    answer = CallerLookup(Nobody(), kept, REGION).handle(event)  # type: ignore[arg-type]
    # Connect reads a flat map of strings: anything else fails the contact flow
    assert set(answer) == set(KEYS) and all(isinstance(v, str) and len(v) <= 256 for v in answer.values())
    found = delivered(Parsed(events=kept.events))
    return found + [f"status|{answer['lookupStatus']}"]


class CaseRecords:
    """The CRM index (``CasesRepository.case_for_crm_record``): every record is one known case."""

    def case_for_crm_record(self, record_id: str) -> str | None:
        return "SC-2026-000042" if record_id else None


class CaseCommands:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def set_case_status(self, case_id: str, status: str, *, actor: str) -> None:
        self.calls.append((case_id, status))


class Replies:
    """The reply service (``flows.crm_webhook.ReplyRequests``): what it would queue for a CRM
    comment on a case last written to on WhatsApp, handed to the publisher that keeps it."""

    def __init__(self, publisher: KeptEvents) -> None:
        self.publisher = publisher

    def request(self, case_id: str, *, text: str | None, source: str = "api", agent: str | None = None,
                crm_record_id: str | None = None, crm_reply_id: str | None = None, **_: Any) -> OutboundMessage:
        last = sample_view(case_id, channels=("x", "whatsapp")).interactions[-1]
        to = ReplyTo(interaction_id=last.id, channel=Channel(last.channel), kind=Kind(last.kind), public=last.public,
                     platform_message_id=last.id.split(":", 1)[1], author_id=last.author_id or "",
                     occurred_at=last.occurred_at, last_inbound_at=last.occurred_at)
        message = OutboundMessage(interaction_id=reply_id(source, crm_reply_id), case_id=case_id, channel=to.channel,
                                  route=ReplyRoute.MESSAGE, to=to, text=text, source=source, agent=agent,
                                  crm_record_id=crm_record_id, crm_reply_id=crm_reply_id)
        self.publisher.outbound([message])
        return message


class Once:
    """``ports.OnceGuard`` in memory."""

    def __init__(self) -> None:
        self.done: dict[str, str] = {}

    def once(self, key: str, action: Callable[[], str]) -> str:
        if key not in self.done:
            self.done[key] = action()
        return self.done[key]


def _crm(parse: Callable[[Any], list[CrmInboundEvent]]) -> Callable[[bytes], list[str]]:
    def run(body: bytes) -> list[str]:
        events = parse(load_json(body))
        kept, commands = KeptEvents(), CaseCommands()
        inbound = CrmInbound(records=CaseRecords(), commands=commands, replies=Replies(kept),  # type: ignore[arg-type]
                             guard=Once())
        counts = inbound.apply(events)
        assert counts["received"] == len(events) == counts["applied"] + counts["ignored"]
        for reply in kept.replies:  # what outbound.fifo and the reply sender read back
            body_text = reply.queue_body()
            body_text.encode("utf-8")
            OutboundMessage.model_validate_json(body_text)
        return sorted([f"{e.kind}|{e.event_id}|{e.status}|{e.reply_id}" for e in events])

    return run


# target -> the chain; the seeds of each are ``seeds.seeds(target)``
TARGETS: dict[str, Callable[[bytes], list[str]]] = {
    "x": _x,
    "meta_page_feed": _meta,
    "messenger": _meta,
    "instagram": _meta,
    "whatsapp": _meta,
    "gateway": _gateway,
    "connect": _connect,
    "crm_webhook": _crm(lambda doc: parse_socialcare("webhook", doc, frozenset({"005BOT"}))),
    "zendesk": _crm(lambda doc: parse_zendesk(doc, frozenset({"900"}))),
    "hubspot": _crm(lambda doc: parse_hubspot(doc, DEFAULT_STAGES)),
}
