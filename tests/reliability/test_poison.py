"""Poison messages: an inbound.fifo record that fails every time it is processed, inside a
batch of good ones. After the template's maxReceiveCount receives SQS moves it to InboundDLQ
(the redrive policy built from template.yaml, as moto applies it), and every other record of
its batch is stored exactly once.

The poison is made from a real event the webhook published from a documented payload
(tests/fixtures/channels/): once breaking the InboundEvent contract (valid JSON, ``action``
unknown), once obeying the contract but failing inside the processor (a create without its
interaction). Lambda's event source is tests/integration/event_source.py, with each failed
record's visibility timeout (180 s) elapsing at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from harness import CHANNELS, ROOT, Stack  # tests/reliability/harness.py
from webhook_calls import drain_messages

from socialcare.models.interaction import InboundEvent
from socialcare_infra.template import load_template

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef

pytestmark = pytest.mark.integration

MAX_RECEIVES = int(load_template(ROOT / "template.yaml")["Resources"]["InboundQueue"]["Properties"]
                   ["RedrivePolicy"]["maxReceiveCount"])


def unknown_action(event: dict[str, Any]) -> dict[str, Any]:
    return {**event, "action": "explode"}


def create_without_interaction(event: dict[str, Any]) -> dict[str, Any]:
    return {**event, "interaction": None}


def good_messages(stack: Stack) -> list[MessageTypeDef]:
    """Documented payloads from three platforms, posted signed: what they put on inbound.fifo
    (taken off it, to be sent back behind the poison)."""
    for endpoint, fixture in (("meta", "meta_whatsapp_messages.json"), ("x", "x_tweet_create_events.json"),
                              ("inbound", "gateway_batch.json")):
        status, answer = stack.post(endpoint, (CHANNELS / fixture).read_bytes())
        assert status == 200 and answer["received"] > 0, answer
    return drain_messages(stack.aws.queue_urls["InboundQueue"])


@pytest.mark.parametrize("poison", [unknown_action, create_without_interaction])
def test_a_poison_message_is_dead_lettered_and_its_batch_stored_once(
    stack: Stack, poison: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    good = good_messages(stack)
    events = [InboundEvent.model_validate_json(m["Body"]) for m in good]
    body = json.dumps(poison(json.loads(good[0]["Body"])))
    sqs = boto3.client("sqs")
    url = stack.aws.queue_urls["InboundQueue"]
    # First on the queue, in a group of its own: it shares the first batch with the good events
    sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="poison", MessageDeduplicationId="poison")
    for message in good:
        sqs.send_message(QueueUrl=url, MessageBody=message["Body"],
                         MessageGroupId=message["Attributes"]["MessageGroupId"],
                         MessageDeduplicationId=message["Attributes"]["MessageDeduplicationId"])

    stack.process(timeout_elapses=True)
    stack.settle()

    handed = [r["body"] for batch in stack.batches for r in batch["Records"]]
    assert len(stack.batches[0]["Records"]) > 1 and stack.batches[0]["Records"][0]["body"] == body
    assert handed.count(body) == MAX_RECEIVES
    dead = stack.dead["InboundDLQ"]
    assert [m["body"] for m in dead] == [body]
    # every good event processed, each interaction exactly once
    ids = stack.interaction_ids()
    stored = [e.interaction.id for e in events if e.interaction is not None]
    assert sorted(ids) == sorted(stored)
    assert all(handed.count(m["Body"]) == 1 for m in good)
    assert stack.counts()["dead_letters"] == 1
