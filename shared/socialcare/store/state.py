"""StateTable repository: operational state that is not customer data.

Items (``pk`` / ``sk``), all but sequences and checkpoints with a TTL (``expires_at``):

* ``SEQ#<name>`` / ``SEQ``: a sequence from which blocks are reserved with one atomic ``ADD``
  (case ids: ``SEQ#CASE#<year>``), so concurrent execution environments get disjoint blocks;
* ``XPOLL#<account>`` / ``mentions|dms``: the X poller's ``since_id`` checkpoints, which only
  ever move forward (conditional write);
* ``<counter key>`` / ``COUNT``: counters incremented with ``ADD`` (listening: mentions per
  brand, bucket and shard; mentions per post; repeated texts) and read by summing shards;
* ``SPIKE#<brand>`` / ``EPISODE``: a spike episode, opened conditionally so one alert goes out;
* ``INCIDENT#<post id>`` / ``INCIDENT``: the case grouping a flood of mentions of one post,
  claimed conditionally so the flood makes one case;
* ``CRM#RATE`` / ``<provider>``: the CRM token bucket (``tokens``, ``ts`` in ms), swapped with a
  condition on the values read (``crm.ratelimit`` holds the algorithm).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from socialcare.store.batch import batch_get
from socialcare.store.codec import conditionally, key

_COUNT = "COUNT"
_BUCKET_PK = "CRM#RATE"
_BUCKET_TTL_SECONDS = 86_400  # an idle bucket is simply full: let TTL vacuum it


def ttl(now: datetime, days: float) -> dict[str, str]:
    return {"N": str(int((now + timedelta(days=days)).timestamp()))}


class StateRepository:
    def __init__(self, table: str, client: Any) -> None:
        self.table = table
        self.client = client

    # ------------------------------------------------------------------ sequences
    def reserve(self, name: str, size: int) -> int:
        """Reserve ``size`` numbers of sequence ``name``; returns the last one reserved."""
        result = self.client.update_item(
            TableName=self.table, Key=key(f"SEQ#{name}", "SEQ"),
            UpdateExpression="ADD reserved :n",
            ExpressionAttributeValues={":n": {"N": str(size)}},
            ReturnValues="UPDATED_NEW",
        )
        return int(result["Attributes"]["reserved"]["N"])

    # ------------------------------------------------------------------ poller checkpoints
    def checkpoint(self, account_id: str, stream: str) -> int | None:
        item = self.client.get_item(
            TableName=self.table, Key=key(f"XPOLL#{account_id}", stream), ConsistentRead=True
        ).get("Item")
        return int(item["since_id"]["N"]) if item and "since_id" in item else None

    def advance_checkpoint(self, account_id: str, stream: str, since_id: int) -> bool:
        """Move the checkpoint forward to ``since_id``; False when it already was at or past it."""
        return conditionally(lambda: self.client.update_item(
            TableName=self.table, Key=key(f"XPOLL#{account_id}", stream),
            UpdateExpression="SET since_id = :new, updated_at = :now",
            ConditionExpression="attribute_not_exists(since_id) OR since_id < :new",
            ExpressionAttributeValues={":new": {"N": str(since_id)}, ":now": {"S": datetime.now(UTC).isoformat()}},
        ))

    # ------------------------------------------------------------------ counters
    def add(self, pk: str, counts: Mapping[str, int], *, now: datetime, ttl_days: float) -> dict[str, int]:
        """Add ``counts`` to the counter item ``pk``; returns the new values."""
        names = {f"#a{i}": name for i, name in enumerate(counts)}
        values: dict[str, Any] = {f":a{i}": {"N": str(v)} for i, v in enumerate(counts.values())}
        values[":ttl"] = ttl(now, ttl_days)
        adds = ", ".join(f"#a{i} :a{i}" for i in range(len(counts)))
        result = self.client.update_item(
            TableName=self.table, Key=key(pk, _COUNT),
            UpdateExpression=f"ADD {adds} SET expires_at = :ttl",
            ExpressionAttributeNames=names, ExpressionAttributeValues=values, ReturnValues="UPDATED_NEW",
        )
        attrs = result.get("Attributes", {})
        return {name: int(attrs.get(name, {}).get("N", "0")) for name in counts}

    def counts(self, pks: Sequence[str], field: str) -> dict[str, int]:
        """``field`` of each counter item in ``pks`` (a missing item counts 0)."""
        found: dict[str, int] = dict.fromkeys(pks, 0)
        items = batch_get(self.client, self.table, [key(pk, _COUNT) for pk in pks],
                          ProjectionExpression="pk, #f", ExpressionAttributeNames={"#f": field})
        for item in items:
            found[item["pk"]["S"]] = int(item.get(field, {}).get("N", "0"))
        return found

    def counters(self, pks: Sequence[str]) -> dict[str, dict[str, int]]:
        """Every counter of each counter item in ``pks`` that exists (attribute -> value): one
        BatchGetItem per 100 keys, where ``counts`` reads one field."""
        items = batch_get(self.client, self.table, [key(pk, _COUNT) for pk in dict.fromkeys(pks)]) if pks else []
        return {item["pk"]["S"]: {name: int(value["N"]) for name, value in item.items()
                                  if "N" in value and name != "expires_at"} for item in items}

    def open_episode(self, name: str, *, now: datetime, until: datetime) -> bool:
        """Open the episode ``name`` until ``until``; False (and extended) when one is running."""
        item_key = key(f"SPIKE#{name}", "EPISODE")
        if conditionally(lambda: self.client.update_item(
            TableName=self.table, Key=item_key,
            UpdateExpression="SET until_ts = :until, started_at = :now, expires_at = :ttl",
            ConditionExpression="attribute_not_exists(until_ts) OR until_ts < :nowts",
            ExpressionAttributeValues={
                ":until": {"N": str(int(until.timestamp()))}, ":now": {"S": now.isoformat()},
                ":nowts": {"N": str(int(now.timestamp()))}, ":ttl": ttl(now, 2),
            },
        )):
            return True
        self.client.update_item(
            TableName=self.table, Key=item_key, UpdateExpression="SET until_ts = :until",
            ExpressionAttributeValues={":until": {"N": str(int(until.timestamp()))}},
        )
        return False

    # ------------------------------------------------------------------ incidents
    def incident(self, post_id: str) -> str | None:
        item = self.client.get_item(
            TableName=self.table, Key=key(f"INCIDENT#{post_id}", "INCIDENT"), ConsistentRead=True
        ).get("Item")
        return str(item["case_id"]["S"]) if item else None

    def claim_incident(self, post_id: str, case_id: str, *, now: datetime, ttl_hours: float) -> bool:
        """Make ``case_id`` the incident of ``post_id`` unless another case already is."""
        return conditionally(lambda: self.client.put_item(
            TableName=self.table,
            Item={**key(f"INCIDENT#{post_id}", "INCIDENT"), "case_id": {"S": case_id},
                  "declared_at": {"S": now.isoformat()}, "expires_at": ttl(now, ttl_hours / 24)},
            ConditionExpression="attribute_not_exists(pk)",
        ))

    # ------------------------------------------------------------------ CRM token bucket
    def bucket(self, name: str) -> tuple[str, str] | None:
        """(tokens, ts in ms) exactly as stored, for a conditional swap; None when absent."""
        item = self.client.get_item(TableName=self.table, Key=key(_BUCKET_PK, name), ConsistentRead=True).get("Item")
        return (item["tokens"]["N"], item["ts"]["N"]) if item else None

    def create_bucket(self, name: str, tokens: float, ts_ms: int) -> bool:
        return conditionally(lambda: self.client.put_item(
            TableName=self.table,
            Item={**key(_BUCKET_PK, name), "tokens": {"N": repr(float(tokens))}, "ts": {"N": str(ts_ms)},
                  "expires_at": {"N": str(ts_ms // 1000 + _BUCKET_TTL_SECONDS)}},
            ConditionExpression="attribute_not_exists(pk)",
        ))

    def swap_bucket(self, name: str, read: tuple[str, str], tokens: float, ts_ms: int) -> bool:
        """Write the bucket if it still holds what was ``read``; False when someone else won."""
        return conditionally(lambda: self.client.update_item(
            TableName=self.table, Key=key(_BUCKET_PK, name),
            UpdateExpression="SET tokens = :t, ts = :now, expires_at = :exp",
            ConditionExpression="tokens = :old_t AND ts = :old_ts",
            ExpressionAttributeValues={
                ":t": {"N": repr(float(tokens))}, ":now": {"N": str(ts_ms)},
                ":exp": {"N": str(ts_ms // 1000 + _BUCKET_TTL_SECONDS)},
                ":old_t": {"N": read[0]}, ":old_ts": {"N": read[1]},
            },
        ))

    def hold_bucket(self, name: str, until_ms: int) -> None:
        """Empty the bucket until ``until_ms``, never shortening a longer hold already set."""
        conditionally(lambda: self.client.update_item(
            TableName=self.table, Key=key(_BUCKET_PK, name),
            UpdateExpression="SET tokens = :zero, ts = :until, expires_at = :exp",
            ConditionExpression="attribute_not_exists(ts) OR ts < :until",
            ExpressionAttributeValues={":zero": {"N": "0"}, ":until": {"N": str(until_ms)},
                                       ":exp": {"N": str(until_ms // 1000 + _BUCKET_TTL_SECONDS)}},
        ))
