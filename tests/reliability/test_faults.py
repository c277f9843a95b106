"""Injected AWS faults, through the real functions on moto (harness.Fault: a botocore hook on
the client the functions share, answering with the error the SDK raises once its retries are
spent).

* SQS refusing the webhook's SendMessageBatch: the platform hears a 5xx - never a 2xx for an
  event that was dropped - and its redelivery, once SQS is back, is stored exactly once. A
  refusal the publisher's own retry absorbs is a 200 with the event on the queue once.
* DynamoDB throttling every request of the processor from the n-th on: the batch reports its
  records as failures (none is lost by being acknowledged), and once the throttling stops they
  are all stored exactly once, whatever step the first attempt died at.
"""

from __future__ import annotations

import pytest
from harness import CHANNELS, Fault, Stack  # tests/reliability/harness.py
from webhook_calls import drain_messages

from socialcare.models.interaction import InboundEvent
from socialcare_infra.esm import lambda_sqs_record

pytestmark = pytest.mark.integration

POSTS = {
    "x": "x_tweet_create_events.json",          # three mentions
    "meta": "meta_whatsapp_messages.json",      # seven WhatsApp messages
    "inbound": "gateway_batch.json",            # a chat message and a web form
}


def stored_once(stack: Stack) -> list[str]:
    ids = stack.interaction_ids()
    assert ids and len(ids) == len(set(ids)), ids
    return ids


@pytest.mark.parametrize("endpoint", sorted(POSTS))
def test_a_webhook_that_cannot_enqueue_answers_5xx_and_its_retry_lands_once(stack: Stack, endpoint: str) -> None:
    body = (CHANNELS / POSTS[endpoint]).read_bytes()
    with Fault("sqs", "ServiceUnavailable", lambda _n, op: op == "SendMessageBatch", status=503) as fault:
        status, answer = stack.post(endpoint, body)
    assert fault.injected, "the fault never fired"
    assert 500 <= status < 600, (status, answer)
    assert drain_messages(stack.aws.queue_urls["InboundQueue"]) == []

    # the platform redelivers once SQS is back
    status, answer = stack.post(endpoint, body)
    assert status == 200, answer
    stack.process()
    stack.settle()
    assert len(stored_once(stack)) == answer["received"]


def test_a_refusal_the_publisher_retries_is_acknowledged_and_enqueued_once(stack: Stack) -> None:
    with Fault("sqs", "ThrottlingException", lambda n, op: op == "SendMessageBatch" and n == 1) as fault:
        status, answer = stack.post("inbound", (CHANNELS / POSTS["inbound"]).read_bytes())
    assert fault.injected == ["SendMessageBatch"]
    assert status == 200
    assert len(drain_messages(stack.aws.queue_urls["InboundQueue"])) == answer["received"] == 2


@pytest.mark.parametrize(("first_throttled", "code"), [
    (1, "ProvisionedThroughputExceededException"),
    (4, "ThrottlingException"),
    (9, "ProvisionedThroughputExceededException"),
])
def test_throttled_processor_records_fail_and_are_stored_later_once(
    stack: Stack, first_throttled: int, code: str
) -> None:
    for endpoint in ("x", "inbound"):
        status, answer = stack.post(endpoint, (CHANNELS / POSTS[endpoint]).read_bytes())
        assert status == 200, answer
    sent = drain_messages(stack.aws.queue_urls["InboundQueue"])
    queue_arn = stack.aws.queue_arns["InboundQueue"]
    event = {"Records": [lambda_sqs_record(m, queue_arn, stack.aws_region) for m in sent]}

    # DynamoDB throttles everything from the n-th request of this invocation on
    with Fault("dynamodb", code, lambda n, _op: n >= first_throttled) as fault:
        answer = stack.processor()(event)
    assert fault.injected, "the fault never fired"
    # Not one record acknowledged unless it is stored (a string: the invocation failed whole)
    failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]} if isinstance(answer, dict) else None
    acknowledged = [m for m in sent if failed is not None and m["MessageId"] not in failed]
    assert len(acknowledged) < len(sent), answer
    stored = set(stack.interaction_ids())
    for message in acknowledged:
        interaction = InboundEvent.model_validate_json(message["Body"]).interaction
        assert interaction is not None and interaction.id in stored

    # SQS hands the failed records back once their visibility timeout passes
    stack.batches.append(event)
    stack.redrive()  # the same messages again, no fault: what SQS does after the timeout
    stack.settle()
    ids = stored_once(stack)
    assert len(ids) == len(sent)
    counts = stack.counts()
    assert counts["dead_letters"] == 0
    assert counts["work_items"] == counts["cases"] == len(sent)
