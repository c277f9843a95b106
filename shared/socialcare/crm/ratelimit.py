"""A token bucket in StateTable, shared by every concurrent CrmSyncFunction invocation.

``ScalingConfig.MaximumConcurrency`` bounds how many invocations run; this bounds how many CRM
requests they make per second together. The bucket is one item
(``pk = "CRM#RATE"``, ``sk = <provider>``) holding ``tokens`` and ``ts`` (ms); a take reads it,
refills by elapsed time, and writes back with a condition on the values it read (optimistic
concurrency), so two invocations can never both spend the same token. Nobody sleeps here: a
caller that gets "wait N s" defers its SQS message by N s instead.

A 429 from the CRM ``hold``s the bucket: it empties it and moves ``ts`` into the future, so every
other invocation waits out the CRM's Retry-After too instead of discovering it one 429 at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from socialcare import aws

_PK = "CRM#RATE"
_ATTEMPTS = 5
_TTL_SECONDS = 86_400  # an idle bucket is just full: let TTL vacuum it


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class TokenBucket:
    def __init__(
        self,
        name: str,
        *,
        table: str,
        rate_per_second: float,
        burst: float,
        client: Any | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if rate_per_second <= 0 or burst < 1:
            raise ValueError("token bucket needs rate_per_second > 0 and burst >= 1")
        self.key = {"pk": {"S": _PK}, "sk": {"S": name}}
        self.table = table
        self.rate = rate_per_second
        self.burst = burst
        self._client = client
        self.clock = clock

    @property
    def client(self) -> Any:
        return self._client or aws.dynamodb()

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def take(self, tokens: float = 1.0) -> float:
        """0.0 if ``tokens`` were taken, else the seconds until they will be available."""
        for _ in range(_ATTEMPTS):
            now = self._now_ms()
            item = self.client.get_item(TableName=self.table, Key=self.key, ConsistentRead=True).get("Item")
            if item is None:
                if self._put_new(now, self.burst - tokens):
                    return 0.0
                continue
            old_tokens, old_ts = item["tokens"]["N"], item["ts"]["N"]
            elapsed = max(0.0, (now - int(old_ts)) / 1000)
            if now < int(old_ts):
                # ts in the future = a hold after a 429: nothing refills until it passes.
                return (int(old_ts) - now) / 1000 + tokens / self.rate
            available = min(self.burst, float(old_tokens) + elapsed * self.rate)
            if available < tokens:
                return (tokens - available) / self.rate
            if self._swap(old_tokens, old_ts, available - tokens, now):
                return 0.0
        # Lost the race every time: the bucket is hot, so waiting one token's time is right.
        return 1.0 / self.rate

    def hold(self, seconds: float) -> None:
        """Empty the bucket until ``seconds`` from now (the CRM said Retry-After)."""
        until = self._now_ms() + int(max(0.0, seconds) * 1000)
        # Never shorten a longer hold that another invocation already set.
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self.key,
                UpdateExpression="SET tokens = :zero, ts = :until, expires_at = :exp",
                ConditionExpression="attribute_not_exists(ts) OR ts < :until",
                ExpressionAttributeValues={
                    ":zero": {"N": "0"},
                    ":until": {"N": str(until)},
                    ":exp": {"N": str(until // 1000 + _TTL_SECONDS)},
                },
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise

    def _put_new(self, now: int, tokens: float) -> bool:
        try:
            self.client.put_item(
                TableName=self.table,
                Item={
                    **self.key,
                    "tokens": {"N": repr(float(tokens))},
                    "ts": {"N": str(now)},
                    "expires_at": {"N": str(now // 1000 + _TTL_SECONDS)},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def _swap(self, old_tokens: str, old_ts: str, tokens: float, now: int) -> bool:
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self.key,
                UpdateExpression="SET tokens = :t, ts = :now, expires_at = :exp",
                ConditionExpression="tokens = :old_t AND ts = :old_ts",
                ExpressionAttributeValues={
                    ":t": {"N": repr(float(tokens))},
                    ":now": {"N": str(now)},
                    ":exp": {"N": str(now // 1000 + _TTL_SECONDS)},
                    ":old_t": {"N": old_tokens},
                    ":old_ts": {"N": old_ts},
                },
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True
