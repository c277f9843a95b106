"""Where a person's data still is: every item of every DynamoDB table and every object of every
bucket of an AWS endpoint (moto in-process or the local stack's), searched for given strings.

Compressed values are searched too: a timeline item keeps the platform's raw event zlib-compressed
(``store.profiles.items.compress_raw``), so a phone number inside it is not visible as bytes.
Shared by tests/integration/test_data_rights*.py and tests/e2e/test_data_rights_e2e.py.
"""

from __future__ import annotations

import contextlib
import json
import zlib
from collections.abc import Iterable, Iterator
from typing import Any


def _texts(value: Any) -> Iterator[str]:
    """Every string inside a typed DynamoDB value, binaries decompressed when they are zlib."""
    if isinstance(value, dict):
        for kind, data in value.items():
            if kind in ("S", "N"):
                yield str(data)
            elif kind == "B":
                yield from _bytes(data)
            elif kind in ("SS", "NS"):
                yield from (str(v) for v in data)
            elif kind == "BS":
                for b in data:
                    yield from _bytes(b)
            elif kind == "L":
                for v in data:
                    yield from _texts(v)
            elif kind == "M":
                for k, v in data.items():
                    yield k
                    yield from _texts(v)


def _bytes(data: Any) -> Iterator[str]:
    raw = bytes(getattr(data, "value", data))
    with contextlib.suppress(zlib.error):
        raw = zlib.decompress(raw)
    yield raw.decode("utf-8", "replace")


def _found(texts: Iterable[str], needles: list[str]) -> set[str]:
    hits: set[str] = set()
    for text in texts:
        low = text.lower()
        hits.update(n for n in needles if n.lower() in low)
    return hits


def leftovers(dynamodb: Any, s3: Any, needles: list[str], *, tables: Iterable[str] | None = None,
              buckets: Iterable[str] | None = None) -> list[str]:
    """``"<table>: <pk> / <sk> holds <needle>"`` and ``"<bucket>/<key> holds <needle>"`` for every
    hit; every table and bucket the endpoint has unless named."""
    problems: list[str] = []
    for table in tables if tables is not None else dynamodb.list_tables()["TableNames"]:
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            for item in page.get("Items", []):
                hits = _found(_texts({"M": item}), needles)
                if hits:
                    where = " / ".join(str(item.get(k, {}).get("S", "")) for k in ("pk", "sk", "id") if k in item)
                    problems.append(f"{table}: {where} holds {sorted(hits)}")
    for bucket in buckets if buckets is not None else [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
                hits = _found([obj["Key"], *_bytes(body)], needles)
                if hits:
                    problems.append(f"{bucket}/{obj['Key']} holds {sorted(hits)}")
    return problems


def dumps(value: Any) -> str:
    return json.dumps(value, default=str)
