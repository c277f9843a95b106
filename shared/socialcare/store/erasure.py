"""Erasure and export primitives across every table and the media bucket (docs/privacy.md).

The repositories of each table (``store.profiles``, ``store.cases``) write items one concept at
a time; an erasure must find and delete *every* item about a person, whatever wrote it, so it
works on whole partitions and keys here. Every delete is idempotent (deleting a missing item is
not an error) and every delete of an item another customer may hold since (a claim, a handle, a
guard) is conditional on it still naming the erased customer: a new customer who took over a
platform id during the erasure keeps it.

Tombstones are ProfilesTable items ``ERASED#<salted hash>`` / ``TOMBSTONE`` (``kind`` says what
was hashed: ``message`` or an identity kind). The processor reads the message tombstones in the
same BatchGetItem as the identity claims (``ProfileReads.get_claims``), so a redelivered erased
message costs no extra request and is dropped before anything is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from socialcare.store.batch import batch_get, batch_write
from socialcare.store.codec import conditionally, from_item, key, to_item
from socialcare.store.profiles.items import PROFILE, TOMBSTONE_SK, customer_pk, tombstone_pk

if TYPE_CHECKING:
    from socialcare.store.media import MediaStore

# The sentinel an erasure freezes a profile with: every write to a customer is conditional on
# ``attribute_not_exists(merged_into)``, and a read that follows the alias finds nobody.
ERASED_ALIAS = "erased"
_DELETE_BATCH = 1000  # S3 DeleteObjects takes at most 1,000 keys


class ErasureStore:
    """Partitions, conditional deletes and tombstones of the profiles, cases and idempotency
    tables; listings and deletes of the media bucket."""

    def __init__(self, client: Any, *, profiles_table: str, cases_table: str, idempotency_table: str | None = None,
                 media: MediaStore | None = None) -> None:
        self.client = client
        self.profiles_table = profiles_table
        self.cases_table = cases_table
        self.idempotency_table = idempotency_table
        self.media = media  # the bucket's store (None: no bucket configured)

    # ------------------------------------------------------------------ reads
    def partition(self, table: str, pk: str) -> list[dict[str, Any]]:
        """Every item of partition ``pk`` (plain values), strongly consistent."""
        pages = self.client.get_paginator("query").paginate(
            TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": pk}},
            ConsistentRead=True)
        return [from_item(i) for page in pages for i in page.get("Items", [])]

    def items(self, table: str, keys: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
        """The items of these (pk, sk) that exist (plain values), in one BatchGetItem a hundred."""
        wanted = [key(pk, sk) for pk, sk in dict.fromkeys(keys)]
        return [from_item(i) for i in batch_get(self.client, table, wanted, ConsistentRead=True)] if wanted else []

    # ------------------------------------------------------------------ writes
    def delete_items(self, table: str, keys: Iterable[tuple[str, str]]) -> int:
        """Delete every (pk, sk); returns how many were asked. Idempotent."""
        wanted = list(dict.fromkeys(keys))
        batch_write(self.client, table, [{"DeleteRequest": {"Key": key(pk, sk)}} for pk, sk in wanted])
        return len(wanted)

    def delete_partition(self, table: str, pk: str, *, last: str | None = None) -> int:
        """Delete every item of ``pk``; the item whose sort key is ``last`` goes last (the profile:
        what tells a resumed erasure that the partition still has something to find)."""
        items = self.partition(table, pk)
        keys = [(pk, str(i["sk"])) for i in items if i["sk"] != last]
        count = self.delete_items(table, keys)
        if any(i["sk"] == last for i in items):
            count += self.delete_items(table, [(pk, str(last))])
        return count

    def delete_if_owner(self, table: str, pk: str, sk: str, customer_ids: Sequence[str]) -> bool:
        """Delete an item only while its ``customer_id`` is one of ``customer_ids`` (or it has
        none); False when someone else holds it now."""
        values = {f":c{i}": {"S": c} for i, c in enumerate(customer_ids)}
        names = ", ".join(values)
        return conditionally(lambda: self.client.delete_item(
            TableName=table, Key=key(pk, sk),
            ConditionExpression=f"attribute_not_exists(customer_id) OR customer_id IN ({names})",
            ExpressionAttributeValues=values,
        ))

    def freeze_profile(self, customer_id: str, job_id: str, at: str) -> bool:
        """Turn the profile into an alias of nobody (``merged_into = erased``): from now on no
        interaction, identity or context is written to it, and lookups find nobody. False when
        there is no such profile (already erased). A retry of the same job freezes again."""
        return conditionally(lambda: self.client.update_item(
            TableName=self.profiles_table, Key=key(customer_pk(customer_id), PROFILE),
            UpdateExpression="SET merged_into = :erased, erasing_job = :job, erasing_at = :at",
            ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(merged_into) "
                                "OR erasing_job = :job OR merged_into = :erased)",
            ExpressionAttributeValues={":erased": {"S": ERASED_ALIAS}, ":job": {"S": job_id}, ":at": {"S": at}},
        ))

    def forget_suggestion(self, other_id: str, erased_id: str) -> None:
        """Drop the mirror of a suggestion on the other customer, and the pair from its
        ``suggested_with`` (the erased id would otherwise stay in the other's profile)."""
        self.delete_items(self.profiles_table, [(customer_pk(other_id), f"SUGGEST#{erased_id}")])
        conditionally(lambda: self.client.update_item(
            TableName=self.profiles_table, Key=key(customer_pk(other_id), PROFILE),
            UpdateExpression="DELETE suggested_with :c", ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":c": {"SS": [erased_id]}},
        ))

    def put_tombstones(self, digests: dict[str, str], *, job_id: str, at: str) -> int:
        """One ``ERASED#<digest>`` item per salted hash (``digests``: digest -> kind). Overwrites
        are harmless: a tombstone says only that something with that hash was erased."""
        batch_write(self.client, self.profiles_table, [
            {"PutRequest": {"Item": to_item({"pk": tombstone_pk(d), "sk": TOMBSTONE_SK, "type": "tombstone",
                                              "kind": kind, "job_id": job_id, "erased_at": at})}}
            for d, kind in sorted(digests.items())
        ])
        return len(digests)

    def put_case_item(self, item: dict[str, Any]) -> None:
        """Overwrite a CasesTable item (a case's timeline entry without its personal fields)."""
        self.client.put_item(TableName=self.cases_table, Item=to_item(item))

    # ------------------------------------------------------------------ idempotency records
    def purge_idempotency(self, tokens: Sequence[str]) -> int:
        """Delete the Powertools idempotency records whose stored outcome names any of ``tokens``
        (case ids, CRM record ids, work item ids). Their keys are hashes of the guarded action, so
        they cannot be looked up: the table is scanned - it only holds records of the last days
        (TTL), and an erasure is rare. Hand-written: Powertools has no "find by outcome".

        A record goes only when one of its outcome's values *is* a token, never when it merely
        contains one: CRM record ids are often short numbers ("47" is inside "1470" and inside
        any timestamp), and deleting another case's record would let its side effect run twice."""
        if not self.idempotency_table or not tokens:
            return 0
        wanted = {t for t in tokens if t}
        pages = self.client.get_paginator("scan").paginate(
            TableName=self.idempotency_table, ProjectionExpression="id, #d", ExpressionAttributeNames={"#d": "data"})
        doomed = [item["id"]["S"] for page in pages for item in page.get("Items", [])
                  if wanted & _values(item.get("data", {}).get("S", ""))]
        batch_write(self.client, self.idempotency_table, [{"DeleteRequest": {"Key": {"id": {"S": i}}}}
                                                          for i in doomed])
        return len(doomed)

    # ------------------------------------------------------------------ media bucket
    def object_keys(self, prefix: str) -> Iterator[str]:
        if self.media is None:
            return
        pages = self.media.client.get_paginator("list_objects_v2").paginate(Bucket=self.media.bucket, Prefix=prefix)
        for page in pages:
            for obj in page.get("Contents", []):
                yield str(obj["Key"])

    def delete_objects(self, keys: Iterable[str]) -> int:
        """Delete the given object keys (missing ones are not an error); returns how many."""
        if self.media is None:
            return 0
        wanted = sorted(set(keys))
        for start in range(0, len(wanted), _DELETE_BATCH):
            chunk = [{"Key": k} for k in wanted[start : start + _DELETE_BATCH]]
            result = self.media.client.delete_objects(Bucket=self.media.bucket,
                                                      Delete={"Objects": chunk, "Quiet": True})
            if result.get("Errors"):
                raise RuntimeError(f"S3 refused to delete {len(result['Errors'])} object(s)")
        return len(wanted)

    def delete_prefixes(self, prefixes: Iterable[str]) -> int:
        """Delete every object under each folder prefix (``customers/<id>/``, a message's folder)."""
        if self.media is None:
            return 0
        return sum(self.media.delete_prefix(prefix) for prefix in dict.fromkeys(prefixes))


def _values(data: str) -> set[str]:
    """Every scalar of a stored JSON outcome, as text (the text itself when it is not JSON)."""
    try:
        parsed = json.loads(data)
    except ValueError:
        return {data}
    found: set[str] = set()
    pending = [parsed]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending += value.values()
        elif isinstance(value, list):
            pending += value
        elif value is not None:
            found.add(str(value))
    return found
