"""A signed gateway POST of one 200,000-letter message without an '@' and three ordinary ones
(issue 10: the e-mail pattern used to backtrack on it for minutes, the batch timed out, was
retried, and all four messages ended in the DLQ).

The real WebhookInboundFunction acknowledges the four; the real ProcessorFunction, driven through
Lambda's SQS event source on moto resources built from template.yaml, stores all four promptly:
nothing dead-lettered, no invocation anywhere near the function's 30 s timeout.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from event_source import run_event_source  # tests/integration/event_source.py
from webhook_calls import Context, post_signed  # tests/integration/webhook_calls.py

from socialcare.flows.wiring import Wiring
from socialcare_infra.handlers import load_app

if TYPE_CHECKING:
    from conftest import AwsStack  # tests/integration/conftest.py (the moto stack fixture)

pytestmark = pytest.mark.integration

LONG = "a" * 200_000  # letters without an '@': the input the e-mail pattern backtracked on
# Well under ProcessorFunction's Timeout (30 s in template.yaml), on a shared CI machine.
PROMPT_SECONDS = 10.0


def signed_post(aws: AwsStack, payload: dict[str, Any]) -> tuple[int, Any]:
    body = json.dumps(payload).encode("utf-8")
    return post_signed(load_app("webhook_inbound"), "inbound", aws.secret_values["InboundSecret"], body,
                       Context(30_000))


def message(n: int, email: str, name: str, text: str) -> dict[str, Any]:
    return {"channel": "email", "message_id": f"<batch-{n}@example.org>", "occurred_at": f"2026-11-22T05:3{n}:00Z",
            "sender": {"name": name, "email": email, "email_verified": True}, "subject": "Assistenza", "text": text}


def dead_letters(aws: AwsStack) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=aws.queue_urls["InboundDLQ"], AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def test_a_200k_letter_message_and_its_batch_are_stored_promptly_and_nothing_is_dead_lettered(
    aws: AwsStack, wiring: Wiring
) -> None:
    senders = {
        "marta@example.org": ("Marta Galli", LONG),
        "luca@example.org": ("Luca Verdi", "Buongiorno, la fattura INV-88231 è sbagliata."),
        "sara@example.org": ("Sara Blu", "Grazie, tutto risolto."),
        "piero@example.org": ("Piero Gialli", "Il reso RMA-55120 è stato accettato?"),
    }
    batch = {"messages": [message(n, email, name, text) for n, (email, (name, text)) in enumerate(senders.items())]}
    assert signed_post(aws, batch) == (200, {"received": 4, "ignored": 0})

    processor = load_app("processor")
    durations: list[float] = []

    def invoke(event: dict[str, Any]) -> Any:
        started = time.perf_counter()
        try:
            return processor.handler(event, Context(30_000))
        finally:
            durations.append(time.perf_counter() - started)

    run_event_source(invoke, aws.queue_urls["InboundQueue"], deadline_s=60)
    assert dead_letters(aws) == 0
    assert durations and max(durations) < PROMPT_SECONDS, durations  # no batch near the timeout, none retried
    for email, (_name, text) in senders.items():
        customer = wiring.identity.find_customer("email", email)
        assert customer is not None, email
        (stored,) = wiring.profiles.timeline_items(customer)
        assert stored.get("text_length", len(stored.get("text") or "")) == len(text), email
    luca = wiring.identity.find_customer("email", "luca@example.org")
    assert luca is not None and wiring.identity.find_customer("ref", "INV-88231") == luca
