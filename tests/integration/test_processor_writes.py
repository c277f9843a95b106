"""What one interaction costs the processor, and what the dispatcher no longer writes (issue 11).

A returning customer's message used to cost the processor 10 DynamoDB requests (the interaction
written, then rewritten with its case; deduplicated twice; the case reached through a pointer;
the profile context written apart) and the dispatcher a second case version - so every message
was synced to the CRM twice. Through the real handlers on moto, counted with botocore's event
hooks on the functions' own clients:
- a returning customer's interaction costs the processor at most 5 DynamoDB requests, a new
  customer's at most 5; the batch's work items leave in one SendMessageBatch per team;
- the work item is held on the case in the case's own write: dispatching it for pull makes no
  DynamoDB request and writes no new case version;
- a batch whose work items could not be published is retried whole, and each item reaches the
  team queue once.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError
from event_source import run_event_source  # tests/integration/event_source.py
from webhook_calls import Context, drain_messages, post_signed  # tests/integration/webhook_calls.py

from socialcare import aws as aws_clients
from socialcare.flows.wiring import Wiring
from socialcare_infra.handlers import load_app

if TYPE_CHECKING:
    from conftest import AwsStack  # tests/integration/conftest.py (the moto stack fixture)

pytestmark = pytest.mark.integration


def message(n: int, email: str, text: str = "Il pacco non è mai arrivato, chiedo il rimborso") -> dict[str, Any]:
    return {"channel": "email", "message_id": f"<cost-{n}@example.org>", "occurred_at": f"2026-11-22T05:{n:02d}:00Z",
            "sender": {"name": "Marta Galli", "email": email, "email_verified": True}, "subject": "Ordine",
            "text": f"{text} ({n})"}


def post(aws: AwsStack, messages: list[dict[str, Any]]) -> None:
    body = json.dumps({"messages": messages}).encode()
    status, answer = post_signed(load_app("webhook_inbound"), "inbound", aws.secret_values["InboundSecret"], body,
                                 Context(30_000))
    assert status == 200, answer


@contextmanager
def counted(service: str) -> Iterator[Counter[str]]:
    """Every request the functions' own ``service`` client makes, by operation."""
    calls: Counter[str] = Counter()

    def hook(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    events = aws_clients.client(service).meta.events
    events.register("before-call.*.*", hook, unique_id="cost-count")
    try:
        yield calls
    finally:
        events.unregister("before-call.*.*", unique_id="cost-count")


def process(aws: AwsStack) -> None:
    processor = load_app("processor")
    run_event_source(lambda event: processor.handler(event, Context(30_000)), aws.queue_urls["InboundQueue"])


def test_an_interaction_costs_the_processor_at_most_five_dynamodb_requests(aws: AwsStack) -> None:
    post(aws, [message(0, "marta@example.org")])
    process(aws)  # Marta is known from now on
    post(aws, [message(n, "marta@example.org") for n in range(1, 11)])
    with counted("dynamodb") as returning, counted("sqs") as sends:
        process(aws)
    assert sum(returning.values()) <= 5 * 10, returning
    assert sends["SendMessageBatch"] == 1, sends  # ten work items, one team: one request

    post(aws, [message(20 + n, f"new-{n}@example.org") for n in range(10)])
    with counted("dynamodb") as new:
        process(aws)
    assert sum(new.values()) <= 5 * 10, new


def test_a_work_item_held_for_pull_is_held_in_the_cases_own_write(
    aws: AwsStack, wiring: Wiring, monkeypatch: pytest.MonkeyPatch
) -> None:
    post(aws, [message(n, "luca@example.org") for n in (1, 2, 3)])  # one batch: each item held in turn
    process(aws)
    customer = wiring.identity.find_customer("email", "luca@example.org")
    assert customer is not None
    (case,) = wiring.cases_repo.customer_cases(customer)
    saved = wiring.cases_repo.get(case.id)
    assert saved is not None and [p["kind"] for p in saved.pending_items] == ["respond"]  # one job, the newest

    with counted("dynamodb") as dispatching:
        for team, queue in (("social", "SocialTeamQueue"), ("callcentre", "CallcentreTeamQueue")):
            monkeypatch.setenv("SOCIALCARE_TEAM", team)
            dispatcher = load_app("team_dispatcher")
            run_event_source(lambda event, d=dispatcher: d.handler(event, Context(30_000)), aws.queue_urls[queue])
    assert sum(dispatching.values()) == 0, dispatching  # held already: not even a read
    after = wiring.cases_repo.get(case.id)
    assert after is not None
    assert after.version == saved.version  # no second version: no second CRM sync
    assert after.pending_items == saved.pending_items


def test_work_items_that_could_not_leave_are_retried_with_their_batch_and_arrive_once(aws: AwsStack) -> None:
    post(aws, [message(n, f"sara-{n}@example.org") for n in range(1, 4)])
    refusals = {"left": 1}

    def refuse(params: dict[str, Any], **_: Any) -> None:
        if "team" in params["QueueUrl"] and refusals["left"] > 0:
            refusals["left"] -= 1
            raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "injected"}}, "SendMessageBatch")

    events = aws_clients.client("sqs").meta.events
    events.register("provide-client-params.sqs.SendMessageBatch", refuse, unique_id="refuse-team")
    try:
        process(aws)
    finally:
        events.unregister("provide-client-params.sqs.SendMessageBatch", unique_id="refuse-team")
    assert refusals["left"] == 0  # the send was refused once, and the batch came back
    items = [m for q in ("SocialTeamQueue", "CallcentreTeamQueue") for m in drain_messages(aws.queue_urls[q])]
    causes = sorted(json.loads(m["Body"])["trigger"]["id"] for m in items)
    assert len(causes) == 3 and len(set(causes)) == 3, causes
    dlq = boto3.client("sqs").get_queue_attributes(QueueUrl=aws.queue_urls["InboundDLQ"],
                                                   AttributeNames=["ApproximateNumberOfMessages"])
    assert dlq["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_the_crm_view_of_a_long_case_carries_its_newest_interactions_from_one_query(
    aws: AwsStack, wiring: Wiring
) -> None:
    """An incident gathers thousands of interactions; every CRM sync used to read them all."""
    post(aws, [message(1, "pia@example.org")])
    process(aws)
    customer = wiring.identity.find_customer("email", "pia@example.org")
    assert customer is not None
    (case,) = wiring.cases_repo.customer_cases(customer)
    first = wiring.cases_repo.get_with_interactions(case.id)
    assert first is not None and len(first.interactions) == 1
    later = [first.interactions[0].model_copy(update={"id": f"x:{n}", "occurred_at": first.interactions[0].occurred_at
                                                      + timedelta(minutes=n)}) for n in range(1, 251)]
    wiring.cases_repo.put_timeline(case.id, later)
    with counted("dynamodb") as reads:
        view = wiring.crm_views.get_case_view(case.id)
    assert view is not None
    ids = [i.id for i in view.interactions]
    assert ids == [f"x:{n}" for n in range(151, 251)]  # the newest 100, oldest first
    assert view.case.id == case.id
    # one page of the case's newest items, the case item itself (past them), the customer's view
    assert reads == {"Query": 2, "GetItem": 1}, reads
