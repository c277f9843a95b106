"""Correctly signed but mutated payloads, sent over HTTP to every webhook of the embedded stack.

The real template runs under ``socialcare local`` with known secrets. Hypothesis mutates the
platforms' own payloads (the sourced corpus and channel fixtures, via tests/fuzz's seeds and
mutation strategies: dropped keys, retyped values, huge/empty/lone-surrogate strings,
out-of-range numbers, deep nesting, lists and objects swapped) and each body is signed the way
its platform signs it. Not one answer may be a 5xx: malformed input is a 4xx with a JSON reason.
Then a poison message (valid JSON that is no inbound event) on inbound.fifo reaches the DLQ after
the queue's maxReceiveCount, and the stack still answers: a well-formed message is stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))  # the fuzz tier's seeds and mutations
from mutations import body, mutated  # noqa: E402  tests/fuzz/mutations.py
from seeds import seeds  # noqa: E402  tests/fuzz/seeds.py

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SECRETS = {
    "SOCIALCARE_API_TOKEN": "mutated-api-token-91c2",
    "SOCIALCARE_INBOUND_SECRET": "mutated-inbound-secret-6d0e",
    "SOCIALCARE_META_APP_SECRET": "mutated-meta-secret-2b7a",
    "SOCIALCARE_X_CONSUMER_SECRET": "mutated-x-secret-84f1",
}
# 40 per webhook in `make test`; MUTATED_EXAMPLES=500 for a longer run
EXAMPLES_PER_WEBHOOK = int(os.environ.get("MUTATED_EXAMPLES", "40"))
META_SEEDS = seeds("meta_page_feed") + seeds("messenger") + seeds("instagram") + seeds("whatsapp")


def x_headers(raw: bytes) -> dict[str, str]:
    digest = hmac.new(SECRETS["SOCIALCARE_X_CONSUMER_SECRET"].encode(), raw, hashlib.sha256).digest()
    return {"x-twitter-webhooks-signature": "sha256=" + base64.b64encode(digest).decode()}


def meta_headers(raw: bytes) -> dict[str, str]:
    digest = hmac.new(SECRETS["SOCIALCARE_META_APP_SECRET"].encode(), raw, hashlib.sha256).hexdigest()
    return {"x-hub-signature-256": f"sha256={digest}"}


def inbound_headers(raw: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    digest = hmac.new(SECRETS["SOCIALCARE_INBOUND_SECRET"].encode(), ts.encode() + b"." + raw,
                      hashlib.sha256).hexdigest()
    return {"X-Socialcare-Timestamp": ts, "X-Socialcare-Signature": f"sha256={digest}"}


@pytest.fixture(scope="module")
def stack(local_stack_factory: Callable[..., AbstractContextManager[Any]]) -> Iterator[Any]:
    with local_stack_factory(SECRETS) as local:
        yield local


def post(api: str, path: str, raw: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(f"{api}{path}", data=raw, headers={"Content-Type": "application/json", **headers},
                         timeout=30)


def assert_no_server_error(response: requests.Response, raw: bytes) -> None:
    assert response.status_code < 500, (response.status_code, response.text, raw[:2000])
    if response.status_code >= 400:
        assert response.json().get("reason"), response.text  # a JSON reason, not a stack trace


FUZZ = settings(max_examples=EXAMPLES_PER_WEBHOOK, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large, HealthCheck.large_base_example])


@FUZZ
@given(raw=body(mutated(seeds("x"))))
def test_signed_mutated_x_payloads_never_get_a_server_error(stack: Any, raw: bytes) -> None:
    assert_no_server_error(post(stack.api_url, "/webhooks/x", raw, x_headers(raw)), raw)


@FUZZ
@given(raw=body(mutated(META_SEEDS)))
def test_signed_mutated_meta_payloads_never_get_a_server_error(stack: Any, raw: bytes) -> None:
    assert_no_server_error(post(stack.api_url, "/webhooks/meta", raw, meta_headers(raw)), raw)


@FUZZ
@given(raw=body(mutated(seeds("gateway"))) | st.binary(max_size=300))
def test_signed_mutated_gateway_payloads_never_get_a_server_error(stack: Any, raw: bytes) -> None:
    assert_no_server_error(post(stack.api_url, "/webhooks/inbound", raw, inbound_headers(raw)), raw)


def test_a_poison_message_reaches_the_dlq_and_the_stack_still_answers(stack: Any) -> None:
    sqs = stack.client("sqs")
    queue = sqs.get_queue_url(QueueName=stack.names["InboundQueue"])["QueueUrl"]
    dlq = sqs.get_queue_url(QueueName=stack.names["InboundDLQ"])["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"poison": True}), MessageGroupId="poison-author",
                     MessageDeduplicationId="poison-1")
    deadline = time.monotonic() + 120
    poisoned: list[dict[str, Any]] = []
    while not poisoned and time.monotonic() < deadline:
        poisoned = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    assert [json.loads(m["Body"]) for m in poisoned] == [{"poison": True}]

    # the stack still answers: a well-formed message becomes a customer
    raw = json.dumps({"channel": "chat", "message_id": "after-poison-1", "occurred_at": datetime.now(UTC).isoformat(),
                      "sender": {"id": "visitor-ap", "name": "Ada Lovelace", "email": "ada.ap@example.com"},
                      "text": "Il pacco non è arrivato"}).encode()
    assert post(stack.api_url, "/webhooks/inbound", raw, inbound_headers(raw)).status_code == 200
    token = {"Authorization": f"Bearer {SECRETS['SOCIALCARE_API_TOKEN']}"}
    deadline = time.monotonic() + 60
    found: list[Any] = []
    while not found and time.monotonic() < deadline:
        found = requests.get(f"{stack.api_url}/api/customers", params={"email": "ada.ap@example.com"},
                             headers=token, timeout=15).json().get("customers") or []
        time.sleep(0.3)
    assert found, "the message sent after the poison was never stored"
