"""Lambda's SQS event source, for integration tests on moto: receive, invoke the handler with
the batch, delete what succeeded (ReportBatchItemFailures), and leave what failed to its
visibility timeout - until the queue holds nothing, in flight included."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import boto3

from socialcare_infra.esm import failed_message_ids, lambda_sqs_record


def run_event_source(handler: Callable[[dict[str, Any]], Any], queue_url: str, *, deadline_s: float = 30.0,
                     batch: int = 10, timeout_elapses: bool = False) -> int:
    """Invoke ``handler(event)`` until ``queue_url`` is empty; returns the number of invocations.

    ``timeout_elapses``: a failed record is visible again at once, as if its visibility timeout
    (180 s on inbound.fifo) had passed - so the redrive policy's receive count is reached in
    milliseconds rather than minutes. Nothing else about the queue changes."""
    sqs = boto3.client("sqs")
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    region = arn.split(":")[3]
    invocations = 0
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        got = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=batch, AttributeNames=["All"], MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not got:
            attrs = sqs.get_queue_attributes(
                QueueUrl=queue_url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            if attrs["ApproximateNumberOfMessages"] == "0" and attrs["ApproximateNumberOfMessagesNotVisible"] == "0":
                return invocations
            time.sleep(0.2)  # a failed record comes back after its visibility timeout
            continue
        invocations += 1
        response = handler({"Records": [lambda_sqs_record(m, arn, region) for m in got]})
        keep = failed_message_ids(response, [m["MessageId"] for m in got])  # None: the whole batch failed
        for message in got:
            if keep is not None and message["MessageId"] not in keep:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            elif timeout_elapses:
                sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"],
                                              VisibilityTimeout=0)
    raise AssertionError(f"{queue_url} did not drain before the deadline")


def run_event_sources(handlers: Mapping[str, Callable[[dict[str, Any]], Any]], *, deadline_s: float = 30.0,
                      batches: Mapping[str, int] | None = None,
                      between: Callable[[], Any] | None = None) -> dict[str, int]:
    """Several event source mappings at once (queue URL -> handler), polled in turn, until every
    queue is empty - in flight and *delayed* messages included (a standard queue's DelaySeconds);
    ``between`` runs whenever no queue had a message (a schedule's tick, a clock). Returns the
    invocations per queue."""
    sqs = boto3.client("sqs")
    sources = {}
    for url in handlers:
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sources[url] = (arn, arn.split(":")[3])
    invocations = dict.fromkeys(handlers, 0)
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        busy = False
        for url, handler in handlers.items():
            arn, region = sources[url]
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=(batches or {}).get(url, 10),
                                      AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", [])
            if not got:
                continue
            busy = True
            invocations[url] += 1
            response = handler({"Records": [lambda_sqs_record(m, arn, region) for m in got]})
            keep = failed_message_ids(response, [m["MessageId"] for m in got])
            for message in got:
                if keep is not None and message["MessageId"] not in keep:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if busy:
            continue
        if between is not None:
            between()
        if all(_empty(sqs, url) for url in handlers):
            return invocations
        time.sleep(0.2)
    raise AssertionError(f"{sorted(handlers)} did not drain before the deadline")


def _empty(sqs: Any, url: str) -> bool:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
             "ApproximateNumberOfMessagesDelayed"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return all(attrs.get(name, "0") == "0" for name in names)
