"""BatchGetItem and BatchWriteItem with DynamoDB's unprocessed items retried: the one place.

DynamoDB may answer a batch with part of it unprocessed (throttling, a partition over its
limit); the caller must ask again for just those, backing off. Hand-written because neither
boto3's client nor Powertools offers it for the client API (boto3's ``batch_writer`` is a
resource-API helper and retries without backoff or a bound). What is still unprocessed after
the retries raises: a read never silently misses items and a write never silently drops them.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from typing import Any

GET_LIMIT = 100  # keys per BatchGetItem
WRITE_LIMIT = 25  # requests per BatchWriteItem
RETRIES = 8


class BatchIncomplete(RuntimeError):
    """DynamoDB kept part of a batch unprocessed through every retry."""


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _backoff(attempt: int) -> None:
    time.sleep(min(1.0, 0.05 * 2**attempt) * random.random())  # full jitter; not security


def batch_get(client: Any, table: str, keys: Sequence[dict[str, Any]], **options: Any) -> list[dict[str, Any]]:
    """Every item of ``keys`` that exists (typed AttributeValues), in no particular order.
    ``options`` go to the table's request (ConsistentRead, ProjectionExpression, ...)."""
    found: list[dict[str, Any]] = []
    for chunk in chunks(keys, GET_LIMIT):
        request: dict[str, Any] = {table: {"Keys": list(chunk), **options}}
        for attempt in range(RETRIES):
            response = client.batch_get_item(RequestItems=request)
            found.extend(response.get("Responses", {}).get(table, []))
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
            _backoff(attempt)
        else:
            raise BatchIncomplete(f"DynamoDB kept {len(request[table]['Keys'])} key(s) of {table} unprocessed")
    return found


def batch_write(client: Any, table: str, requests: Sequence[dict[str, Any]]) -> None:
    """Every PutRequest / DeleteRequest of ``requests`` applied, or BatchIncomplete."""
    for chunk in chunks(requests, WRITE_LIMIT):
        pending: dict[str, Any] = {table: list(chunk)}
        for attempt in range(RETRIES):
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not pending:
                break
            _backoff(attempt)
        else:
            raise BatchIncomplete(f"DynamoDB kept {len(pending[table])} write(s) to {table} unprocessed")
