"""CrmWebhookFunction: ``POST /webhooks/crm/{provider}``: verify the CRM's signature, then apply
what it tells us.

Order of work, each step failing closed:

1. the provider must be known (404);
2. its signing secret must be readable (500 ``secret_unavailable``, nothing processed);
3. the signature must verify over the raw body (401);
4. the body must be JSON of the expected shape (400 with a reason) - steps 2-4 are
   ``crm.inbound_events``;
5. each event is applied: a status change updates the case (``solved``/``closed`` resolves it)
   through the case actions; a public agent reply goes through the reply service
   (``domain.replies.service``) like an agent's reply from the API: checked against the
   platform's rules, then queued on outbound.fifo as an ``OutboundMessage`` - once per CRM
   comment, however often the CRM retries. A reply the rules refuse is recorded REFUSED on the
   case (with the rule and why), which the CRM sees on its next sync, and answered 200
   "ignored": retrying cannot make it acceptable. Our own updates echoed back are ignored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.metrics import MetricUnit

from socialcare.config.settings import CrmWebhookSettings, load
from socialcare.crm.factory import PROVIDERS
from socialcare.crm.inbound_events import CrmInboundEvent, verify_and_parse
from socialcare.domain.channels.common import check_document
from socialcare.errors import BadRequest, Conflict, NotFound
from socialcare.flows.http import make_resolver, raw_body
from socialcare.flows.wiring import Wiring
from socialcare.models.reply import OutboundMessage, TemplateRef, Visibility
from socialcare.observability import logger, metrics
from socialcare.ports import OnceGuard
from socialcare.store.cases import CasesRepository


class CaseCommands(Protocol):
    """The case actions a CRM may trigger (``domain.cases.actions.CaseActions``)."""

    def set_case_status(self, case_id: str, status: str, *, actor: str) -> None: ...


class ReplyRequests(Protocol):
    """Checking and queueing a reply (``domain.replies.service.ReplyService``)."""

    def request(self, case_id: str, *, text: str | None, in_reply_to: str | None = None,
                visibility: Visibility | None = None, template: TemplateRef | None = None, source: str = "api",
                agent: str | None = None, automated: bool = False, crm_record_id: str | None = None,
                crm_reply_id: str | None = None, now: datetime | None = None) -> OutboundMessage: ...


class CrmInbound:
    def __init__(self, *, records: CasesRepository, commands: CaseCommands, replies: ReplyRequests,
                 guard: OnceGuard) -> None:
        self.records = records
        self.commands = commands
        self.replies = replies
        self.guard = guard

    def apply(self, events: list[CrmInboundEvent]) -> dict[str, int]:
        counts = {"received": len(events), "applied": 0, "ignored": 0}
        for event in events:
            try:
                applied = self._apply_one(event)
            except (Conflict, NotFound) as exc:
                # The case moved on (merged, reopened elsewhere, erased): telling the CRM 4xx
                # would only make it retry a change that can never apply.
                logger.info("crm event not applicable", extra={"reason": exc.reason, "case_id": event.case_id})
                applied = False
            counts["applied" if applied else "ignored"] += 1
        return counts

    def _apply_one(self, event: CrmInboundEvent) -> bool:
        if event.echo:
            metrics.add_metric(name="CrmEchoesIgnored", unit=MetricUnit.Count, value=1)
            return False
        case_id = event.case_id or (self.records.case_for_crm_record(event.record_id) if event.record_id else None)
        if not case_id:
            logger.info("crm event for a record we do not know", extra={"record_id": event.record_id})
            return False
        actor = f"crm:{event.provider}"
        if event.kind == "status":
            if event.status is None:
                return False
            self.commands.set_case_status(case_id, event.status, actor=actor)
            return True
        if not (event.public and event.text and event.reply_id):
            return False  # internal notes stay in the CRM
        return self._reply(case_id, event)

    def _reply(self, case_id: str, event: CrmInboundEvent) -> bool:
        """An agent's public comment, to the customer: checked and queued by the reply service.
        The guard (Powertools idempotency) makes a CRM retry during or after the first attempt
        wait or repeat its answer; the reply's id, derived from the comment id, makes a retry
        after the guard's record expired queue nothing more."""
        source = f"crm:{event.provider}"

        def queue() -> str:
            message = self.replies.request(case_id, text=event.text, source=source,
                                           agent=event.author_name or event.author_id,
                                           crm_record_id=event.record_id, crm_reply_id=event.reply_id)
            return message.interaction_id

        try:
            self.guard.once(f"outbound:{source}:{event.reply_id}", queue)
        except BadRequest as exc:
            # Recorded REFUSED on the case by the service (e.g. too long for the platform): the
            # CRM's retry could never be accepted either.
            logger.info("crm reply not sendable", extra={"reason": exc.reason, "case_id": case_id})
            return False
        metrics.add_metric(name="CrmRepliesQueued", unit=MetricUnit.Count, value=1)
        return True


def crm_inbound(wiring: Wiring) -> CrmInbound:
    return CrmInbound(records=wiring.cases_repo, commands=wiring.case_actions, replies=wiring.reply_service,
                      guard=wiring.guard)


def build(wiring: Wiring | None = None) -> APIGatewayHttpResolver:
    """CrmWebhookFunction's resolver, its settings validated at cold start."""
    w = wiring or Wiring(load(CrmWebhookSettings)).check_rules()
    app = make_resolver()
    inbound = crm_inbound(w)

    @app.post("/webhooks/crm/<provider>")
    def crm_webhook(provider: str) -> dict[str, Any]:
        event = app.current_event
        if provider not in PROVIDERS:
            raise NotFound(f"unknown CRM provider {provider!r}")
        headers = dict(event.headers or {})
        host = headers.get("host") or event.request_context.domain_name
        query = f"?{event.raw_query_string}" if event.raw_query_string else ""
        events = verify_and_parse(w.secrets, provider, headers, raw_body(event, w.settings.max_body_bytes),
                                  method="POST", uri=f"https://{host}{event.raw_path}{query}", check=check_document)
        w.guard.register(app.lambda_context)
        counts = inbound.apply(events)
        logger.info("crm webhook", extra={"provider": provider, **counts})
        return counts

    return app
