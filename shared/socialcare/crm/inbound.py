"""``POST /webhooks/crm/{provider}``: verify the CRM's signature, then apply what it tells us.

Order of work, each step failing closed:

1. the provider must be known (404);
2. its signing secret must be readable (500 ``secret_unavailable``, nothing processed);
3. the signature must verify over the raw body (401);
4. the body must be JSON of the expected shape (400 with a reason);
5. each event is applied: a status change updates the case (``solved``/``closed`` resolves it)
   through the injected ``CaseService``; a public agent reply is queued on outbound.fifo as an
   ``OutboundReply``; our own updates echoed back by the CRM are ignored.

Signing schemes:

* ``zendesk``: ``X-Zendesk-Webhook-Signature = base64(HMAC-SHA256(secret, timestamp + body))``
  with ``X-Zendesk-Webhook-Signature-Timestamp``; secret ``crm_credentials.zendesk.webhook_secret``.
* ``hubspot``: signature v3, ``X-HubSpot-Signature-v3 = base64(HMAC-SHA256(client secret,
  method + uri + body + timestamp))`` with ``X-HubSpot-Request-Timestamp`` (ms); older than 5
  minutes is rejected; secret ``crm_credentials.hubspot.client_secret``.
* ``webhook`` (ours) and ``salesforce`` (the Apex callout in docs/crm.md):
  ``X-Socialcare-Signature = sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`` with
  ``X-Socialcare-Timestamp`` (Unix seconds), 5 minutes of tolerance; secrets CrmWebhookSecret and
  ``crm_credentials.salesforce.webhook_secret``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel

from socialcare import aws, secrets
from socialcare.crm.base import NoGuard, OnceGuard, Permanent
from socialcare.crm.records import CrmRecords
from socialcare.crm.sync import CaseSource
from socialcare.errors import BadRequest, Conflict, EnqueueFailed, NotFound, SecretUnavailable, Unauthorized
from socialcare.http import constant_time_equal, make_resolver, raw_body
from socialcare.models.crm import OutboundReply, ReplyTarget
from socialcare.observability import logger, metrics
from socialcare.settings import get_settings

MAX_SKEW_SECONDS = 300
PROVIDERS = ("webhook", "salesforce", "zendesk", "hubspot")

# Every CRM's status words, onto the cases service's statuses.
_STATUS = {
    "new": "open",
    "open": "open",
    "working": "open",
    "in progress": "open",
    "pending": "pending",
    "hold": "pending",
    "on hold": "pending",
    "waiting": "pending",
    "escalated": "escalated",
    "solved": "resolved",
    "closed": "resolved",
    "resolved": "resolved",
}
# HubSpot writes made through the API (our private app included) - never a human in the CRM.
_HUBSPOT_MACHINE_SOURCES = frozenset({"INTEGRATION", "API"})


class CaseService(Protocol):
    """The cases service's commands the CRM may trigger (wired by the lead; see docs/crm.md)."""

    def resolve_case(self, case_id: str, *, actor: str) -> None: ...

    def set_case_status(self, case_id: str, status: str, *, actor: str) -> None: ...


class CrmInboundEvent(BaseModel):
    provider: str
    kind: Literal["status", "reply"]
    event_id: str
    case_id: str | None = None
    record_id: str | None = None
    status: str | None = None  # already mapped to our vocabulary
    reply_id: str | None = None
    text: str | None = None
    public: bool = False
    author_id: str | None = None
    author_name: str | None = None
    echo: bool = False


# --------------------------------------------------------------------------- signatures


def _hmac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def _fresh(timestamp: str | None, now: float, *, millis: bool = False) -> bool:
    try:
        value = float(timestamp or "")
    except ValueError:
        return False
    seconds = value / 1000 if millis else value
    return abs(now - seconds) <= MAX_SKEW_SECONDS


def socialcare_signature(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + _hmac(secret, timestamp.encode() + b"." + body).hex()


def verify_socialcare(secret: str, headers: Mapping[str, str], body: bytes, now: float) -> bool:
    timestamp = headers.get("x-socialcare-timestamp")
    given = headers.get("x-socialcare-signature", "")
    if not timestamp or not _fresh(timestamp, now):
        return False
    return constant_time_equal(given, socialcare_signature(secret, timestamp, body))


def zendesk_signature(secret: str, timestamp: str, body: bytes) -> str:
    return base64.b64encode(_hmac(secret, timestamp.encode() + body)).decode()


def verify_zendesk(secret: str, headers: Mapping[str, str], body: bytes, now: float) -> bool:
    # No age check: Zendesk documents none, and a replayed status change is idempotent anyway.
    timestamp = headers.get("x-zendesk-webhook-signature-timestamp")
    given = headers.get("x-zendesk-webhook-signature", "")
    return bool(timestamp) and constant_time_equal(given, zendesk_signature(secret, timestamp or "", body))


def hubspot_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    source = method.encode() + uri.encode() + body + timestamp.encode()
    return base64.b64encode(_hmac(secret, source)).decode()


def verify_hubspot(secret: str, headers: Mapping[str, str], body: bytes, now: float, *, method: str, uri: str) -> bool:
    timestamp = headers.get("x-hubspot-request-timestamp")
    given = headers.get("x-hubspot-signature-v3", "")
    if not timestamp or not _fresh(timestamp, now, millis=True):
        return False
    return constant_time_equal(given, hubspot_signature(secret, method, uri, body, timestamp))


# --------------------------------------------------------------------------- parsing


def _map_status(value: Any) -> str | None:
    return _STATUS.get(str(value or "").strip().lower())


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() in {"true", "1", "yes"}


def parse_socialcare(provider: str, doc: Any, integration_ids: frozenset[str]) -> list[CrmInboundEvent]:
    """Our own documented shape (generic webhook and the Salesforce Apex callout)."""
    items = doc.get("events") if isinstance(doc, dict) and "events" in doc else [doc]
    if not isinstance(items, list):
        raise BadRequest("'events' must be a list")
    events: list[CrmInboundEvent] = []
    for item in items:
        if not isinstance(item, dict) or "event" not in item:
            raise BadRequest("each event needs an 'event' field")
        actor = item.get("actor") or {}
        actor_id = str(actor.get("id") or item.get("actor_id") or "")
        echo = item.get("origin") == "socialcare" or (bool(actor_id) and actor_id in integration_ids)
        base = {
            "provider": provider,
            "event_id": str(item.get("id") or item.get("event_id") or ""),
            "case_id": item.get("case_id"),
            "record_id": str(item["record_id"]) if item.get("record_id") else None,
            "echo": echo,
        }
        if item["event"] == "case.status_changed":
            events.append(CrmInboundEvent(kind="status", status=_map_status(item.get("status")), **base))
        elif item["event"] == "case.replied":
            reply = item.get("reply") or {}
            author = reply.get("author") or {}
            author_id = str(author.get("id") or "")
            events.append(
                CrmInboundEvent(
                    kind="reply",
                    reply_id=str(reply.get("id") or ""),
                    text=reply.get("text"),
                    public=_truthy(reply.get("public")),
                    author_id=author_id or None,
                    author_name=author.get("name"),
                    **{**base, "echo": echo or (bool(author_id) and author_id in integration_ids)},
                )
            )
        else:
            raise BadRequest(f"unknown event {item['event']!r}")
    return events


def parse_zendesk(doc: Any, integration_ids: frozenset[str]) -> list[CrmInboundEvent]:
    """Zendesk event-subscription webhooks (``zen:event-type:ticket.*``) and the trigger template
    in docs/crm.md (``{"ticket_id", "external_id", "status", "comment": {...}, "updated_by"}``)."""
    if not isinstance(doc, dict):
        raise BadRequest("zendesk body must be a JSON object")
    kind = str(doc.get("type") or "")
    if kind.startswith("zen:event-type:ticket."):
        detail, event = doc.get("detail") or {}, doc.get("event") or {}
        base = {
            "provider": "zendesk",
            "event_id": str(doc.get("id") or ""),
            "record_id": str(detail.get("id")) if detail.get("id") else None,
            "case_id": detail.get("external_id") or None,
        }
        if kind.endswith("status_changed"):
            actor = str(detail.get("updated_by_id") or doc.get("actor_id") or "")
            return [
                CrmInboundEvent(
                    kind="status", status=_map_status(event.get("current")), echo=actor in integration_ids, **base
                )
            ]
        if kind.endswith("comment_added"):
            comment = event.get("comment") or {}
            author = comment.get("author") or {}
            author_id = str(author.get("id") or "")
            return [
                CrmInboundEvent(
                    kind="reply",
                    reply_id=str(comment.get("id") or ""),
                    text=comment.get("body"),
                    public=_truthy(comment.get("is_public")),
                    author_id=author_id or None,
                    author_name=author.get("name"),
                    echo=author_id in integration_ids,
                    **base,
                )
            ]
        return []
    if "ticket_id" not in doc:
        raise BadRequest("zendesk body needs 'type' (event webhook) or 'ticket_id' (trigger)")
    updated_by = str(doc.get("updated_by") or "")
    base = {
        "provider": "zendesk",
        "event_id": str(doc.get("id") or f"{doc['ticket_id']}:{doc.get('updated_at', '')}"),
        "record_id": str(doc["ticket_id"]),
        "case_id": doc.get("external_id") or None,
    }
    events = []
    if doc.get("status"):
        events.append(
            CrmInboundEvent(
                kind="status", status=_map_status(doc["status"]), echo=updated_by in integration_ids, **base
            )
        )
    comment = doc.get("comment") or {}
    if comment.get("id") and comment.get("body"):
        author_id = str(comment.get("author_id") or "")
        events.append(
            CrmInboundEvent(
                kind="reply",
                reply_id=str(comment["id"]),
                text=comment["body"],
                public=_truthy(comment.get("public")),
                author_id=author_id or None,
                author_name=comment.get("author_name"),
                echo=(author_id or updated_by) in integration_ids,
                **base,
            )
        )
    return events


def parse_hubspot(doc: Any, stages: Mapping[str, str]) -> list[CrmInboundEvent]:
    """HubSpot webhook batches: ``ticket.propertyChange`` of ``hs_pipeline_stage``."""
    if not isinstance(doc, list):
        raise BadRequest("hubspot body must be a JSON array of events")
    # Several of our statuses share a stage; read a stage as the least surprising of them.
    by_stage = {str(stages[s]): _STATUS[s] for s in ("new", "open", "pending", "resolved") if s in stages}
    events = []
    for item in doc:
        if not isinstance(item, dict):
            raise BadRequest("hubspot events must be objects")
        if item.get("subscriptionType") != "ticket.propertyChange" or item.get("propertyName") != "hs_pipeline_stage":
            continue
        events.append(
            CrmInboundEvent(
                provider="hubspot",
                kind="status",
                event_id=str(item.get("eventId") or ""),
                record_id=str(item.get("objectId") or ""),
                status=by_stage.get(str(item.get("propertyValue"))),
                echo=str(item.get("changeSource") or "").upper() in _HUBSPOT_MACHINE_SOURCES,
            )
        )
    return events


# --------------------------------------------------------------------------- applying


class CrmInbound:
    def __init__(
        self,
        *,
        records: CrmRecords,
        case_service: CaseService,
        case_source: CaseSource | None,
        guard: OnceGuard | None = None,
        outbound_queue_url: str | None = None,
        sqs: Any | None = None,
    ) -> None:
        self.records = records
        self.case_service = case_service
        self.case_source = case_source
        self.guard = guard or NoGuard()
        self.outbound_queue_url = (
            outbound_queue_url if outbound_queue_url is not None else get_settings().outbound_queue_url
        )
        self._sqs = sqs

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
        case_id = event.case_id or (self.records.case_for_record(event.record_id) if event.record_id else None)
        if not case_id:
            logger.info("crm event for a record we do not know", extra={"record_id": event.record_id})
            return False
        actor = f"crm:{event.provider}"
        if event.kind == "status":
            if event.status is None:
                return False
            if event.status == "resolved":
                self.case_service.resolve_case(case_id, actor=actor)
            else:
                self.case_service.set_case_status(case_id, event.status, actor=actor)
            return True
        if not (event.public and event.text and event.reply_id):
            return False  # internal notes stay in the CRM
        reply = OutboundReply(
            reply_id=f"crm:{event.provider}:{event.reply_id}",
            case_id=case_id,
            text=event.text,
            source=actor,
            crm_record_id=event.record_id,
            author_name=event.author_name,
            author_crm_id=event.author_id,
            reply_to=self._reply_target(case_id),
        )
        self.guard.once(f"outbound:{reply.reply_id}", lambda: self._enqueue(reply))
        return True

    def _reply_target(self, case_id: str) -> ReplyTarget | None:
        if self.case_source is None:
            return None  # the responder resolves the target from the case itself
        view = self.case_source.get_case_view(case_id)
        inbound = [i for i in (view.interactions if view else []) if i.direction == "inbound"]
        if not inbound:
            return None
        last = max(inbound, key=lambda i: (i.occurred_at, i.id))
        return ReplyTarget(
            interaction_id=last.id,
            channel=last.channel,
            author_id=last.author_id,
            public=last.public,
            thread=last.thread,
        )

    def _enqueue(self, reply: OutboundReply) -> str:
        if not self.outbound_queue_url:
            raise EnqueueFailed("outbound queue is not configured")
        try:
            answer = (self._sqs or aws.sqs()).send_message(
                QueueUrl=self.outbound_queue_url,
                MessageBody=reply.model_dump_json(),
                MessageGroupId=reply.case_id[:128],
                MessageDeduplicationId=reply.dedupe_id,
            )
        except Exception as exc:
            raise EnqueueFailed("outbound queue rejected the reply") from exc
        return str(answer["MessageId"])


# --------------------------------------------------------------------------- request


def _vendor_secret(provider: str, field: str) -> tuple[str, dict[str, Any]]:
    from socialcare.crm.factory import vendor_credentials

    try:
        creds = vendor_credentials(provider)
    except Permanent as exc:
        raise SecretUnavailable(exc.reason) from exc
    value = creds.get(field)
    if not isinstance(value, str) or not value:
        raise SecretUnavailable(f"crm_credentials.{provider}.{field} is missing")
    return value, creds


def _ids(creds: Mapping[str, Any]) -> frozenset[str]:
    raw = creds.get("integration_user_ids") or creds.get("integration_user_id") or []
    values = raw if isinstance(raw, list) else [raw]
    return frozenset(str(v) for v in values if v)


def verify_and_parse(
    provider: str, headers: Mapping[str, str], body: bytes, *, method: str, uri: str, now: float | None = None
) -> list[CrmInboundEvent]:
    """Steps 2-4 of the module docstring; raises the domain error that maps to the status."""
    now = time.time() if now is None else now
    headers = {k.lower(): v for k, v in headers.items()}
    creds: dict[str, Any] = {}
    if provider == "webhook":
        ok = verify_socialcare(secrets.secret_value("crm_webhook_secret"), headers, body, now)
    elif provider == "salesforce":
        secret, creds = _vendor_secret(provider, "webhook_secret")
        ok = verify_socialcare(secret, headers, body, now)
    elif provider == "zendesk":
        secret, creds = _vendor_secret(provider, "webhook_secret")
        ok = verify_zendesk(secret, headers, body, now)
    elif provider == "hubspot":
        secret, creds = _vendor_secret(provider, "client_secret")
        ok = verify_hubspot(secret, headers, body, now, method=method, uri=creds.get("webhook_url") or uri)
    else:
        raise NotFound(f"unknown CRM provider {provider!r}")
    if not ok:
        raise Unauthorized("signature does not verify")
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise BadRequest(f"body is not JSON: {exc}") from exc
    if provider == "zendesk":
        return parse_zendesk(doc, _ids(creds))
    if provider == "hubspot":
        from socialcare.crm.hubspot import DEFAULT_STAGES

        return parse_hubspot(doc, {**DEFAULT_STAGES, **(creds.get("stages") or {})})
    if provider == "salesforce":
        return parse_socialcare(provider, doc, _ids(creds))
    return parse_socialcare(provider, doc, frozenset())


# --------------------------------------------------------------------------- wiring

_case_service_factory: Callable[[], CaseService] | None = None
_case_source_factory: Callable[[], CaseSource] | None = None


def use_case_service(factory: Callable[[], CaseService], source: Callable[[], CaseSource] | None = None) -> None:
    """Replace the default cases service and read model (``views``), e.g. in tests."""
    global _case_service_factory, _case_source_factory
    _case_service_factory, _case_source_factory = factory, source


def default_inbound(context: Any = None) -> CrmInbound:
    from socialcare.cases import CrmCaseService
    from socialcare.crm.guard import PowertoolsGuard
    from socialcare.crm.views import StoreCaseSource

    table = get_settings().idempotency_table
    guard: OnceGuard = NoGuard()
    if table:
        guard = powertools_guard = PowertoolsGuard(table)
        if context is not None:
            powertools_guard.register(context)
    return CrmInbound(
        records=CrmRecords(),
        case_service=_case_service_factory() if _case_service_factory else CrmCaseService(),
        case_source=_case_source_factory() if _case_source_factory else StoreCaseSource(),
        guard=guard,
    )


app = make_resolver()


@app.post("/webhooks/crm/<provider>")
def _crm_webhook(provider: str) -> dict[str, Any]:
    event = app.current_event
    if provider not in PROVIDERS:
        raise NotFound(f"unknown CRM provider {provider!r}")
    headers = dict(event.headers or {})
    host = headers.get("host") or event.request_context.domain_name
    query = f"?{event.raw_query_string}" if event.raw_query_string else ""
    events = verify_and_parse(
        provider, headers, raw_body(event), method="POST", uri=f"https://{host}{event.raw_path}{query}"
    )
    counts = default_inbound(app.lambda_context).apply(events)
    logger.info("crm webhook", extra={"provider": provider, **counts})
    return counts


def handle_request(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """CrmWebhookFunction's one call."""
    return app.resolve(event, context)
