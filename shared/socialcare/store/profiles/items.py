"""ProfilesTable: the single-table design, its keys and the repository's exceptions.

Item layout (``pk`` / ``sk``)::

    CUSTOMER#<id>   PROFILE                       customer: name, known names, first/last seen,
                                                  counts per channel, verified phones/e-mails,
                                                  open case, last sentiment; ``merged_into`` when
                                                  the customer was merged away (an alias)
    ID#<kind>#<v>   CLAIM                         identity claim -> customer_id, verified flag.
                                                  Created with attribute_not_exists(pk): one
                                                  identifier can never belong to two customers
    CUSTOMER#<id>   ID#<kind>#<v>                 reverse identity (kind, value, verified, origin
                                                  customer for unmerge, X handle)
    CUSTOMER#<id>   TS#<iso>#<interaction id>     timeline item (text, case id, compressed raw)
    CUSTOMER#<id>   MERGE#<iso>#<merge id>        merge / unmerge audit record
    CUSTOMER#<id>   SUGGEST#<other id>            match suggestion for an agent (mirrored on both)
    IX#<interaction id>  GUARD                    dedupe guard + pointer to the timeline item and
                                                  its case id; a tombstone when a delete arrived
                                                  before its message
    IX#<interaction id>  STATUS#<status>          delivery receipt of one of our outbound messages
    HANDLE#<channel>#<handle>  CLAIM              handle -> customer (lookup only, latest wins:
                                                  handles are recycled, so they never link anyone)

Access patterns:

    recognise a returning customer  BatchGetItem of the CLAIMs of every identifier an event
                                     carries, then BatchGetItem of the candidate PROFILEs:
                                     two round trips, whatever the event carries
    new customer / new identity      one TransactWriteItems: claims (attribute_not_exists) +
                                     reverse identities + profile
    store an interaction, deduped    one TransactWriteItems: guard (attribute_not_exists) +
                                     timeline item + profile counters (condition: not merged)
    customer 360                     Query pk=CUSTOMER#id, sk < "TS#" (profile, identities,
                                     merges, suggestions) + Query begins_with(sk, "TS#"),
                                     newest first, paginated: the whole timeline, including
                                     what a merged customer brought, is one partition
    lookup by phone/e-mail/id        GetItem CLAIM
    interaction by id                GetItem GUARD (edit, delete, case id, delivery receipts)

Merges re-key rather than alias at read time: the merged customer's claims are rewritten to
the survivor and its identities and timeline items move into the survivor's partition, so the
hot path and the 360 stay one lookup / one query. The merged PROFILE stays behind as an alias
(``merged_into``) so ids held elsewhere (CRM, cases) still resolve. The cost is a merge that
writes O(items) - an agent action, not a hot path - and each moved item remembers its origin so
that an unmerge can move it back.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from datetime import UTC, datetime
from typing import Any

from socialcare.models.profile import identity_key
from socialcare.store.codec import key

PROFILE = "PROFILE"
CLAIM = "CLAIM"
GUARD = "GUARD"
TIMELINE_PREFIX = "TS#"
IDENTITY_PREFIX = "ID#"
MERGE_PREFIX = "MERGE#"
SUGGESTION_PREFIX = "SUGGEST#"

# DynamoDB items stop at 400 KB; a raw slice larger than this (compressed) is dropped from the
# item rather than failing the store - the event itself is still in the queue's DLQ on failure.
RAW_LIMIT = 300 * 1024
# TransactWriteItems takes 100 actions; merges move items in chunks well below it.
TX_CHUNK = 24
# How far aliases are followed before giving up (a chain only forms through repeated merges).
ALIAS_HOPS = 5
# Delivery receipts arrive out of order; a later state never goes back to an earlier one.
STATUS_RANK = {"sent": 1, "delivered": 2, "read": 3, "failed": 4}


# ---------------------------------------------------------------------------------- keys
def customer_pk(customer_id: str) -> str:
    return f"CUSTOMER#{customer_id}"


def claim_pk(kind: str, value: str) -> str:
    return f"ID#{identity_key(kind, value)}"


def guard_pk(interaction_id: str) -> str:
    return f"IX#{interaction_id}"


# Tombstones of erased data (store.erasure writes them; recognition reads them with the claims).
TOMBSTONE_SK = "TOMBSTONE"
TOMBSTONE_PREFIX = "ERASED#"
# RetentionIndex (keys only): a PROFILE's shard and the month of its last inbound contact
# (when the message was received). The sweep reads each shard's months up to the cutoff: a
# handful of Queries, however many years are kept. The month changes once a month per active
# customer, so the index costs one write a month each; the shards spread those writes.
RETENTION_INDEX = "RetentionIndex"
RETENTION_SHARDS = 8


class Tombstoned(Exception):
    """What the event is about was erased (a tombstone of its salted hash exists): drop it."""


def tombstone_pk(digest: str) -> str:
    return f"{TOMBSTONE_PREFIX}{digest}"


def retention_shard(customer_id: str) -> str:
    return f"RET#{int(hashlib.sha256(customer_id.encode()).hexdigest(), 16) % RETENTION_SHARDS}"


def retention_month(received: datetime) -> str:
    return f"{received.astimezone(UTC):%Y-%m}"


def threaded_onto_ops(table: str, customer_id: str, interaction_id: str, timeline_sk: str,
                      case_id: str) -> list[dict[str, Any]]:
    """Transaction items marking a stored interaction as threaded onto ``case_id``: its guard
    (only while it still belongs to ``customer_id``) and its timeline item (only if it exists)."""
    return [
        {"Update": {"TableName": table, "Key": key(guard_pk(interaction_id), GUARD),
                    "UpdateExpression": "SET case_id = :c", "ConditionExpression": "customer_id = :cust",
                    "ExpressionAttributeValues": {":c": {"S": case_id}, ":cust": {"S": customer_id}}}},
        {"Update": {"TableName": table, "Key": key(customer_pk(customer_id), timeline_sk),
                    "UpdateExpression": "SET case_id = :c", "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": {":c": {"S": case_id}}}},
    ]


def handle_pk(channel: str, handle: str) -> str:
    return f"HANDLE#{channel}#{handle.lstrip('@').lower()}"


def iso(moment: datetime) -> str:
    """Fixed-width UTC timestamps, so sort keys order chronologically as strings."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_iso() -> str:
    return iso(datetime.now(UTC))


def timeline_sk(occurred_at: datetime, interaction_id: str) -> str:
    return f"{TIMELINE_PREFIX}{iso(occurred_at)}#{interaction_id}"



class ClaimTaken(Exception):
    """Another writer claimed an identifier first: re-read and join the winner."""


class CustomerMoved(Exception):
    """The customer was merged away (or does not exist) while we were writing to it."""



class Duplicate(Exception):
    def __init__(self, guard: dict[str, Any] | None) -> None:
        super().__init__("duplicate interaction")
        self.guard = guard



def compress_raw(raw: Any) -> bytes | None:
    if raw is None:
        return None
    packed = zlib.compress(json.dumps(raw, default=str, separators=(",", ":")).encode(), 6)
    return packed if len(packed) <= RAW_LIMIT else None


def decompress_raw(blob: bytes | None) -> Any:
    return None if blob is None else json.loads(zlib.decompress(blob))




def sk_of(action: dict[str, Any]) -> str | None:
    body = next(iter(action.values()))
    key = body.get("Key") or body.get("Item") or {}
    sk = key.get("sk", {})
    return sk.get("S") if isinstance(sk, dict) else None


def public_fields(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in ("pk", "sk", "type")}


