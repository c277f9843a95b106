"""Accounting over a mixed run: every event a webhook acknowledged with a 2xx is, at the end,
either processed (its interaction stored, once) or in the inbound DLQ - never neither, never
both - counted from both sides: what the webhooks put on inbound.fifo (read off the wire) and
what the tables and the DLQ hold.

The run mixes documented payloads (tests/fixtures/channels/), the same payloads redelivered
before and after processing, signed but malformed bodies and a forged signature (4xx, nothing
enqueued), and a poison: every DynamoDB request about one web-form author is throttled for the
whole run (harness.Fault), so her event fails on every receive and is dead-lettered, while
the rest of its batch is stored.
"""

from __future__ import annotations

import pytest
from harness import CHANNELS, Enqueued, Fault, Stack  # tests/reliability/harness.py
from webhook_calls import call, http_event, post_signed, signed_headers

from socialcare.models.interaction import InboundEvent
from socialcare.publish import unwrap_body

pytestmark = pytest.mark.integration

GOOD = [("x", "x_tweet_create_events.json"), ("meta", "meta_whatsapp_messages.json"),
        ("inbound", "gateway_batch.json"), ("x", "x_direct_message_events.json")]
POISONED_AUTHOR = "giulia@example.org"  # the web form of gateway_batch.json


def post(stack: Stack, endpoint: str, fixture: str) -> int:
    status, answer = stack.post(endpoint, (CHANNELS / fixture).read_bytes())
    assert status == 200, answer
    return int(answer["received"])


def malformed(stack: Stack, enqueued: Enqueued) -> None:
    """Signed garbage and a forged signature: refused with a 4xx and a JSON reason, nothing sent."""
    before = len(enqueued.entries)
    for endpoint, fixture in (("meta", "meta_whatsapp_messages.json"), ("inbound", "gateway_batch.json")):
        raw = (CHANNELS / fixture).read_bytes()
        secret = stack.aws.secret_values["MetaAppSecret" if endpoint == "meta" else "InboundSecret"]
        status, answer = post_signed(stack.app(f"webhook_{endpoint}"), endpoint, secret, raw[: len(raw) // 2])
        assert status == 400 and isinstance(answer, dict) and answer.get("error"), answer
        forged = http_event("POST", f"/webhooks/{endpoint}", raw, signed_headers(endpoint, "forged-secret", raw))
        status, answer = call(stack.app(f"webhook_{endpoint}"), forged)
        assert status == 401, answer
    assert len(enqueued.entries) == before


def test_every_acknowledged_event_is_processed_or_dead_lettered(stack: Stack) -> None:
    url = stack.aws.queue_urls["InboundQueue"]
    with Enqueued(url) as enqueued, Fault("dynamodb", "ProvisionedThroughputExceededException",
                                          lambda _n, _op: True, mentioning=POISONED_AUTHOR) as poison:
        acknowledged = sum(post(stack, endpoint, fixture) for endpoint, fixture in GOOD)
        post(stack, *GOOD[0])  # a platform retry before anything was processed
        malformed(stack, enqueued)
        stack.process(timeout_elapses=True)
        post(stack, *GOOD[2])  # a retry after processing (the poison's POST again, too)
        stack.process(timeout_elapses=True)
        stack.settle()
    assert poison.injected, "the poison never failed"

    # the webhooks' side: every distinct event they enqueued while answering 2xx
    events = {e["MessageDeduplicationId"]: InboundEvent.model_validate_json(unwrap_body(e["MessageBody"]))
              for e in enqueued.entries}
    assert len(events) == acknowledged
    # the other side: stored interactions and dead letters
    stored = stack.interaction_ids()
    dead = {InboundEvent.model_validate_json(m["body"]).event_id for m in stack.dead.get("InboundDLQ", [])}
    processed = {key for key, e in events.items() if e.interaction is not None and e.interaction.id in stored}
    dead_letters = {key for key, e in events.items() if e.event_id in dead}
    assert processed | dead_letters == set(events), "an acknowledged event is neither stored nor dead-lettered"
    assert not processed & dead_letters
    assert len(stored) == len(set(stored)) == len(processed)  # each once
    assert [e.interaction.id for k, e in events.items() if k in dead_letters and e.interaction] == ["web:form-42"]
    assert stack.counts()["dead_letters"] == len(stack.dead["InboundDLQ"]) >= 1
