"""ReportsTable: the stakeholder report's aggregates and the facts already counted in them.

Items (``pk`` / ``sk``):

* ``DAY#<yyyy-mm-dd>`` / ``<family>``: counters of one UTC day, one item per family of figures
  (``VOL``, ``REACH``, ``CUST``, ``SENT``, ``CASES``, ``FR``, ``TP``; ``domain.reporting.facts``
  names their attributes). Only ever changed with ``ADD``, so concurrent writers never lose an
  increment, and small: an update costs the item's size, so families are kept apart. No
  personal data: channel, team and category names and numbers.
* ``F#<sha256 of a fact key>`` / ``F``: a claim - this fact (an interaction counted, a case's
  first response, a customer seen on a day...) is in the counters. Written in the same
  transaction as the ``ADD`` it guards, conditional on its absence: a fact is counted once
  however often the stream delivers its record. Keys are hashes, so no identifier is stored;
  a claim expires (``expires_at``) once no stream record can bring its fact back.

The report reads a period's day items with BatchGetItem (a year is ~2,600 keys): never a scan.
StateTable's day counters of surveys and listening are read by ``StateRepository.counters``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from socialcare.store.batch import batch_get
from socialcare.store.codec import cancellation_codes, cancelled, from_item, key

DAY_PREFIX = "DAY#"
CLAIM_PREFIX = "F#"
CLAIM_SK = "F"
TRANSACTION_LIMIT = 100  # actions per TransactWriteItems
_NOT_DATA = frozenset({"pk", "sk", "expires_at"})  # a claim's key and TTL, beside its data


class ClaimsRaced(Exception):
    """Another writer claimed one of the facts, or touched a counter, while we wrote: read again."""


def day_pk(day: date | str) -> str:
    return f"{DAY_PREFIX}{day if isinstance(day, str) else day.isoformat()}"


def claim_pk(fact: str) -> str:
    return CLAIM_PREFIX + hashlib.sha256(fact.encode()).hexdigest()[:32]


@dataclass
class Claim:
    """A fact to mark as counted; ``keep_days`` its claim's life; ``data`` stored beside it."""

    fact: str
    keep_days: int
    data: dict[str, str] = field(default_factory=dict)


@dataclass
class Increments:
    """``ADD``s to day counters: (day, family) -> attribute -> amount."""

    by_item: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)

    def add(self, day: str, family: str, attribute: str, amount: int = 1) -> None:
        if amount:
            counters = self.by_item.setdefault((day, family), {})
            counters[attribute] = counters.get(attribute, 0) + amount

    def merge(self, other: Increments) -> None:
        for (day, family), counters in other.by_item.items():
            for attribute, amount in counters.items():
                self.add(day, family, attribute, amount)

    def __len__(self) -> int:
        return len(self.by_item)


class ReportsRepository:
    def __init__(self, table: str, client: Any) -> None:
        self.table = table
        self.client = client

    # ------------------------------------------------------------------ claims
    def claimed(self, facts: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The facts of ``facts`` already counted -> the data stored with their claim."""
        wanted = {claim_pk(fact): fact for fact in facts}
        if not wanted:
            return {}
        keys = [key(pk, CLAIM_SK) for pk in sorted(wanted)]
        found = batch_get(self.client, self.table, keys, ConsistentRead=True)
        return {wanted[item["pk"]["S"]]: {k: v for k, v in from_item(item).items() if k not in _NOT_DATA}
                for item in found}

    def count(self, claims: Sequence[Claim], increments: Increments, *, now: datetime | None = None) -> None:
        """Claim ``claims`` and apply ``increments`` in one transaction (at most
        ``TRANSACTION_LIMIT`` actions in all); ClaimsRaced when a claim was taken meanwhile or
        another transaction touched the same items (nothing was written: read again)."""
        now = now or datetime.now(UTC)
        actions = [self._claim_op(c, now) for c in claims] + [
            self._add_op(day, family, counters) for (day, family), counters in sorted(increments.by_item.items())
        ]
        if not actions:
            return
        if len(actions) > TRANSACTION_LIMIT:
            raise ValueError(f"{len(actions)} actions: a transaction takes {TRANSACTION_LIMIT}")
        try:
            self.client.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            if cancelled(exc) or "TransactionConflict" in str(exc):
                raise ClaimsRaced(",".join(cancellation_codes(exc))) from exc
            raise

    def _claim_op(self, claim: Claim, now: datetime) -> dict[str, Any]:
        expires = int((now + timedelta(days=claim.keep_days)).timestamp())
        item = {**key(claim_pk(claim.fact), CLAIM_SK), "expires_at": {"N": str(expires)},
                **{name: {"S": value} for name, value in claim.data.items()}}
        return {"Put": {"TableName": self.table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}

    def _add_op(self, day: str, family: str, counters: Mapping[str, int]) -> dict[str, Any]:
        names = {f"#a{i}": name for i, name in enumerate(sorted(counters))}
        values = {f":v{i}": {"N": str(counters[name])} for i, name in enumerate(sorted(counters))}
        expression = "ADD " + ", ".join(f"#a{i} :v{i}" for i in range(len(names)))
        return {"Update": {"TableName": self.table, "Key": key(day_pk(day), family), "UpdateExpression": expression,
                           "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}}

    # ------------------------------------------------------------------ reading the counters
    def days(self, first: date, last: date, families: Iterable[str]) -> dict[str, dict[str, dict[str, int]]]:
        """Every counter of the days ``first``..``last`` (inclusive) in ``families``:
        day (ISO) -> family -> attribute -> value. Days without counters are absent."""
        wanted = sorted(set(families))
        keys: list[dict[str, Any]] = []
        day = first
        while day <= last:
            keys.extend(key(day_pk(day), family) for family in wanted)
            day += timedelta(days=1)
        out: dict[str, dict[str, dict[str, int]]] = {}
        for item in batch_get(self.client, self.table, keys) if keys else []:
            counters = {name: int(value["N"]) for name, value in item.items() if "N" in value}
            out.setdefault(item["pk"]["S"].removeprefix(DAY_PREFIX), {})[item["sk"]["S"]] = counters
        return out

