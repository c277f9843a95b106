"""Merge and unmerge primitives: aliases, counters, re-keyed identities and timeline items."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from socialcare.models.profile import IdentityRecord, Profile, Suggestion
from socialcare.store.batch import chunks
from socialcare.store.codec import attribute_value, conditionally, key, to_item
from socialcare.store.profiles.items import (
    CLAIM,
    GUARD,
    IDENTITY_PREFIX,
    MERGE_PREFIX,
    PROFILE,
    SUGGESTION_PREFIX,
    TX_CHUNK,
    CustomerMoved,
    claim_pk,
    customer_pk,
    guard_pk,
    handle_pk,
    now_iso,
)
from socialcare.store.profiles.reads import ProfileReads


class MergeWrites(ProfileReads):

    def mark_merged(self, source: str, target: str, at: str) -> None:
        """Turn ``source`` into an alias of ``target``; from now on writes to it are redirected."""
        if not conditionally(lambda: self.client.update_item(
            TableName=self.table, Key=key(customer_pk(source), PROFILE),
            UpdateExpression="SET merged_into = :t, merged_at = :at",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(merged_into)",
            ExpressionAttributeValues={":t": {"S": target}, ":at": {"S": at}},
        )):
            raise CustomerMoved(source)

    def reactivate(self, customer_id: str) -> None:
        """Undo an alias (unmerge back to the original customer) before its claims return."""
        self.client.update_item(
            TableName=self.table, Key=key(customer_pk(customer_id), PROFILE),
            UpdateExpression="REMOVE merged_into, merged_at",
        )

    def absorb_counters(self, target: str, source: Profile) -> None:
        """Add a merged customer's counters to the survivor with ADD, so interactions the
        survivor records during the merge are never lost to a read-modify-write."""
        adds = ["interaction_count :n"]
        values: dict[str, Any] = {":n": {"N": str(source.interaction_count)}, ":now": {"S": now_iso()}}
        names: dict[str, str] = {}
        for i, (channel, count) in enumerate(sorted(source.channel_counts.items())):
            names[f"#c{i}"] = channel
            values[f":c{i}"] = {"N": str(count)}
            adds.append(f"channel_counts.#c{i} :c{i}")
        if source.verified_phones:
            adds.append("verified_phones :ph")
            values[":ph"] = {"SS": sorted(source.verified_phones)}
        if source.verified_emails:
            adds.append("verified_emails :em")
            values[":em"] = {"SS": sorted(source.verified_emails)}
        self.client.update_item(
            TableName=self.table, Key=key(customer_pk(target), PROFILE),
            UpdateExpression="SET updated_at = :now ADD " + ", ".join(adds),
            ExpressionAttributeValues=values,
            **({"ExpressionAttributeNames": names} if names else {}),
        )

    def move_identities(
        self, source: str, target: str, identities: Sequence[IdentityRecord], *, origin: str | None = None
    ) -> None:
        """Re-point claims to ``target`` and move the reverse items into its partition.

        Each item keeps the customer it originally belonged to (or ``origin`` when given), which
        is where an unmerge sends it back.
        """
        for chunk in chunks(list(identities), TX_CHUNK):
            actions: list[dict[str, Any]] = []
            for ident in chunk:
                sk = f"{IDENTITY_PREFIX}{ident.key}"
                actions.append({"Update": {
                    "TableName": self.table, "Key": key(claim_pk(ident.kind, ident.value), CLAIM),
                    "UpdateExpression": "SET customer_id = :t",
                    "ConditionExpression": "customer_id IN (:s, :t)",
                    "ExpressionAttributeValues": {":s": {"S": source}, ":t": {"S": target}},
                }})
                actions.append({"Delete": {"TableName": self.table, "Key": key(customer_pk(source), sk)}})
                data = ident.model_dump(exclude_none=True)
                data.update(pk=customer_pk(target), sk=sk, type="identity")
                data["origin_customer_id"] = origin or ident.origin_customer_id or source
                actions.append({"Put": {"TableName": self.table, "Item": to_item(data)}})
            self.client.transact_write_items(TransactItems=actions)
            for ident in chunk:
                if ident.handle:
                    self.client.put_item(TableName=self.table, Item=to_item({
                        "pk": handle_pk(ident.kind, ident.handle), "sk": CLAIM, "type": "handle",
                        "customer_id": target, "handle": ident.handle,
                    }))

    def move_interactions(
        self, source: str, target: str, items: Sequence[dict[str, Any]], *, origin: str | None = None
    ) -> None:
        """Re-key timeline items into ``target``'s partition and re-point their guards."""
        for chunk in chunks(list(items), TX_CHUNK):
            actions: list[dict[str, Any]] = []
            for item in chunk:
                moved = dict(item)
                moved["pk"] = customer_pk(target)
                moved["origin_customer_id"] = origin or item.get("origin_customer_id") or source
                actions.append({"Put": {"TableName": self.table, "Item": to_item(moved)}})
                actions.append({"Delete": {"TableName": self.table, "Key": key(customer_pk(source), item["sk"])}})
                actions.append({"Update": {
                    "TableName": self.table, "Key": key(guard_pk(item["id"]), GUARD),
                    "UpdateExpression": "SET customer_id = :t",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": {":t": {"S": target}},
                }})
            self.client.transact_write_items(TransactItems=actions)

    def overwrite_profile(self, customer_id: str, fields: dict[str, Any]) -> None:
        """SET the given profile fields (merge/unmerge recomputations); empty sets are removed."""
        sets, removes = ["updated_at = :now"], []
        names: dict[str, str] = {}
        values: dict[str, Any] = {":now": {"S": now_iso()}}
        for i, (name, value) in enumerate(sorted(fields.items())):
            names[f"#f{i}"] = name
            if value is None or (isinstance(value, set) and not value):
                removes.append(f"#f{i}")
            else:
                sets.append(f"#f{i} = :v{i}")
                values[f":v{i}"] = attribute_value(value)
        self.client.update_item(
            TableName=self.table, Key=key(customer_pk(customer_id), PROFILE),
            UpdateExpression="SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else ""),
            ExpressionAttributeNames=names, ExpressionAttributeValues=values,
        )

    def put_merge_record(self, customer_id: str, at: str, merge_id: str, record: dict[str, Any]) -> None:
        data = {"pk": customer_pk(customer_id), "sk": f"{MERGE_PREFIX}{at}#{merge_id}", "type": "merge",
                "merge_id": merge_id, "at": at, **record}
        self.client.put_item(TableName=self.table, Item=to_item(data))

    def merge_records(self, customer_id: str) -> list[dict[str, Any]]:
        """The merge / unmerge audit records of ``customer_id``, oldest first."""
        return self._query_all(customer_pk(customer_id), "begins_with(sk, :m)", {":m": {"S": MERGE_PREFIX}})

    def partition_suggestions(self, customer_id: str) -> list[Suggestion]:
        items = self._query_all(customer_pk(customer_id), "begins_with(sk, :s)", {":s": {"S": SUGGESTION_PREFIX}})
        return [Suggestion.model_validate(i) for i in items]


