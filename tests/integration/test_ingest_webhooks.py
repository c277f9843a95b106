"""The real webhook handlers (X, Meta, inbound gateway) driven with HTTP API 2.0 events against
moto resources built from template.yaml: what reaches inbound.fifo, and what each caller hears."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from webhook_calls import Context, call, drain_messages, events_of, http_event  # tests/integration/webhook_calls.py
from webhook_calls import inbound_headers as gateway_headers
from webhook_calls import meta_signature as meta_sign
from webhook_calls import x_signature as x_sign

from socialcare.models.interaction import Action
from socialcare.publish import dedupe_id
from socialcare_infra.handlers import load_app

if TYPE_CHECKING:
    from conftest import AwsStack  # tests/integration/conftest.py (the moto stack fixture)
    from mypy_boto3_sqs.type_defs import MessageTypeDef

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "channels"
pytestmark = pytest.mark.integration


# Each function builds its settings at import (cold start): load it once ``aws`` set the environment.
@pytest.fixture
def webhook_x(aws: AwsStack) -> ModuleType:
    return load_app("webhook_x")


@pytest.fixture
def webhook_meta(aws: AwsStack) -> ModuleType:
    return load_app("webhook_meta")


@pytest.fixture
def webhook_inbound(aws: AwsStack) -> ModuleType:
    return load_app("webhook_inbound")


def drain(aws: AwsStack) -> list[MessageTypeDef]:
    return drain_messages(aws.queue_urls["InboundQueue"])


def x_post(webhook_x: ModuleType, aws: AwsStack, body: bytes, secret: str | None = None) -> tuple[int, Any]:
    key = aws.secret_values["XConsumerSecret"] if secret is None else secret
    return call(webhook_x, http_event("POST", "/webhooks/x", body, {"x-twitter-webhooks-signature": x_sign(key, body)}))


def meta_post(webhook_meta: ModuleType, aws: AwsStack, body: bytes, **kw: Any) -> tuple[int, Any]:
    headers = {"x-hub-signature-256": meta_sign(aws.secret_values["MetaAppSecret"], body)}
    return call(webhook_meta, http_event("POST", "/webhooks/meta", body, headers, **kw))


# ------------------------------------------------------------------ X


def test_x_crc_answers_with_the_consumer_secret(aws: AwsStack, webhook_x: ModuleType) -> None:
    status, body = call(webhook_x, http_event("GET", "/webhooks/x", query={"crc_token": "crc-abc"}))
    assert status == 200
    assert body == {"response_token": x_sign(aws.secret_values["XConsumerSecret"], b"crc-abc")}


def test_x_mentions_are_enqueued_in_their_authors_group_with_their_dedupe_id(
    aws: AwsStack, webhook_x: ModuleType
) -> None:
    raw = (FIXTURES / "x_tweet_create_events.json").read_bytes()
    status, body = x_post(webhook_x, aws, raw)
    assert (status, body) == (200, {"received": 3, "ignored": 2})
    messages = drain(aws)
    events = {e.event_id: (e, m) for e, m in zip(events_of(messages), messages, strict=True)}
    assert set(events) == {"1860000000000000001", "1860000000000000002", "1860000000000000003"}
    event, message = events["1860000000000000001"]
    assert message["Attributes"]["MessageGroupId"] == "x:2244994945"
    assert message["Attributes"]["MessageDeduplicationId"] == dedupe_id(event)
    assert event.interaction is not None and event.interaction.text is not None
    assert event.interaction.text.endswith("chiedo il rimborso subito \U0001f621")
    assert event.raw["id_str"] == "1860000000000000001"  # the event's own slice travels with it


def test_x_redelivery_of_the_same_post_is_not_enqueued_twice(aws: AwsStack, webhook_x: ModuleType) -> None:
    raw = (FIXTURES / "x_direct_message_events.json").read_bytes()
    assert x_post(webhook_x, aws, raw) == (200, {"received": 1, "ignored": 1})
    assert x_post(webhook_x, aws, raw) == (200, {"received": 1, "ignored": 1})  # the platform's retry
    # same dedupe id inside SQS's window: the retry is absorbed (moto dedupes against queued messages)
    messages = drain(aws)
    assert [e.interaction.author.name for e in events_of(messages) if e.interaction] == ["Anna Bianchi"]


def test_x_tweet_delete_reaches_the_queue_as_a_delete(aws: AwsStack, webhook_x: ModuleType) -> None:
    assert x_post(webhook_x, aws, (FIXTURES / "x_tweet_delete_events.json").read_bytes())[0] == 200
    (event,) = events_of(drain(aws))
    assert (event.action, event.target_id) == (Action.DELETE, "x:1860000000000000001")


def test_x_likes_and_follows_are_acknowledged_but_not_enqueued(aws: AwsStack, webhook_x: ModuleType) -> None:
    raw = (FIXTURES / "x_engagement_events.json").read_bytes()
    assert x_post(webhook_x, aws, raw) == (200, {"received": 0, "ignored": 2})
    assert drain(aws) == []


@pytest.mark.parametrize("secret", ["forged-secret", ""], ids=["forged", "empty-key"])
def test_x_forged_signatures_are_refused_and_nothing_is_enqueued(
    aws: AwsStack, webhook_x: ModuleType, secret: str
) -> None:
    status, body = x_post(webhook_x, aws, (FIXTURES / "x_tweet_create_events.json").read_bytes(), secret=secret)
    assert status == 401 and body["error"] == "unauthorized"
    assert drain(aws) == []


def test_x_unsigned_post_is_refused(aws: AwsStack, webhook_x: ModuleType) -> None:
    raw = (FIXTURES / "x_tweet_create_events.json").read_bytes()
    status, body = call(webhook_x, http_event("POST", "/webhooks/x", raw))
    assert status == 401 and "missing" in body["reason"]


def test_x_signed_malformed_json_is_a_400_with_a_json_reason(aws: AwsStack, webhook_x: ModuleType) -> None:
    status, body = x_post(webhook_x, aws, b'{"for_user_id": "1", "tweet_create_events": [')
    assert status == 400 and body == {"error": "bad_request", "reason": "body is not valid JSON"}


def test_x_signed_json_of_the_wrong_shape_is_a_400_not_a_500(aws: AwsStack, webhook_x: ModuleType) -> None:
    status, body = x_post(webhook_x, aws, b'{"tweet_create_events": [{"text": "no for_user_id"}]}')
    assert status == 400 and body["error"] == "bad_request"
    assert drain(aws) == []


def test_x_signed_malformed_event_is_skipped_and_counted_not_a_400(aws: AwsStack, webhook_x: ModuleType) -> None:
    # X resends a refused POST byte for byte: a 400 would lose the good events beside it forever
    status, body = x_post(webhook_x, aws, b'{"for_user_id": "1", "tweet_create_events": [{"text": "no id"}]}')
    assert (status, body) == (200, {"received": 0, "ignored": 1})
    assert drain(aws) == []


def test_x_body_over_the_limit_is_413(aws: AwsStack, webhook_x: ModuleType) -> None:
    huge = b'{"for_user_id": "1", "pad": "' + b"x" * (4 * 1024 * 1024) + b'"}'
    assert x_post(webhook_x, aws, huge)[0] == 413


def test_x_missing_secret_is_a_500_and_nothing_is_processed(aws: AwsStack, webhook_x: ModuleType) -> None:
    boto3.client("secretsmanager").delete_secret(
        SecretId=aws.secret_arns["XConsumerSecret"], ForceDeleteWithoutRecovery=True
    )
    raw = (FIXTURES / "x_tweet_create_events.json").read_bytes()
    status, body = x_post(webhook_x, aws, raw)
    assert status == 500 and body["error"] == "secret_unavailable"
    assert drain(aws) == []
    status, _ = call(webhook_x, http_event("GET", "/webhooks/x", query={"crc_token": "t"}))
    assert status == 500


def test_x_enqueue_failure_is_a_503_so_the_platform_retries(aws: AwsStack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALCARE_INBOUND_QUEUE_URL", aws.queue_urls["InboundQueue"].replace("inbound", "gone"))
    webhook_x = load_app("webhook_x")  # a function deployed with that queue URL
    status, body = x_post(webhook_x, aws, (FIXTURES / "x_tweet_create_events.json").read_bytes())
    assert status == 503 and body["error"] == "enqueue_failed"


# ------------------------------------------------------------------ Meta


def test_meta_verification_returns_the_bare_challenge(aws: AwsStack, webhook_meta: ModuleType) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": aws.secret_values["MetaVerifyToken"],
             "hub.challenge": "1158201444"}
    response = webhook_meta.handler(http_event("GET", "/webhooks/meta", query=query), Context())
    assert (response["statusCode"], response["body"]) == (200, "1158201444")
    assert response["headers"]["Content-Type"].startswith("text/plain")


def test_meta_verification_with_a_wrong_token_is_403(aws: AwsStack, webhook_meta: ModuleType) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"}
    assert call(webhook_meta, http_event("GET", "/webhooks/meta", query=query))[0] == 403


def test_a_batched_meta_post_enqueues_one_message_per_event_and_no_echo(
    aws: AwsStack, webhook_meta: ModuleType
) -> None:
    raw = (FIXTURES / "meta_page_batch.json").read_bytes()
    status, body = meta_post(webhook_meta, aws, raw)
    assert (status, body) == (200, {"received": 6, "ignored": 5})
    messages = drain(aws)
    events = events_of(messages)
    assert sorted(e.event_id for e in events) == sorted([
        "900000000000001_1200000000000001", "104000000000001_900000000000002", "m_AnnaMessenger0001",
        "900000000000001_1200000000000001", "900000000000001_1200000000000003",
        "m_PageEcho0001#reaction-6543210987654321-1795327200480",
    ])
    # the page's echo of its own send is not a customer's message; the customer's reaction to it is
    # applied to that message, never stored as a message of its own
    assert "m_PageEcho0001" not in {e.event_id for e in events}
    reaction = next(e for e in events if e.action is Action.REACT)
    assert reaction.target_id == "messenger:m_PageEcho0001"
    groups = {m["Attributes"]["MessageGroupId"] for m in messages}
    assert "messenger:6543210987654321" in groups and "facebook:10158000000000001" in groups
    comment = next(e for e in events if e.action is Action.CREATE and e.event_id.endswith("1200000000000001"))
    assert comment.interaction is not None and comment.interaction.text is not None
    assert comment.interaction.text.endswith("È inaccettabile — 订单")


def test_a_base64_encoded_body_is_verified_over_its_decoded_bytes(aws: AwsStack, webhook_meta: ModuleType) -> None:
    raw = (FIXTURES / "meta_instagram.json").read_bytes()
    assert meta_post(webhook_meta, aws, raw, base64_body=True) == (200, {"received": 3, "ignored": 3})


def test_whatsapp_statuses_are_enqueued_as_status_events_not_messages(aws: AwsStack, webhook_meta: ModuleType) -> None:
    assert meta_post(webhook_meta, aws, (FIXTURES / "meta_whatsapp_statuses.json").read_bytes())[0] == 200
    events = events_of(drain(aws))
    assert {e.action for e in events} == {Action.STATUS}
    assert all(e.interaction is None for e in events)


def test_meta_redelivery_is_deduplicated(aws: AwsStack, webhook_meta: ModuleType) -> None:
    raw = (FIXTURES / "meta_whatsapp_messages.json").read_bytes()
    assert meta_post(webhook_meta, aws, raw) == (200, {"received": 7, "ignored": 0})
    assert meta_post(webhook_meta, aws, raw) == (200, {"received": 7, "ignored": 0})
    assert len(drain(aws)) == 7


def test_meta_unknown_object_is_200_and_ignored(aws: AwsStack, webhook_meta: ModuleType) -> None:
    assert meta_post(webhook_meta, aws, b'{"object": "user", "entry": [{"id": "1", "time": 1}]}') == (
        200, {"received": 0, "ignored": 1}
    )
    assert drain(aws) == []


@pytest.mark.parametrize("headers", [{}, {"x-hub-signature-256": "sha256=" + "0" * 64}], ids=["absent", "forged"])
def test_meta_absent_or_invalid_signature_is_401(
    aws: AwsStack, webhook_meta: ModuleType, headers: dict[str, str]
) -> None:
    raw = (FIXTURES / "meta_page_batch.json").read_bytes()
    status, _ = call(webhook_meta, http_event("POST", "/webhooks/meta", raw, headers))
    assert status == 401
    assert drain(aws) == []


def test_meta_signed_garbage_is_400(aws: AwsStack, webhook_meta: ModuleType) -> None:
    status, body = meta_post(webhook_meta, aws, b'{"object": "page", "entry": [ this is not json')
    assert status == 400 and body["reason"] == "body is not valid JSON"


def test_more_than_ten_meta_events_go_out_in_several_batches(aws: AwsStack, webhook_meta: ModuleType) -> None:
    payload = json.loads((FIXTURES / "meta_whatsapp_messages.json").read_bytes())
    value = payload["entry"][0]["changes"][0]["value"]
    template = value["messages"][0]
    value["messages"] = [{**template, "id": f"wamid.BULK{n:04d}"} for n in range(23)]
    raw = json.dumps(payload).encode()
    assert meta_post(webhook_meta, aws, raw) == (200, {"received": 23, "ignored": 0})
    assert sorted(e.event_id for e in events_of(drain(aws))) == [f"wamid.BULK{n:04d}" for n in range(23)]


# ------------------------------------------------------------------ inbound gateway


def inbound_headers(aws: AwsStack, body: bytes, ts: int | None = None) -> dict[str, str]:
    return gateway_headers(aws.secret_values["InboundSecret"], body, ts)


def test_a_signed_gateway_email_is_enqueued(aws: AwsStack, webhook_inbound: ModuleType) -> None:
    raw = (FIXTURES / "gateway_email.json").read_bytes()
    status, body = call(webhook_inbound, http_event("POST", "/webhooks/inbound", raw, inbound_headers(aws, raw)))
    assert (status, body) == (200, {"received": 1, "ignored": 0})
    (event,) = events_of(drain(aws))
    assert event.interaction is not None and event.interaction.channel.value == "email"
    assert event.group_id == "email:anna.bianchi@example.com"


def test_a_stale_gateway_request_is_401_with_its_reason(aws: AwsStack, webhook_inbound: ModuleType) -> None:
    raw = (FIXTURES / "gateway_batch.json").read_bytes()
    headers = inbound_headers(aws, raw, ts=int(time.time()) - 600)
    status, body = call(webhook_inbound, http_event("POST", "/webhooks/inbound", raw, headers))
    assert status == 401 and "older than 5 minutes" in body["reason"]
    assert drain(aws) == []


def test_a_gateway_body_outside_the_schema_is_400(aws: AwsStack, webhook_inbound: ModuleType) -> None:
    raw = b'{"channel": "fax", "message_id": "1"}'
    status, body = call(webhook_inbound, http_event("POST", "/webhooks/inbound", raw, inbound_headers(aws, raw)))
    assert status == 400 and body["error"] == "bad_request"


@pytest.mark.parametrize(
    ("where", "value"),
    [("timestamp", "soon"), ("timestamp", "99999999999999999999")],
    ids=["not-a-number", "beyond-year-9999"],
)
def test_signed_whatsapp_message_with_an_impossible_time_costs_only_itself(
    aws: AwsStack, webhook_meta: ModuleType, where: str, value: str
) -> None:
    payload = json.loads((FIXTURES / "meta_whatsapp_messages.json").read_bytes())
    bad = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    bad[where] = value
    status, body = meta_post(webhook_meta, aws, json.dumps(payload).encode())
    # Meta resends the same bytes on a 4xx/5xx: refusing the POST would lose the other messages
    assert (status, body) == (200, {"received": 6, "ignored": 1})
    published = {e.event_id for e in events_of(drain(aws))}
    assert bad["id"] not in published and len(published) == 6


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p["tweet_create_events"][0].update(timestamp_ms=None, created_at="last tuesday"),
        lambda p: p["tweet_create_events"][0].update(timestamp_ms="-"),
    ],
    ids=["bad-created_at", "bad-timestamp_ms"],
)
def test_signed_tweet_with_an_impossible_time_is_skipped_and_the_others_kept(
    aws: AwsStack, webhook_x: ModuleType, mutate: Any
) -> None:
    payload = json.loads((FIXTURES / "x_tweet_create_events.json").read_bytes())
    mutate(payload)
    status, body = x_post(webhook_x, aws, json.dumps(payload).encode())
    assert (status, body) == (200, {"received": 2, "ignored": 3})
    assert sorted(e.event_id for e in events_of(drain(aws))) == ["1860000000000000002", "1860000000000000003"]


def test_signed_feed_change_with_a_garbage_created_time_costs_only_itself(
    aws: AwsStack, webhook_meta: ModuleType
) -> None:
    payload = json.loads((FIXTURES / "meta_page_batch.json").read_bytes())
    payload["entry"][0]["changes"][0]["value"]["created_time"] = "yesterday"
    status, body = meta_post(webhook_meta, aws, json.dumps(payload).encode())
    assert status == 200 and body["ignored"] == 6
    published = {e.event_id for e in events_of(drain(aws))}
    assert "m_AnnaMessenger0001" in published and len(published) == 5
