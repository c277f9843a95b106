"""Inbound CRM webhooks: each vendor's signature scheme and body format, parsed into
``CrmInboundEvent``s (pure: bytes and secrets in, events out; ``flows.crm_webhook`` applies them).

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
import json
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel

from socialcare.crm.base import Permanent
from socialcare.crm.factory import vendor_credentials
from socialcare.crm.hubspot import DEFAULT_STAGES
from socialcare.errors import BadRequest, NotFound, SecretUnavailable, Unauthorized
from socialcare.secrets import SecretStore
from socialcare.signing import constant_time_equal, fresh, hmac_sha256, socialcare_signature

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


def verify_socialcare(secret: str, headers: Mapping[str, str], body: bytes, now: float) -> bool:
    timestamp = headers.get("x-socialcare-timestamp")
    if not timestamp or not fresh(timestamp, now):
        return False
    return constant_time_equal(headers.get("x-socialcare-signature", ""), socialcare_signature(secret, timestamp, body))


def zendesk_signature(secret: str, timestamp: str, body: bytes) -> str:
    return base64.b64encode(hmac_sha256(secret, timestamp.encode() + body)).decode()


def verify_zendesk(secret: str, headers: Mapping[str, str], body: bytes, now: float) -> bool:
    # No age check: Zendesk documents none, and a replayed status change is idempotent anyway.
    timestamp = headers.get("x-zendesk-webhook-signature-timestamp")
    given = headers.get("x-zendesk-webhook-signature", "")
    return bool(timestamp) and constant_time_equal(given, zendesk_signature(secret, timestamp or "", body))


def hubspot_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    source = method.encode() + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac_sha256(secret, source)).decode()


def verify_hubspot(secret: str, headers: Mapping[str, str], body: bytes, now: float, *, method: str, uri: str) -> bool:
    timestamp = headers.get("x-hubspot-request-timestamp")
    given = headers.get("x-hubspot-signature-v3", "")
    if not timestamp or not fresh(timestamp, now, millis=True):
        return False
    return constant_time_equal(given, hubspot_signature(secret, method, uri, body, timestamp))


# --------------------------------------------------------------------------- parsing


def _map_status(value: Any) -> str | None:
    return _STATUS.get(str(value or "").strip().lower())


def _object(value: Any, what: str) -> dict[str, Any]:
    """A nested object of the body; absent is empty, any other type is the sender's error (400)."""
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"{what!r} must be a JSON object")
    return value


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
        actor = _object(item.get("actor"), "actor")
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
            reply = _object(item.get("reply"), "reply")
            author = _object(reply.get("author"), "reply.author")
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
    if str(doc.get("type") or "").startswith("zen:event-type:ticket."):
        return _zendesk_event(doc, integration_ids)
    if "ticket_id" not in doc:
        raise BadRequest("zendesk body needs 'type' (event webhook) or 'ticket_id' (trigger)")
    return _zendesk_trigger(doc, integration_ids)


def _zendesk_event(doc: dict[str, Any], integration_ids: frozenset[str]) -> list[CrmInboundEvent]:
    kind = str(doc.get("type"))
    detail, event = _object(doc.get("detail"), "detail"), _object(doc.get("event"), "event")
    base = {
        "provider": "zendesk",
        "event_id": str(doc.get("id") or ""),
        "record_id": str(detail.get("id")) if detail.get("id") else None,
        "case_id": detail.get("external_id") or None,
    }
    if kind.endswith("status_changed"):
        actor = str(detail.get("updated_by_id") or doc.get("actor_id") or "")
        return [CrmInboundEvent(kind="status", status=_map_status(event.get("current")), echo=actor in integration_ids,
                                **base)]
    if kind.endswith("comment_added"):
        comment = _object(event.get("comment"), "event.comment")
        author = _object(comment.get("author"), "event.comment.author")
        author_id = str(author.get("id") or "")
        return [CrmInboundEvent(
            kind="reply", reply_id=str(comment.get("id") or ""), text=comment.get("body"),
            public=_truthy(comment.get("is_public")), author_id=author_id or None, author_name=author.get("name"),
            echo=author_id in integration_ids, **base,
        )]
    return []


def _zendesk_trigger(doc: dict[str, Any], integration_ids: frozenset[str]) -> list[CrmInboundEvent]:
    updated_by = str(doc.get("updated_by") or "")
    base = {
        "provider": "zendesk",
        "event_id": str(doc.get("id") or f"{doc['ticket_id']}:{doc.get('updated_at', '')}"),
        "record_id": str(doc["ticket_id"]),
        "case_id": doc.get("external_id") or None,
    }
    events = []
    if doc.get("status"):
        events.append(CrmInboundEvent(kind="status", status=_map_status(doc["status"]),
                                      echo=updated_by in integration_ids, **base))
    comment = _object(doc.get("comment"), "comment")
    if comment.get("id") and comment.get("body"):
        author_id = str(comment.get("author_id") or "")
        events.append(CrmInboundEvent(
            kind="reply", reply_id=str(comment["id"]), text=comment["body"], public=_truthy(comment.get("public")),
            author_id=author_id or None, author_name=comment.get("author_name"),
            echo=(author_id or updated_by) in integration_ids, **base,
        ))
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


# --------------------------------------------------------------------------- request


def _vendor_secret(secrets: SecretStore, provider: str, field: str) -> tuple[str, dict[str, Any]]:
    try:
        creds = vendor_credentials(secrets, provider)
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
    secrets: SecretStore,
    provider: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    method: str,
    uri: str,
    check: Callable[[Any], None],
    now: float | None = None,
) -> list[CrmInboundEvent]:
    """Verify the signature (401; 500 when the secret is missing) and parse the body (400);
    raises the domain error that maps to the status. ``check`` vets the parsed body before any
    field is read: the webhook flow passes the one guard every webhook shares
    (``domain.channels.common.check_document``: too deep or a lone surrogate is a 400), which
    this layer may not import."""
    now = time.time() if now is None else now
    headers = {k.lower(): v for k, v in headers.items()}
    creds: dict[str, Any] = {}
    if provider == "webhook":
        ok = verify_socialcare(secrets.value("crm_webhook_secret"), headers, body, now)
    elif provider == "salesforce":
        secret, creds = _vendor_secret(secrets, provider, "webhook_secret")
        ok = verify_socialcare(secret, headers, body, now)
    elif provider == "zendesk":
        secret, creds = _vendor_secret(secrets, provider, "webhook_secret")
        ok = verify_zendesk(secret, headers, body, now)
    elif provider == "hubspot":
        secret, creds = _vendor_secret(secrets, provider, "client_secret")
        ok = verify_hubspot(secret, headers, body, now, method=method, uri=creds.get("webhook_url") or uri)
    else:
        raise NotFound(f"unknown CRM provider {provider!r}")
    if not ok:
        raise Unauthorized("signature does not verify")
    try:
        doc = json.loads(body)
    except RecursionError as exc:  # json's C scanner stops a deep body before the stack is gone
        raise BadRequest("body is not JSON that can be read: nested too deeply") from exc
    except ValueError as exc:
        raise BadRequest(f"body is not JSON: {exc}") from exc
    check(doc)
    if provider == "zendesk":
        return parse_zendesk(doc, _ids(creds))
    if provider == "hubspot":
        return parse_hubspot(doc, {**DEFAULT_STAGES, **(creds.get("stages") or {})})
    if provider == "salesforce":
        return parse_socialcare(provider, doc, _ids(creds))
    return parse_socialcare(provider, doc, frozenset())


