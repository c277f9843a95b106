"""Reads of ProfilesTable: claims, profiles, the 360, timelines, guards."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from socialcare.models.profile import Claim, CustomerView, IdentityRecord, Page, Profile, Suggestion
from socialcare.store import cursor as cursor_codec
from socialcare.store.batch import batch_get
from socialcare.store.codec import from_item, key
from socialcare.store.profiles.items import (
    ALIAS_HOPS,
    CLAIM,
    GUARD,
    IDENTITY_PREFIX,
    MERGE_PREFIX,
    PROFILE,
    SUGGESTION_PREFIX,
    TIMELINE_PREFIX,
    TOMBSTONE_SK,
    Tombstoned,
    claim_pk,
    customer_pk,
    decompress_raw,
    guard_pk,
    handle_pk,
    public_fields,
    tombstone_pk,
)


class ProfileReads:
    table: str
    client: Any

    def _batch_get(self, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Strongly consistent: the loser of a claim race must see the winner."""
        return [from_item(i) for i in batch_get(self.client, self.table, keys, ConsistentRead=True)]

    def get_claims(self, keys: Iterable[tuple[str, str]], *, tombstones: Iterable[str] = ()) -> dict[str, Claim]:
        """The claims of ``keys``. ``tombstones``: salted hashes read in the same BatchGetItem
        (no extra request); ``Tombstoned`` when any exists - the event is about erased data."""
        wanted = list(dict.fromkeys(keys))
        marks = [key(tombstone_pk(d), TOMBSTONE_SK) for d in dict.fromkeys(tombstones)]
        if not wanted and not marks:
            return {}
        items = self._batch_get([key(claim_pk(k, v), CLAIM) for k, v in wanted] + marks)
        if any(i.get("sk") == TOMBSTONE_SK for i in items):
            raise Tombstoned("erased")
        claims = [Claim.model_validate(i) for i in items]
        return {c.key: c for c in claims}

    def get_profiles(self, customer_ids: Iterable[str]) -> dict[str, Profile]:
        wanted = list(dict.fromkeys(customer_ids))
        if not wanted:
            return {}
        items = self._batch_get([key(customer_pk(c), PROFILE) for c in wanted])
        return {p.id: p for p in (Profile.model_validate(i) for i in items)}

    def get_profile(self, customer_id: str, *, follow: bool = True) -> Profile | None:
        """The profile, following merge aliases to the survivor when ``follow``."""
        current = customer_id
        for _ in range(ALIAS_HOPS):
            response = self.client.get_item(
                TableName=self.table, Key=key(customer_pk(current), PROFILE), ConsistentRead=True
            )
            if "Item" not in response:
                return None
            profile = Profile.model_validate(from_item(response["Item"]))
            if not follow or profile.merged_into is None:
                return profile
            current = profile.merged_into
        return None

    def get_claim(self, kind: str, value: str) -> Claim | None:
        response = self.client.get_item(TableName=self.table, Key=key(claim_pk(kind, value), CLAIM))
        return Claim.model_validate(from_item(response["Item"])) if "Item" in response else None

    def get_handle(self, channel: str, handle: str) -> str | None:
        response = self.client.get_item(TableName=self.table, Key=key(handle_pk(channel, handle), CLAIM))
        return str(response["Item"]["customer_id"]["S"]) if "Item" in response else None

    def _query_all(self, pk: str, condition: str, values: dict[str, Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": f"pk = :pk AND {condition}",
            "ExpressionAttributeValues": {":pk": {"S": pk}, **values},
            "ConsistentRead": True,
        }
        while True:
            response = self.client.query(**kwargs)
            items.extend(from_item(i) for i in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def customer_view(self, customer_id: str, *, follow: bool = True) -> CustomerView | None:
        """Profile, identities, merge records and suggestions of one customer: one Query.

        A merged customer's view is its survivor's (one more Query), unless ``follow`` is False.
        """
        items = self._query_all(customer_pk(customer_id), "sk < :ts", {":ts": {"S": TIMELINE_PREFIX}})
        profile = next((i for i in items if i["sk"] == PROFILE), None)
        if profile is None:
            return None
        if follow and profile.get("merged_into"):
            survivor = self.get_profile(customer_id)
            return self.customer_view(survivor.id, follow=False) if survivor is not None else None
        return CustomerView(
            profile=Profile.model_validate(profile),
            identities=[IdentityRecord.model_validate(i) for i in items if i["sk"].startswith(IDENTITY_PREFIX)],
            merges=sorted(
                (public_fields(i) for i in items if i["sk"].startswith(MERGE_PREFIX)),
                key=lambda m: str(m.get("at", "")),
                reverse=True,
            ),
            suggestions=[Suggestion.model_validate(i) for i in items if i["sk"].startswith(SUGGESTION_PREFIX)],
        )

    def identities(self, customer_id: str) -> list[IdentityRecord]:
        items = self._query_all(
            customer_pk(customer_id), "begins_with(sk, :p)", {":p": {"S": IDENTITY_PREFIX}}
        )
        return [IdentityRecord.model_validate(i) for i in items]

    def timeline(self, customer_id: str, *, limit: int = 50, cursor: str | None = None) -> Page:
        """The cross-channel timeline, newest first, one page per call."""
        return self._page(customer_id, TIMELINE_PREFIX, limit=limit, cursor=cursor, newest_first=True)

    def _page(self, customer_id: str, prefix: str, *, limit: int, cursor: str | None, newest_first: bool) -> Page:
        """One page of a customer's items under ``prefix``; the cursor is bound to both."""
        pk = customer_pk(customer_id)
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":prefix": {"S": prefix}},
            "ScanIndexForward": not newest_first,
            "Limit": limit,
        }
        start = cursor_codec.decode(cursor, bound={"pk": pk}, prefixes={"sk": prefix})
        if start:
            kwargs["ExclusiveStartKey"] = start
        response = self.client.query(**kwargs)
        items = [from_item(i) for i in response.get("Items", [])]
        return Page(items=items, cursor=cursor_codec.encode(response.get("LastEvaluatedKey")))

    def timeline_items(self, customer_id: str) -> list[dict[str, Any]]:
        """Every timeline item, oldest first (merges and unmerges, not request paths)."""
        return self._query_all(customer_pk(customer_id), "begins_with(sk, :ts)", {":ts": {"S": TIMELINE_PREFIX}})

    def suggestions(self, customer_id: str, *, limit: int = 50, cursor: str | None = None) -> Page:
        return self._page(customer_id, SUGGESTION_PREFIX, limit=limit, cursor=cursor, newest_first=False)

    def guard(self, interaction_id: str) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.table, Key=key(guard_pk(interaction_id), GUARD), ConsistentRead=True
        )
        return from_item(response["Item"]) if "Item" in response else None

    def interaction(self, interaction_id: str) -> dict[str, Any] | None:
        """The stored timeline item of an interaction (with ``raw`` decompressed), or None."""
        guard = self.guard(interaction_id)
        if guard is None or "customer_id" not in guard:
            return None
        response = self.client.get_item(
            TableName=self.table, Key=key(customer_pk(guard["customer_id"]), guard["timeline_sk"])
        )
        if "Item" not in response:
            return None
        item = from_item(response["Item"])
        item["raw"] = decompress_raw(item.get("raw"))
        return item

