"""The generic ``webhook`` adapter (the default, and the local stack's CRM).

POSTs ``case.upserted`` JSON to ``SOCIALCARE_CRM_WEBHOOK_URL`` signed with
``X-Socialcare-Signature: sha256=<hex HMAC-SHA256(secret, body)>``, where the secret is
CrmWebhookSecret. ``X-Socialcare-Delivery-Id`` repeats on every retry of one case version, so the
receiver can acknowledge a duplicate without applying it twice. The record id is whatever the
receiver answers as ``{"id": ...}`` (or ``record_id``), else the case id itself.

An erasure (GDPR) is a ``customer.erased`` event the same way (``erase_customer``).
"""

from __future__ import annotations

import json
from typing import ClassVar

from socialcare.crm.base import CrmAdapter, CrmErasure, Http, Permanent, UpsertResult
from socialcare.models.crm import CaseUpserted
from socialcare.signing import hmac_sha256

SIGNATURE_HEADER = "X-Socialcare-Signature"
DELIVERY_HEADER = "X-Socialcare-Delivery-Id"
EVENT_HEADER = "X-Socialcare-Event"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac_sha256(secret, body).hex()


class WebhookAdapter(CrmAdapter):
    provider: ClassVar[str] = "webhook"

    def __init__(self, url: str, secret: str, http: Http) -> None:
        if not url:
            raise Permanent("webhook CRM: SOCIALCARE_CRM_WEBHOOK_URL is not set")
        self.url = url
        self.secret = secret
        self.http = http

    def upsert_case(self, event: CaseUpserted, *, record_id: str | None = None) -> UpsertResult:
        # Serialise once: the signature must cover exactly the bytes we send.
        body = event.model_dump_json().encode()
        response = self.http.request(
            "POST",
            self.url,
            data=body,
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(self.secret, body),
                DELIVERY_HEADER: event.delivery_id,
                EVENT_HEADER: event.event,
            },
            ok=(200, 201, 202, 204),
        )
        answered: str | None = None
        if response.content:
            try:
                doc = response.json()
            except ValueError:
                doc = None
            if isinstance(doc, dict):
                value = doc.get("id") or doc.get("record_id")
                answered = str(value) if value else None
        return UpsertResult(record_id=answered or record_id or event.case.id, created=response.status_code == 201)

    def erase_customer(self, request: CrmErasure) -> None:
        """POST a signed ``customer.erased`` event: the customer id and the records (case id and
        the receiver's record id) to delete. The delivery id is the erasure job's, the same on
        every retry; the receiver answers 2xx once it has erased them (or never had them)."""
        body = json.dumps({
            "event": "customer.erased", "schema_version": 1, "delivery_id": request.delivery_id,
            "customer_id": request.customer_id,
            "records": [{"case_id": case_id, "record_id": record_id} for case_id, record_id in request.records],
        }, separators=(",", ":")).encode()
        self.http.request("POST", self.url, data=body, headers={
            "Content-Type": "application/json", SIGNATURE_HEADER: sign(self.secret, body),
            DELIVERY_HEADER: request.delivery_id, EVENT_HEADER: "customer.erased",
        }, ok=(200, 202, 204, 404, 410))
