"""The generic webhook adapter: signed, identified deliveries carrying the case's replies;
failures classified for retry."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
import requests
import responses

from socialcare.crm.base import Http, Permanent, Retryable, parse_retry_after
from socialcare.crm.samples import sample_view
from socialcare.crm.webhook import WebhookAdapter
from socialcare.models.crm import CaseUpserted, ReplyView

URL = "https://crm.example.test/hooks/socialcare"
SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "schemas" / "case-upserted.v1.json"
SECRET = "s3cret"


class RecordingLimiter:
    def __init__(self, wait: float = 0.0) -> None:
        self.wait = wait
        self.taken = 0
        self.holds: list[float] = []

    def take(self, tokens: float = 1.0) -> float:
        self.taken += 1
        return self.wait

    def hold(self, seconds: float) -> None:
        self.holds.append(seconds)


def _adapter(limiter: RecordingLimiter | None = None) -> WebhookAdapter:
    return WebhookAdapter(URL, SECRET, Http("webhook", limiter=limiter, timeout=2))


def _event(version: int = 1) -> CaseUpserted:
    return CaseUpserted.from_view(sample_view(version=version))


@responses.activate
def test_delivery_is_signed_over_the_exact_body_and_carries_the_delivery_id() -> None:
    responses.post(URL, json={"id": "crm-1"}, status=201)
    event = _event(version=2)

    result = _adapter().upsert_case(event)

    request = responses.calls[0].request
    body = request.body if isinstance(request.body, bytes) else request.body.encode()
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert request.headers["X-Socialcare-Signature"] == expected
    assert request.headers["X-Socialcare-Delivery-Id"] == event.delivery_id
    assert request.headers["Content-Type"] == "application/json"
    doc = json.loads(body)
    assert doc["event"] == "case.upserted" and doc["case"]["id"] == "SC-2026-1" and doc["case"]["version"] == 2
    assert result.record_id == "crm-1" and result.created


@responses.activate
def test_receiver_without_an_id_keeps_the_case_id_as_record_id() -> None:
    responses.post(URL, status=204)
    assert _adapter().upsert_case(_event()).record_id == "SC-2026-1"


@responses.activate
def test_503_is_retryable_and_honours_retry_after() -> None:
    responses.post(URL, status=503, headers={"Retry-After": "7"}, body="down for maintenance")
    with pytest.raises(Retryable) as caught:
        _adapter().upsert_case(_event())
    assert caught.value.retry_after == 7
    assert caught.value.status == 503


@responses.activate
def test_429_holds_the_shared_bucket_for_retry_after() -> None:
    responses.post(URL, status=429, headers={"Retry-After": "12"})
    limiter = RecordingLimiter()
    with pytest.raises(Retryable) as caught:
        _adapter(limiter).upsert_case(_event())
    assert caught.value.retry_after == 12
    assert limiter.holds == [12]


@responses.activate
def test_400_is_permanent_with_a_readable_reason() -> None:
    responses.post(URL, status=400, json={"error": "customer.email is not an e-mail"})
    with pytest.raises(Permanent) as caught:
        _adapter().upsert_case(_event())
    assert "400" in caught.value.reason
    assert "customer.email is not an e-mail" in caught.value.reason


@responses.activate
def test_timeouts_and_connection_errors_are_retryable() -> None:
    responses.post(URL, body=requests.ReadTimeout("slow"))
    with pytest.raises(Retryable, match="timed out"):
        _adapter().upsert_case(_event())
    responses.replace(responses.POST, URL, body=requests.ConnectionError("refused"))
    with pytest.raises(Retryable, match="ConnectionError"):
        _adapter().upsert_case(_event())


@responses.activate
def test_an_empty_token_bucket_defers_without_calling_the_crm() -> None:
    limiter = RecordingLimiter(wait=2.5)
    with pytest.raises(Retryable) as caught:
        _adapter(limiter).upsert_case(_event())
    assert caught.value.retry_after == 2.5
    assert len(responses.calls) == 0


def test_missing_url_is_a_permanent_configuration_error() -> None:
    with pytest.raises(Permanent, match="SOCIALCARE_CRM_WEBHOOK_URL"):
        WebhookAdapter("", SECRET, Http("webhook"))


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def _with_replies(version: int = 3) -> CaseUpserted:
    sent = ReplyView(interaction_id="reply:aa", status="sent", route="public_reply", channel="x", source="api",
                     agent="marta", in_reply_to="x:SC-2026-1-m0", platform_message_id="1850000000000000099",
                     at=datetime(2026, 11, 20, 9, 20, tzinfo=UTC))
    refused = ReplyView(interaction_id="reply:bb", status="refused", channel="whatsapp", source="crm:webhook",
                        agent="Marta", crm_reply_id="c-2",
                        reason="whatsapp_24h_window: WhatsApp's 24-hour customer service window closed 1 h ago",
                        at=datetime(2026, 11, 20, 9, 30, tzinfo=UTC))
    return CaseUpserted.from_view(sample_view(version=version).model_copy(update={"replies": [sent, refused]}))


@responses.activate
def test_the_crm_hears_what_became_of_each_reply_and_why() -> None:
    responses.post(URL, json={"id": "crm-1"})

    _adapter().upsert_case(_with_replies())

    doc = json.loads(responses.calls[0].request.body)
    replies = {r["interaction_id"]: r for r in doc["replies"]}
    assert replies["reply:aa"]["status"] == "sent" and replies["reply:aa"]["platform_message_id"]
    assert replies["reply:bb"]["status"] == "refused" and replies["reply:bb"]["crm_reply_id"] == "c-2"
    assert replies["reply:bb"]["reason"].startswith("whatsapp_24h_window: WhatsApp's 24-hour")
    jsonschema.validate(doc, json.loads(SCHEMA.read_text(encoding="utf-8")))


def test_a_case_without_replies_still_sends_an_empty_list() -> None:
    assert json.loads(_event().model_dump_json())["replies"] == []
