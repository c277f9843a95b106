"""store.batch on moto: items DynamoDB leaves unprocessed (throttling) are asked for again, and
what stays unprocessed raises instead of being silently missed or dropped.

Throttling is produced at botocore, below our code: a ``before-call`` handler answers the
request itself with everything unprocessed, as DynamoDB does when a partition is over its limit.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from socialcare.store.batch import BatchIncomplete, batch_get, batch_write

pytestmark = pytest.mark.integration
TABLE = "batch-test"


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="eu-west-1")
        ddb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
        yield ddb


def throttle(client: Any, operation: str, times: int) -> list[int]:
    """Answer the next ``times`` calls of ``operation`` with everything unprocessed."""
    calls: list[int] = []

    def answer(params: dict[str, Any], **_: Any) -> Any:
        calls.append(1)
        if len(calls) > times:
            return None  # on to moto
        items = json.loads(params["body"])["RequestItems"]  # the serialized request
        parsed = ({"Responses": {TABLE: []}, "UnprocessedKeys": items} if operation == "BatchGetItem"
                  else {"UnprocessedItems": items})
        return AWSResponse(params["url"], 200, {}, None), parsed

    client.meta.events.register(f"before-call.dynamodb.{operation}", answer)
    return calls


def puts(n: int) -> list[dict[str, Any]]:
    return [{"PutRequest": {"Item": {"pk": {"S": f"k{i}"}}}} for i in range(n)]


def test_a_throttled_write_is_retried_until_every_item_is_stored(client: Any) -> None:
    calls = throttle(client, "BatchWriteItem", times=2)
    batch_write(client, TABLE, puts(30))  # two chunks of 25 and 5
    assert len(calls) == 4  # two throttled answers, then one call per chunk
    assert client.scan(TableName=TABLE)["Count"] == 30


def test_a_write_throttled_through_every_retry_raises(client: Any) -> None:
    throttle(client, "BatchWriteItem", times=1000)
    with pytest.raises(BatchIncomplete, match="25 write"):
        batch_write(client, TABLE, puts(30))


def test_a_throttled_read_is_retried_and_misses_nothing(client: Any) -> None:
    batch_write(client, TABLE, puts(150))
    throttle(client, "BatchGetItem", times=3)
    keys = [{"pk": {"S": f"k{i}"}} for i in range(150)] + [{"pk": {"S": "absent"}}]
    found = batch_get(client, TABLE, keys, ConsistentRead=True)
    assert sorted(i["pk"]["S"] for i in found) == sorted(f"k{i}" for i in range(150))
    throttle(client, "BatchGetItem", times=1000)
    with pytest.raises(BatchIncomplete):
        batch_get(client, TABLE, keys)
