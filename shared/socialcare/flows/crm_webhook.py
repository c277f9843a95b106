"""CrmWebhookFunction: ``POST /webhooks/crm/{provider}``: verify the CRM's signature, then apply
what it tells us.

Order of work, each step failing closed:

1. the provider must be known (404);
2. its signing secret must be readable (500 ``secret_unavailable``, nothing processed);
3. the signature must verify over the raw body (401);
4. the body must be JSON of the expected shape (400 with a reason) - steps 2-4 are
   ``crm.inbound_events``;
5. each event is applied: a status change updates the case (``solved``/``closed`` resolves it)
   through the case actions; a public agent reply is published on outbound.fifo as an
   ``OutboundReply``; our own updates echoed back by the CRM are ignored.
"""

from __future__ import annotations

from typing import Any, Protocol

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.metrics import MetricUnit

from socialcare.config.settings import CrmWebhookSettings, load
from socialcare.crm.factory import PROVIDERS
from socialcare.crm.inbound_events import CrmInboundEvent, verify_and_parse
from socialcare.domain.channels.common import check_document
from socialcare.domain.crm_view import CaseSource
from socialcare.errors import Conflict, NotFound
from socialcare.flows.http import make_resolver, raw_body
from socialcare.flows.wiring import Wiring
from socialcare.models.crm import OutboundReply, ReplyTarget
from socialcare.observability import logger, metrics
from socialcare.ports import OnceGuard, Publisher
from socialcare.store.cases import CasesRepository


class CaseCommands(Protocol):
    """The case actions a CRM may trigger (``domain.cases.actions.CaseActions``)."""

    def set_case_status(self, case_id: str, status: str, *, actor: str) -> None: ...


class CrmInbound:
    def __init__(self, *, records: CasesRepository, commands: CaseCommands, views: CaseSource,
                 guard: OnceGuard, publisher: Publisher) -> None:
        self.records = records
        self.commands = commands
        self.views = views
        self.guard = guard
        self.publisher = publisher

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
        reply = OutboundReply(
            reply_id=f"crm:{event.provider}:{event.reply_id}", case_id=case_id, text=event.text, source=actor,
            crm_record_id=event.record_id, author_name=event.author_name, author_crm_id=event.author_id,
            reply_to=self._reply_target(case_id),
        )
        self.guard.once(f"outbound:{reply.reply_id}", lambda: self._publish(reply))
        return True

    def _publish(self, reply: OutboundReply) -> str:
        self.publisher.outbound([reply])
        return reply.reply_id

    def _reply_target(self, case_id: str) -> ReplyTarget | None:
        view = self.views.get_case_view(case_id)
        inbound = [i for i in (view.interactions if view else []) if i.direction == "inbound"]
        if not inbound:
            return None
        last = max(inbound, key=lambda i: (i.occurred_at, i.id))
        return ReplyTarget(interaction_id=last.id, channel=last.channel, author_id=last.author_id, public=last.public,
                           thread=last.thread)


def crm_inbound(wiring: Wiring) -> CrmInbound:
    return CrmInbound(records=wiring.cases_repo, commands=wiring.case_actions, views=wiring.crm_views,
                      guard=wiring.guard, publisher=wiring.publisher)


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
