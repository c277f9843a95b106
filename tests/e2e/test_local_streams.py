"""DynamoDB stream event sources of the local stack, seen from outside.

The fixture template's StreamConsumerFunction (tests/e2e/fixtures/functions/stream) consumes
StreamTable's stream with a filter (INSERT/MODIFY of ``sk = CASE``), ReportBatchItemFailures and a
one-second batching window, and writes every event it gets to EventsTable, where these tests
read it back. Each test uses its own partition keys, so they share the stack.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

# conftest.LocalProcess; not importable by name (conftest modules are not a package here)
LocalProcess = Any


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, stack: LocalProcess = None) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            # what the stack said about the stream (retries, timeouts, skipped batches)
            said = [line for line in (stack.stderr if stack else "").splitlines() if "Stream" in line]
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n" + "\n".join(said[-40:]))
        time.sleep(0.25)
    return value


def invocations(stack: LocalProcess, prefix: str) -> list[list[dict[str, Any]]]:
    """The records whose pk starts with ``prefix`` of each invocation, in invocation order."""
    pages = stack.client("dynamodb").get_paginator("scan").paginate(TableName=stack.names["EventsTable"])
    items = sorted((item for page in pages for item in page["Items"] if item["pk"]["S"].startswith("stream#")),
                   key=lambda item: item["pk"]["S"])  # stream#<time_ns>: invocations are one at a time
    batches = [
        [r for r in json.loads(item["event"]["S"])["Records"] if r["dynamodb"]["Keys"]["pk"]["S"].startswith(prefix)]
        for item in items
    ]
    return [batch for batch in batches if batch]


def keys(batches: list[list[dict[str, Any]]]) -> list[list[str]]:
    return [[r["dynamodb"]["Keys"]["pk"]["S"] for r in batch] for batch in batches]


def case(pk: str, **attributes: dict[str, Any]) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": "CASE"}, **attributes}


def test_table_changes_reach_the_function_as_lambda_stream_records(fixture_stack: LocalProcess) -> None:
    dynamodb = fixture_stack.client("dynamodb")
    table = fixture_stack.names["StreamTable"]
    stream_arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    # !GetAtt StreamTable.StreamArn resolved to the stream moto created
    assert f"  stream {stream_arn} -> StreamConsumerFunction.Changes" in fixture_stack.lines
    written = time.time()
    dynamodb.put_item(TableName=table, Item=case("shape#1", n={"N": "7"}, blob={"B": b"\x00\xff"}))
    dynamodb.update_item(TableName=table, Key={"pk": {"S": "shape#1"}, "sk": {"S": "CASE"}},
                         UpdateExpression="SET n = :n", ExpressionAttributeValues={":n": {"N": "8"}})

    delivered = wait_for(lambda: len(got := [r for b in invocations(fixture_stack, "shape#") for r in b]) >= 2
                         and got, 45, "the INSERT and the MODIFY", fixture_stack)

    insert, modify = delivered
    for record in (insert, modify):
        assert record["eventSource"] == "aws:dynamodb"
        assert record["eventSourceARN"] == stream_arn
        assert record["awsRegion"] == "eu-west-1"
        assert record["dynamodb"]["Keys"] == {"pk": {"S": "shape#1"}, "sk": {"S": "CASE"}}
        assert record["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        created = record["dynamodb"]["ApproximateCreationDateTime"]
        assert isinstance(created, float) and abs(created - written) < 60
    assert (insert["eventName"], modify["eventName"]) == ("INSERT", "MODIFY")
    assert insert["dynamodb"]["NewImage"]["blob"] == {"B": base64.b64encode(b"\x00\xff").decode()}
    assert "OldImage" not in insert["dynamodb"]
    assert modify["dynamodb"]["OldImage"]["n"] == {"N": "7"}
    assert modify["dynamodb"]["NewImage"]["n"] == {"N": "8"}
    assert int(modify["dynamodb"]["SequenceNumber"]) > int(insert["dynamodb"]["SequenceNumber"])


def test_records_no_filter_matches_never_reach_the_function(fixture_stack: LocalProcess) -> None:
    dynamodb = fixture_stack.client("dynamodb")
    table = fixture_stack.names["StreamTable"]
    dynamodb.put_item(TableName=table, Item=case("filter#1"))
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "filter#1"}, "sk": {"S": "NOTE"}})  # sk is not CASE
    dynamodb.update_item(TableName=table, Key={"pk": {"S": "filter#1"}, "sk": {"S": "CASE"}},
                         UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"S": "2"}})
    dynamodb.delete_item(TableName=table, Key={"pk": {"S": "filter#1"}, "sk": {"S": "CASE"}})  # REMOVE
    dynamodb.put_item(TableName=table, Item=case("filter#2"))  # after everything above, in the stream

    wait_for(lambda: "filter#2" in sum(keys(invocations(fixture_stack, "filter#")), []), 45, "filter#2", fixture_stack)

    delivered = [(r["dynamodb"]["Keys"]["pk"]["S"], r["dynamodb"]["Keys"]["sk"]["S"], r["eventName"])
                 for batch in invocations(fixture_stack, "filter#") for r in batch]
    assert delivered == [("filter#1", "CASE", "INSERT"), ("filter#1", "CASE", "MODIFY"), ("filter#2", "CASE", "INSERT")]


def test_partial_batch_failure_redelivers_from_the_failed_record_in_order(fixture_stack: LocalProcess) -> None:
    dynamodb = fixture_stack.client("dynamodb")
    table = fixture_stack.names["StreamTable"]
    # one transaction, so the five records are in the stream together; partial#3 fails once
    dynamodb.transact_write_items(TransactItems=[
        {"Put": {"TableName": table, "Item": case(f"partial#{n}", **({"fail": {"N": "1"}} if n == 3 else {}))}}
        for n in range(1, 6)
    ])
    dynamodb.put_item(TableName=table, Item=case("partial#6"))

    def settled() -> list[list[str]]:
        batches = keys(invocations(fixture_stack, "partial#"))
        flat = sum(batches, [])
        return batches if flat.count("partial#3") == 2 and "partial#6" in flat[flat.index("partial#3") + 1:] else []

    batches = wait_for(settled, 45, "partial#3 retried and partial#6 delivered", fixture_stack)

    failed = next(i for i, batch in enumerate(batches) if "partial#3" in batch)
    assert batches[failed + 1][0] == "partial#3"  # the retry starts at the failed record
    # Past the checkpoint (the records before the failed one, then everything) each record
    # arrives exactly once and in the order it was written.
    processed = sum((batch[: batch.index("partial#3")] if i == failed else batch for i, batch in enumerate(batches)),
                    [])
    assert processed == [f"partial#{n}" for n in range(1, 7)]
    for batch in invocations(fixture_stack, "partial#"):
        sequence = [int(r["dynamodb"]["SequenceNumber"]) for r in batch]
        assert sequence == sorted(sequence)


def test_a_cancelled_transaction_is_not_delivered_and_does_not_stall_the_stream(fixture_stack: LocalProcess) -> None:
    dynamodb = fixture_stack.client("dynamodb")
    table = fixture_stack.names["StreamTable"]
    dynamodb.put_item(TableName=table, Item=case("cancel#1"))
    wait_for(lambda: invocations(fixture_stack, "cancel#"), 45, "cancel#1", fixture_stack)
    with pytest.raises(ClientError, match="TransactionCanceled"):
        dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": table, "Item": case("cancel#cancelled")}},
            {"Put": {"TableName": table, "Item": case("cancel#1"), "ConditionExpression": "attribute_not_exists(pk)"}},
        ])
    dynamodb.put_item(TableName=table, Item=case("cancel#2"))

    wait_for(lambda: "cancel#2" in sum(keys(invocations(fixture_stack, "cancel#")), []), 45, "cancel#2", fixture_stack)
    assert sum(keys(invocations(fixture_stack, "cancel#")), []) == ["cancel#1", "cancel#2"]
