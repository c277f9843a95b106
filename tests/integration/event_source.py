"""Lambda's SQS event source, for integration tests on moto: receive, invoke the handler with
the batch, delete what succeeded (ReportBatchItemFailures), and leave what failed to its
visibility timeout - until the queue holds nothing, in flight included."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import boto3

from socialcare_infra.esm import failed_message_ids, lambda_sqs_record


def run_event_source(handler: Callable[[dict[str, Any]], Any], queue_url: str, *, deadline_s: float = 30.0,
                     batch: int = 10) -> int:
    """Invoke ``handler(event)`` until ``queue_url`` is empty; returns the number of invocations."""
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
    raise AssertionError(f"{queue_url} did not drain before the deadline")
