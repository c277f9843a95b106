"""The bodies the fuzzers start from.

Platform seeds are the ``body`` (and ``before`` bodies) of every file in
``tests/fixtures/corpus/<platform>/``, each naming its source (the platform's documentation or an
SDK's recorded fixture; the gateway's are written to docs/channels.md, as that corpus says), and
the parsers' unit fixtures in ``tests/fixtures/channels/``. The CRM seeds are the request bodies
docs/crm.md documents ("Inbound: POST /webhooks/crm/{provider}": our signed shape, Zendesk's
event and trigger webhooks, HubSpot's batch) with the vendors' documented field names.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CORPUS = FIXTURES / "corpus"
CHANNELS = FIXTURES / "channels"


def _corpus(pattern: str) -> list[Any]:
    found = []
    for path in sorted(CORPUS.glob(pattern)):
        doc = json.loads(path.read_text(encoding="utf-8"))
        found.append(doc["body"])
        found.extend(doc.get("before") or [])
    return found


def _channels(*names: str) -> list[Any]:
    return [json.loads((CHANNELS / name).read_text(encoding="utf-8")) for name in names]


@cache
def seeds(target: str) -> tuple[Any, ...]:
    """The seeds of one fuzz target (see ``targets.TARGETS``)."""
    found: list[Any]
    if target == "x":
        found = _corpus("x/*.json") + _channels(
            "x_direct_message_events.json", "x_engagement_events.json", "x_tweet_create_events.json",
            "x_tweet_delete_events.json",
        )
    elif target == "meta_page_feed":
        found = _corpus("meta/facebook/*.json") + _channels("meta_page_batch.json")
    elif target == "messenger":
        found = _corpus("meta/messenger/*.json")
    elif target == "instagram":
        found = _corpus("meta/instagram/*.json") + _channels("meta_instagram.json")
    elif target == "whatsapp":
        found = _corpus("meta/whatsapp/*.json") + _channels(
            "meta_whatsapp_messages.json", "meta_whatsapp_statuses.json", "meta_whatsapp_user_id.json",
        )
    elif target == "gateway":
        found = _corpus("gateway/*.json") + _channels("gateway_batch.json", "gateway_email.json")
    elif target == "connect":
        found = _channels("connect_contact_flow.json")
    else:
        found = list(CRM_SEEDS[target])
    return tuple(found)


# docs/crm.md, "Inbound: POST /webhooks/crm/{provider}" (field names as the vendors document them:
# developer.zendesk.com/api-reference/webhooks/event-types/ticket-events,
# developers.hubspot.com/docs/api/webhooks).
CRM_SEEDS: dict[str, tuple[Any, ...]] = {
    "crm_webhook": (
        {"event": "case.status_changed", "case_id": "SC-2026-000042", "status": "solved",
         "actor": {"id": "agent-7", "name": "Marta"}, "id": "evt-1"},
        {"event": "case.replied", "case_id": "SC-2026-000042", "id": "evt-2",
         "reply": {"id": "r-1", "text": "Ci scusiamo, il rimborso è partito.", "public": True,
                   "author": {"id": "agent-7", "name": "Marta"}}},
        {"events": [{"event": "case.status_changed", "record_id": "500Qy00000A1", "status": "Closed"},
                    {"event": "case.replied", "record_id": "500Qy00000A1", "origin": "socialcare",
                     "reply": {"id": "r-2", "text": "ok", "public": "true"}}]},
    ),
    "zendesk": (
        {"type": "zen:event-type:ticket.status_changed", "id": "cbe4028c-7239-495d-b020-f22348516046",
         "account_id": 22129848, "time": "2026-11-20T09:00:00Z", "subject": "zen:ticket:35436",
         "detail": {"id": "35436", "external_id": "SC-2026-000042", "status": "SOLVED", "updated_by_id": "501"},
         "event": {"previous": "OPEN", "current": "SOLVED"}},
        {"type": "zen:event-type:ticket.comment_added", "id": "0f3b5c1e-4c1a-4d6e-9b7a-2a1d7f9c8e11",
         "account_id": 22129848, "time": "2026-11-20T09:05:00Z", "subject": "zen:ticket:35436",
         "detail": {"id": "35436", "external_id": "SC-2026-000042"},
         "event": {"comment": {"id": "8112", "body": "Risolto, grazie!", "is_public": True,
                               "author": {"id": "501", "name": "Marta", "is_staff": True}}}},
        {"ticket_id": "4242", "external_id": "SC-2026-1", "status": "solved", "updated_by": "501",
         "updated_at": "2026-11-20T09:00:00Z",
         "comment": {"id": "c-9", "body": "Risolto, grazie!", "public": "true", "author_id": "501",
                     "author_name": "Marta"}},
    ),
    "hubspot": (
        [{"eventId": 1, "subscriptionId": 1234, "portalId": 62515, "appId": 54321, "occurredAt": 1795327200000,
          "subscriptionType": "ticket.propertyChange", "attemptNumber": 0, "objectId": 88,
          "propertyName": "hs_pipeline_stage", "propertyValue": "4", "changeSource": "CRM_UI"},
         {"eventId": 2, "subscriptionId": 1234, "portalId": 62515, "appId": 54321, "occurredAt": 1795327260000,
          "subscriptionType": "ticket.propertyChange", "attemptNumber": 0, "objectId": 88,
          "propertyName": "hs_pipeline_stage", "propertyValue": "3", "changeSource": "INTEGRATION"},
         {"eventId": 3, "subscriptionId": 1235, "portalId": 62515, "appId": 54321, "occurredAt": 1795327300000,
          "subscriptionType": "ticket.creation", "attemptNumber": 0, "objectId": 89, "changeSource": "CRM_UI"}],
    ),
}
