"""socialcare_infra.streams.StreamReader on a real (in-process moto) DynamoDB stream.

The reader is what the local stack's stream poller reads with, and what integration tests can
use to see the records a stream-triggered function would get.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from socialcare_infra.streams import StreamReader, lambda_stream_record, streams_client

pytestmark = pytest.mark.integration

REGION = "eu-west-1"
TABLE = "stream-reader-test"


@pytest.fixture
def stream(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    """A dynamodb client and the stream ARN of a fresh table with a NEW_AND_OLD_IMAGES stream."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # else mock_aws would not intercept
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        created = dynamodb.create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        yield dynamodb, created["TableDescription"]["LatestStreamArn"]


def put(dynamodb: Any, pk: str, **attributes: str) -> None:
    item = {"pk": {"S": pk}, **{name: {"S": value} for name, value in attributes.items()}}
    dynamodb.put_item(TableName=TABLE, Item=item)


def changes(records: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in records]


def test_reads_every_change_in_order_including_transactions(stream: tuple[Any, str]) -> None:
    dynamodb, arn = stream
    reader = StreamReader(streams_client(REGION), arn, "TRIM_HORIZON")
    put(dynamodb, "a")
    dynamodb.transact_write_items(TransactItems=[
        {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "b"}}}},
        {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "c"}}}},
        {"Update": {"TableName": TABLE, "Key": {"pk": {"S": "a"}}, "UpdateExpression": "SET v = :v",
                    "ExpressionAttributeValues": {":v": {"S": "2"}}}},
    ])
    dynamodb.delete_item(TableName=TABLE, Key={"pk": {"S": "b"}})

    records = reader.read()

    assert changes(records) == [("INSERT", "a"), ("INSERT", "b"), ("INSERT", "c"), ("MODIFY", "a"), ("REMOVE", "b")]
    sequence = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert sequence == sorted(sequence) and len(set(sequence)) == len(sequence)
    assert records[3]["dynamodb"]["OldImage"] == {"pk": {"S": "a"}}
    assert records[3]["dynamodb"]["NewImage"] == {"pk": {"S": "a"}, "v": {"S": "2"}}
    assert reader.read() == []  # nothing is returned twice
    put(dynamodb, "d")
    assert changes(reader.read()) == [("INSERT", "d")]


def test_limit_splits_a_shard_into_consecutive_reads(stream: tuple[Any, str]) -> None:
    dynamodb, arn = stream
    reader = StreamReader(streams_client(REGION), arn)
    for pk in "abcde":
        put(dynamodb, pk)
    (shard,) = reader.shard_ids()
    assert changes(reader.read_shard(shard, limit=2)) == [("INSERT", "a"), ("INSERT", "b")]
    assert changes(reader.read_shard(shard, limit=2)) == [("INSERT", "c"), ("INSERT", "d")]
    assert changes(reader.read()) == [("INSERT", "e")]


def test_latest_starts_after_what_the_stream_held(stream: tuple[Any, str]) -> None:
    dynamodb, arn = stream
    put(dynamodb, "before")
    reader = StreamReader(streams_client(REGION), arn, "LATEST")
    assert reader.read() == []
    put(dynamodb, "after")
    assert changes(reader.read()) == [("INSERT", "after")]


def test_a_cancelled_transaction_neither_shows_nor_stalls_the_reader(stream: tuple[Any, str]) -> None:
    # moto rolls a cancelled transaction back by swapping in a copy of the table; an iterator
    # followed from before the swap would return the cancelled put and then nothing.
    dynamodb, arn = stream
    reader = StreamReader(streams_client(REGION), arn)
    put(dynamodb, "a")
    assert changes(reader.read()) == [("INSERT", "a")]
    with pytest.raises(ClientError, match="TransactionCanceled"):
        dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "cancelled"}}}},
            {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "a"}},
                     "ConditionExpression": "attribute_not_exists(pk)"}},
        ])
    put(dynamodb, "b")
    assert changes(reader.read()) == [("INSERT", "b")]


def test_records_become_json_lambda_records(stream: tuple[Any, str]) -> None:
    dynamodb, arn = stream
    reader = StreamReader(streams_client(REGION), arn)
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "bin"}, "blob": {"B": b"\x00\xff"}, "n": {"N": "1.5"}})

    (record,) = [lambda_stream_record(r, arn, REGION) for r in reader.read()]

    assert json.loads(json.dumps(record)) == record  # what the runner sends must be JSON
    assert record["eventSourceARN"] == arn
    assert record["awsRegion"] == REGION
    assert record["eventSource"] == "aws:dynamodb"
    assert record["dynamodb"]["NewImage"]["blob"] == {"B": "AP8="}
    assert record["dynamodb"]["NewImage"]["n"] == {"N": "1.5"}
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], float)


def test_the_local_stack_bounds_the_iterators_moto_keeps(stream: tuple[Any, str]) -> None:
    """Every read takes a new shard iterator and moto keeps each (with its shard and table)
    forever: the local stack's moto app keeps only the newest, and a reader goes on reading."""
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    from socialcare_infra.moto_app import prune_stream_iterators

    dynamodb, arn = stream
    reader = StreamReader(streams_client(REGION), arn, "TRIM_HORIZON")
    for n in range(30):
        put(dynamodb, f"k{n}")
        assert changes(reader.read()) == [("INSERT", f"k{n}")]
    backend = dynamodbstreams_backends["123456789012"][REGION]
    assert len(backend.shard_iterators) >= 30
    assert prune_stream_iterators(keep=5) >= 25
    assert len(backend.shard_iterators) == 5
    put(dynamodb, "after")
    assert changes(reader.read()) == [("INSERT", "after")]
