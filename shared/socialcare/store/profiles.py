"""ProfilesRepository: the ProfilesTable single-table design (ARCHITECTURE.md §3).

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

import base64
import binascii
import json
import random
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from socialcare import aws
from socialcare.errors import BadRequest
from socialcare.models.interaction import DeliveryStatus, Direction, Interaction
from socialcare.models.profile import (
    Claim,
    CustomerView,
    IdentityRecord,
    NewIdentity,
    Page,
    Profile,
    RecordResult,
    Suggestion,
    identity_key,
)
from socialcare.settings import get_settings

PROFILE = "PROFILE"
CLAIM = "CLAIM"
GUARD = "GUARD"
TIMELINE_PREFIX = "TS#"
IDENTITY_PREFIX = "ID#"
MERGE_PREFIX = "MERGE#"
SUGGESTION_PREFIX = "SUGGEST#"

# DynamoDB items stop at 400 KB; a raw slice larger than this (compressed) is dropped from the
# item rather than failing the store - the event itself is still in the queue's DLQ on failure.
_RAW_LIMIT = 300 * 1024
# TransactWriteItems takes 100 actions; merges move items in chunks well below it.
_TX_CHUNK = 24
# How far aliases are followed before giving up (a chain only forms through repeated merges).
_ALIAS_HOPS = 5
_BATCH_RETRIES = 6
# Delivery receipts arrive out of order; a later state never goes back to an earlier one.
_STATUS_RANK = {"sent": 1, "delivered": 2, "read": 3, "failed": 4}

_ser = TypeSerializer()
_de = TypeDeserializer()


# ---------------------------------------------------------------------------------- keys
def customer_pk(customer_id: str) -> str:
    return f"CUSTOMER#{customer_id}"


def claim_pk(kind: str, value: str) -> str:
    return f"ID#{identity_key(kind, value)}"


def guard_pk(interaction_id: str) -> str:
    return f"IX#{interaction_id}"


def handle_pk(channel: str, handle: str) -> str:
    return f"HANDLE#{channel}#{handle.lstrip('@').lower()}"


def iso(moment: datetime) -> str:
    """Fixed-width UTC timestamps, so sort keys order chronologically as strings."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_iso() -> str:
    return iso(datetime.now(UTC))


def timeline_sk(occurred_at: datetime, interaction_id: str) -> str:
    return f"{TIMELINE_PREFIX}{iso(occurred_at)}#{interaction_id}"


# ---------------------------------------------------------------------------------- models
class ClaimTaken(Exception):
    """Another writer claimed an identifier first: re-read and join the winner."""


class CustomerMoved(Exception):
    """The customer was merged away (or does not exist) while we were writing to it."""


# ---------------------------------------------------------------------------------- helpers
def _to_dynamo(value: Any) -> Any:
    """Plain JSON-ish data as DynamoDB accepts it (floats as Decimal, no empty sets)."""
    return json.loads(json.dumps(value, default=str), parse_float=Decimal)


def _item(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(v) for k, v in data.items() if v is not None}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return {_plain(v) for v in value}
    if isinstance(value, Binary):
        raw: Any = value  # the stubs omit Binary.value
        return raw.value
    return value


def _from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(_de.deserialize(v)) for k, v in item.items()}


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _reasons(exc: ClientError) -> list[str]:
    return [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]


def _is_cancelled(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "TransactionCanceledException"


def _is_condition_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def compress_raw(raw: Any) -> bytes | None:
    if raw is None:
        return None
    packed = zlib.compress(json.dumps(raw, default=str, separators=(",", ":")).encode(), 6)
    return packed if len(packed) <= _RAW_LIMIT else None


def decompress_raw(blob: bytes | None) -> Any:
    return None if blob is None else json.loads(zlib.decompress(blob))


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    # Only the sort key travels: the partition is fixed by the route, so a crafted cursor can
    # never page into another customer's items.
    if not last_key:
        return None
    sk = _de.deserialize(last_key["sk"])
    return base64.urlsafe_b64encode(json.dumps({"sk": sk}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, pk: str, prefix: str) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        sk = json.loads(base64.urlsafe_b64decode(padded))["sk"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise BadRequest("invalid cursor") from exc
    if not isinstance(sk, str) or not sk.startswith(prefix):
        raise BadRequest("invalid cursor")
    return _key(pk, sk)


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ---------------------------------------------------------------------------------- repository
class ProfilesRepository:
    def __init__(self, table: str, client: Any) -> None:
        self.table = table
        self.client = client

    @classmethod
    def default(cls) -> ProfilesRepository:
        return cls(get_settings().profiles_table, aws.dynamodb())

    # -------------------------------------------------------------- reads
    def _batch_get(self, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """BatchGetItem (strongly consistent: the loser of a claim race must see the winner)."""
        found: list[dict[str, Any]] = []
        for chunk in _chunks(keys, 100):
            request: dict[str, Any] = {self.table: {"Keys": list(chunk), "ConsistentRead": True}}
            for attempt in range(_BATCH_RETRIES):
                response = self.client.batch_get_item(RequestItems=request)
                found.extend(response.get("Responses", {}).get(self.table, []))
                # Unprocessed keys only appear under throttling: back off, then ask for just those.
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(min(1.0, 0.05 * 2**attempt) * random.random())  # jitter, not security
            else:
                raise RuntimeError("DynamoDB kept throttling the identity read")
        return [_from_item(i) for i in found]

    def get_claims(self, keys: Iterable[tuple[str, str]]) -> dict[str, Claim]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        items = self._batch_get([_key(claim_pk(k, v), CLAIM) for k, v in wanted])
        claims = [Claim.model_validate(i) for i in items]
        return {c.key: c for c in claims}

    def get_profiles(self, customer_ids: Iterable[str]) -> dict[str, Profile]:
        wanted = list(dict.fromkeys(customer_ids))
        if not wanted:
            return {}
        items = self._batch_get([_key(customer_pk(c), PROFILE) for c in wanted])
        return {p.id: p for p in (Profile.model_validate(i) for i in items)}

    def get_profile(self, customer_id: str, *, follow: bool = True) -> Profile | None:
        """The profile, following merge aliases to the survivor when ``follow``."""
        current = customer_id
        for _ in range(_ALIAS_HOPS):
            response = self.client.get_item(
                TableName=self.table, Key=_key(customer_pk(current), PROFILE), ConsistentRead=True
            )
            if "Item" not in response:
                return None
            profile = Profile.model_validate(_from_item(response["Item"]))
            if not follow or profile.merged_into is None:
                return profile
            current = profile.merged_into
        return None

    def get_claim(self, kind: str, value: str) -> Claim | None:
        response = self.client.get_item(TableName=self.table, Key=_key(claim_pk(kind, value), CLAIM))
        return Claim.model_validate(_from_item(response["Item"])) if "Item" in response else None

    def get_handle(self, channel: str, handle: str) -> str | None:
        response = self.client.get_item(TableName=self.table, Key=_key(handle_pk(channel, handle), CLAIM))
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
            items.extend(_from_item(i) for i in response.get("Items", []))
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
                (_public(i) for i in items if i["sk"].startswith(MERGE_PREFIX)),
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
        start = decode_cursor(cursor, pk, prefix)
        if start:
            kwargs["ExclusiveStartKey"] = start
        response = self.client.query(**kwargs)
        items = [_from_item(i) for i in response.get("Items", [])]
        return Page(items=items, cursor=encode_cursor(response.get("LastEvaluatedKey")))

    def timeline_items(self, customer_id: str) -> list[dict[str, Any]]:
        """Every timeline item, oldest first (merges and unmerges, not request paths)."""
        return self._query_all(customer_pk(customer_id), "begins_with(sk, :ts)", {":ts": {"S": TIMELINE_PREFIX}})

    def suggestions(self, customer_id: str, *, limit: int = 50, cursor: str | None = None) -> Page:
        return self._page(customer_id, SUGGESTION_PREFIX, limit=limit, cursor=cursor, newest_first=False)

    def guard(self, interaction_id: str) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.table, Key=_key(guard_pk(interaction_id), GUARD), ConsistentRead=True
        )
        return _from_item(response["Item"]) if "Item" in response else None

    def interaction(self, interaction_id: str) -> dict[str, Any] | None:
        """The stored timeline item of an interaction (with ``raw`` decompressed), or None."""
        guard = self.guard(interaction_id)
        if guard is None or "customer_id" not in guard:
            return None
        response = self.client.get_item(
            TableName=self.table, Key=_key(customer_pk(guard["customer_id"]), guard["timeline_sk"])
        )
        if "Item" not in response:
            return None
        item = _from_item(response["Item"])
        item["raw"] = decompress_raw(item.get("raw"))
        return item

    # -------------------------------------------------------------- identity writes
    def _identity_actions(self, customer_id: str, identities: Sequence[NewIdentity], at: str) -> list[dict[str, Any]]:
        actions: list[dict[str, Any]] = []
        for ident in identities:
            actions.append({
                "Put": {
                    "TableName": self.table,
                    "Item": _item({
                        "pk": claim_pk(ident.kind, ident.value), "sk": CLAIM, "type": "claim",
                        "kind": ident.kind, "value": ident.value, "customer_id": customer_id,
                        "verified": ident.verified, "claimed_at": at,
                    }),
                    **(
                        {"ConditionExpression": "customer_id = :orphan",
                         "ExpressionAttributeValues": {":orphan": {"S": ident.replaces}}}
                        if ident.replaces else {"ConditionExpression": "attribute_not_exists(pk)"}
                    ),
                }
            })
            actions.append({
                "Put": {
                    "TableName": self.table,
                    "Item": _item({
                        "pk": customer_pk(customer_id), "sk": f"{IDENTITY_PREFIX}{ident.key}",
                        "type": "identity", "kind": ident.kind, "value": ident.value,
                        "verified": ident.verified, "source": ident.source, "added_at": at,
                        "origin_customer_id": customer_id, "handle": ident.handle,
                    }),
                }
            })
        return actions

    def _transact(self, actions: list[dict[str, Any]]) -> None:
        try:
            self.client.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            if not _is_cancelled(exc):
                raise
            reasons = _reasons(exc)
            profile_failed = any(
                code == "ConditionalCheckFailed" and _sk_of(action) == PROFILE
                for code, action in zip(reasons, actions, strict=False)
            )
            if profile_failed:
                raise CustomerMoved("customer changed (merged) during the write") from exc
            # A claim taken by someone else, or a conflicting concurrent transaction: either way
            # the caller re-reads and resolves again.
            raise ClaimTaken(",".join(reasons)) from exc

    def create_customer(
        self, profile: Profile, identities: Sequence[NewIdentity], handles: dict[str, str] | None = None
    ) -> None:
        """Create a customer and claim its identifiers atomically; ClaimTaken if any is taken."""
        at = now_iso()
        data = profile.model_dump(exclude_none=True)
        data.update(pk=customer_pk(profile.id), sk=PROFILE, type="customer", created_at=at)
        for empty_set in ("verified_phones", "verified_emails", "suggested_with"):
            if not data.get(empty_set):
                data.pop(empty_set, None)
        actions = [{
            "Put": {
                "TableName": self.table,
                "Item": _item(_to_dynamo_keep_sets(data)),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }]
        actions += self._identity_actions(profile.id, identities, at)
        actions += self._handle_actions(profile.id, handles or {})
        self._transact(actions)

    def _handle_actions(self, customer_id: str, handles: dict[str, str]) -> list[dict[str, Any]]:
        return [
            {"Put": {"TableName": self.table, "Item": _item({
                "pk": handle_pk(channel, handle), "sk": CLAIM, "type": "handle", "customer_id": customer_id,
                "handle": handle,
            })}}
            for channel, handle in handles.items()
        ]

    def attach(
        self,
        customer_id: str,
        identities: Sequence[NewIdentity],
        *,
        upgrades: Sequence[NewIdentity] = (),
        known_names: list[str] | None = None,
        name: str | None = None,
        handles: dict[str, str] | None = None,
    ) -> None:
        """Give an existing customer new identities (and verify claimed ones), atomically.

        ``name`` only fills a missing display name (a caller known by number who later writes).
        """
        at = now_iso()
        actions = self._identity_actions(customer_id, identities, at)
        for ident in upgrades:
            actions.append({"Update": {
                "TableName": self.table, "Key": _key(claim_pk(ident.kind, ident.value), CLAIM),
                "UpdateExpression": "SET verified = :t",
                "ConditionExpression": "customer_id = :c",
                "ExpressionAttributeValues": {":t": {"BOOL": True}, ":c": {"S": customer_id}},
            }})
            actions.append({"Update": {
                "TableName": self.table, "Key": _key(customer_pk(customer_id), f"{IDENTITY_PREFIX}{ident.key}"),
                "UpdateExpression": "SET verified = :t",
                "ExpressionAttributeValues": {":t": {"BOOL": True}},
            }})
        actions += self._handle_actions(customer_id, handles or {})
        sets: list[str] = ["updated_at = :now"]
        adds: list[str] = []
        values: dict[str, Any] = {":now": {"S": at}}
        verified = [*identities, *upgrades]
        phones = {i.value for i in verified if i.verified and i.kind == "phone"}
        emails = {i.value for i in verified if i.verified and i.kind == "email"}
        if phones:
            adds.append("verified_phones :ph")
            values[":ph"] = {"SS": sorted(phones)}
        if emails:
            adds.append("verified_emails :em")
            values[":em"] = {"SS": sorted(emails)}
        if known_names is not None:
            sets.append("known_names = :names")
            values[":names"] = _ser.serialize(known_names)
        if name:
            sets.append("#name = if_not_exists(#name, :name)")
            values[":name"] = {"S": name}
        if handles:
            sets.append("handles = :handles")
            values[":handles"] = _ser.serialize(handles)
        expression = "SET " + ", ".join(sets) + (" ADD " + ", ".join(adds) if adds else "")
        actions.append({"Update": {
            "TableName": self.table, "Key": _key(customer_pk(customer_id), PROFILE),
            "UpdateExpression": expression,
            "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(merged_into)",
            "ExpressionAttributeValues": values,
            **({"ExpressionAttributeNames": {"#name": "name"}} if name else {}),
        }})
        self._transact(actions)

    def put_suggestion(
        self, a: str, b: str, reason: str, evidence: list[dict[str, str]], interaction_id: str | None
    ) -> None:
        """A match suggestion for an agent, stored on both customers (idempotent per pair).

        Both profiles remember the pair in ``suggested_with``, so later events carrying the same
        evidence cost no write, and a dismissed pair is not suggested again.
        """
        at = now_iso()
        actions: list[dict[str, Any]] = []
        for mine, other in ((a, b), (b, a)):
            actions.append({"Put": {"TableName": self.table, "Item": _item({
                "pk": customer_pk(mine), "sk": f"{SUGGESTION_PREFIX}{other}", "type": "suggestion",
                "customer_id": mine, "other_customer_id": other, "reason": reason,
                "evidence": evidence, "interaction_id": interaction_id, "created_at": at,
            })}})
            actions.append({"Update": {
                "TableName": self.table, "Key": _key(customer_pk(mine), PROFILE),
                "UpdateExpression": "ADD suggested_with :o",
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": {":o": {"SS": [other]}},
            }})
        try:
            self.client.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            # One side vanished (merged and re-keyed meanwhile): the suggestion is moot.
            if not _is_cancelled(exc):
                raise

    def get_suggestion(self, customer_id: str, other: str) -> Suggestion | None:
        response = self.client.get_item(
            TableName=self.table, Key=_key(customer_pk(customer_id), f"{SUGGESTION_PREFIX}{other}")
        )
        return Suggestion.model_validate(_from_item(response["Item"])) if "Item" in response else None

    def delete_suggestion(self, a: str, b: str) -> None:
        for mine, other in ((a, b), (b, a)):
            self.client.delete_item(TableName=self.table, Key=_key(customer_pk(mine), f"{SUGGESTION_PREFIX}{other}"))

    # -------------------------------------------------------------- interactions
    def record_interaction(self, customer_id: str, interaction: Interaction, raw: Any) -> RecordResult:
        """Store an interaction on the customer's timeline, deduplicated for good.

        One TransactWriteItems: the guard on the interaction id (attribute_not_exists), the
        timeline item and the profile counters. A redelivery - minutes or days later - fails
        the guard and gets the stored case id back (None when downstream never finished, so the
        caller resumes it). A customer merged away meanwhile is followed to its survivor.
        """
        current = customer_id
        for _ in range(_ALIAS_HOPS):
            try:
                self._record(current, interaction, raw)
                return RecordResult(created=True, customer_id=current)
            except _Duplicate as dup:
                guard = dup.guard or self.guard(interaction.id) or {}
                return RecordResult(
                    created=False,
                    case_id=guard.get("case_id"),
                    customer_id=guard.get("customer_id"),
                    deleted=bool(guard.get("deleted")),
                )
            except CustomerMoved:
                profile = self.get_profile(current)
                if profile is None or profile.id == current:
                    raise
                current = profile.id
        raise CustomerMoved(f"customer {customer_id} could not be resolved")

    def _record(self, customer_id: str, interaction: Interaction, raw: Any) -> None:
        at = now_iso()
        sk = timeline_sk(interaction.occurred_at, interaction.id)
        entry = _to_dynamo(interaction.model_dump(mode="json", exclude={"author", "identifiers"}))
        entry.update(
            pk=customer_pk(customer_id), sk=sk, type="interaction", occurred_at=iso(interaction.occurred_at),
            author_id=interaction.author.id, author_handle=interaction.author.handle,
            author_name=interaction.author.name, followers=interaction.author.followers,
            via=platform_identity_key(interaction), origin_customer_id=customer_id, stored_at=at,
        )
        packed = compress_raw(raw)
        if packed is not None:
            entry["raw"] = Binary(packed)
        elif raw is not None:
            entry["raw_dropped"] = True
        guard = {
            "pk": guard_pk(interaction.id), "sk": GUARD, "type": "guard", "customer_id": customer_id,
            "timeline_sk": sk, "stored_at": at,
        }
        inbound = interaction.direction is Direction.INBOUND
        profile_update = (
            "SET last_seen = :ts, last_channel = :ch, updated_at = :now"
            " ADD channel_counts.#ch :one, interaction_count :one"
            if inbound else "SET last_outbound_at = :ts, updated_at = :now"
        )
        values: dict[str, Any] = {":ts": {"S": iso(interaction.occurred_at)}, ":now": {"S": at}}
        names: dict[str, str] = {}
        if inbound:
            values.update({":ch": {"S": interaction.channel.value}, ":one": {"N": "1"}})
            names["#ch"] = interaction.channel.value
        actions: list[dict[str, Any]] = [
            {"Put": {"TableName": self.table, "Item": _item(guard),
                     "ConditionExpression": "attribute_not_exists(pk)",
                     "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
            {"Put": {"TableName": self.table, "Item": _item(entry)}},
            {"Update": {"TableName": self.table, "Key": _key(customer_pk(customer_id), PROFILE),
                        "UpdateExpression": profile_update,
                        "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(merged_into)",
                        "ExpressionAttributeValues": values,
                        **({"ExpressionAttributeNames": names} if names else {})}},
        ]
        try:
            self.client.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            if not _is_cancelled(exc):
                raise
            reasons = exc.response.get("CancellationReasons", [])
            codes = [r.get("Code") for r in reasons]
            if codes and codes[0] == "ConditionalCheckFailed":
                old = reasons[0].get("Item")
                raise _Duplicate(_from_item(dict(old)) if old else None) from exc
            if len(codes) > 2 and codes[2] == "ConditionalCheckFailed":
                raise CustomerMoved(customer_id) from exc
            raise

    def set_interaction_case(self, interaction_id: str, case_id: str) -> bool:
        """Thread a stored interaction into a case (guard and timeline item); False if unknown."""
        for _ in range(3):
            guard = self.guard(interaction_id)
            if guard is None or "customer_id" not in guard:
                return False
            try:
                self.client.transact_write_items(TransactItems=[
                    {"Update": {"TableName": self.table, "Key": _key(guard_pk(interaction_id), GUARD),
                                "UpdateExpression": "SET case_id = :c",
                                "ConditionExpression": "customer_id = :cust",
                                "ExpressionAttributeValues": {":c": {"S": case_id},
                                                              ":cust": {"S": guard["customer_id"]}}}},
                    {"Update": {"TableName": self.table,
                                "Key": _key(customer_pk(guard["customer_id"]), guard["timeline_sk"]),
                                "UpdateExpression": "SET case_id = :c",
                                "ConditionExpression": "attribute_exists(pk)",
                                "ExpressionAttributeValues": {":c": {"S": case_id}}}},
                ])
                return True
            except ClientError as exc:
                # A merge moved the item between our read and write: read the guard again.
                if not _is_cancelled(exc):
                    raise
        return False

    def mark_deleted(self, interaction_id: str) -> bool:
        """The author deleted the message: keep the record, drop its text and raw (X terms).

        Returns False when we never stored it; a tombstone guard is left so that a late-arriving
        original is never stored afterwards.
        """
        at = now_iso()
        try:
            self.client.put_item(
                TableName=self.table,
                Item=_item({"pk": guard_pk(interaction_id), "sk": GUARD, "type": "guard", "deleted": True,
                            "deleted_at": at}),
                ConditionExpression="attribute_not_exists(pk)",
            )
            return False
        except ClientError as exc:
            if not _is_condition_failure(exc):
                raise
        guard = self.guard(interaction_id)
        if guard is None or "customer_id" not in guard:
            return False
        self.client.update_item(
            TableName=self.table, Key=_key(guard_pk(interaction_id), GUARD),
            UpdateExpression="SET deleted = :t, deleted_at = :now",
            ExpressionAttributeValues={":t": {"BOOL": True}, ":now": {"S": at}},
        )
        try:
            self.client.update_item(
                TableName=self.table, Key=_key(customer_pk(guard["customer_id"]), guard["timeline_sk"]),
                UpdateExpression="SET deleted = :t, deleted_at = :now REMOVE #text, #raw, attachments",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#text": "text", "#raw": "raw"},
                ExpressionAttributeValues={":t": {"BOOL": True}, ":now": {"S": at}},
            )
        except ClientError as exc:
            if not _is_condition_failure(exc):
                raise
            return False
        return True

    def apply_edit(self, interaction: Interaction, raw: Any) -> bool:
        """Replace the text of a message we hold; False when we never stored it.

        An edit of a deleted message is swallowed (True): the text must not come back.
        """
        guard = self.guard(interaction.id)
        if guard is None:
            return False
        if guard.get("deleted"):
            return True
        if "customer_id" not in guard:
            return False
        values: dict[str, Any] = {":now": {"S": now_iso()}, ":one": {"N": "1"}, ":t": {"BOOL": True}}
        sets = ["edited_at = :now"]
        removes: list[str] = []
        if interaction.text is None:
            removes.append("#text")
        else:
            sets.append("#text = :text")
            values[":text"] = {"S": interaction.text}
        packed = compress_raw(raw)
        if packed is not None:
            sets.append("#raw = :raw")
            values[":raw"] = {"B": packed}
        expression = "SET " + ", ".join(sets) + " ADD edits :one" + (" REMOVE " + ", ".join(removes) if removes else "")
        try:
            self.client.update_item(
                TableName=self.table, Key=_key(customer_pk(guard["customer_id"]), guard["timeline_sk"]),
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(deleted) OR deleted <> :t)",
                ExpressionAttributeNames={"#text": "text", **({"#raw": "raw"} if packed is not None else {})},
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if not _is_condition_failure(exc):
                raise
        return True

    def record_status(self, status: DeliveryStatus) -> None:
        """Record a delivery receipt against our outbound message, and show it on the timeline.

        Receipts are kept per status (idempotent on redelivery); the timeline item only moves
        forward (sent -> delivered -> read, or failed), whatever order they arrive in.
        """
        interaction_id = Interaction.make_id(status.channel, status.platform_message_id)
        self.client.put_item(TableName=self.table, Item=_item({
            "pk": guard_pk(interaction_id), "sk": f"STATUS#{status.status}", "type": "status",
            "status": status.status, "recipient_id": status.recipient_id,
            "occurred_at": iso(status.occurred_at), "errors": _to_dynamo(status.errors) or None,
        }))
        guard = self.guard(interaction_id)
        if guard is None or "customer_id" not in guard:
            return  # the reply is stored by the replies flow; its receipts wait under its id
        rank = _STATUS_RANK.get(status.status, 0)
        try:
            self.client.update_item(
                TableName=self.table, Key=_key(customer_pk(guard["customer_id"]), guard["timeline_sk"]),
                UpdateExpression="SET delivery_status = :s, delivery_rank = :r, delivery_at = :at",
                ConditionExpression=(
                    "attribute_exists(pk) AND (attribute_not_exists(delivery_rank) OR delivery_rank < :r)"
                ),
                ExpressionAttributeValues={":s": {"S": status.status}, ":r": {"N": str(rank)},
                                           ":at": {"S": iso(status.occurred_at)}},
            )
        except ClientError as exc:
            if not _is_condition_failure(exc):
                raise

    def statuses(self, interaction_id: str) -> list[dict[str, Any]]:
        return self._query_all(guard_pk(interaction_id), "begins_with(sk, :s)", {":s": {"S": "STATUS#"}})

    # -------------------------------------------------------------- context
    CONTEXT_FIELDS = frozenset({"open_case_id", "case_priority", "last_sentiment", "previous_cases", "tier", "name"})

    def update_context(self, customer_id: str, **fields: Any) -> None:
        """Set (or, with None, clear) context fields the cases/triage flow owns.

        ``add_previous_case="SC-..."`` appends one case id without a read. A customer merged
        away is followed to its survivor.
        """
        add_case = fields.pop("add_previous_case", None)
        unknown = set(fields) - self.CONTEXT_FIELDS
        if unknown:
            raise ValueError(f"not context fields: {sorted(unknown)}")
        sets, removes = ["updated_at = :now"], []
        names: dict[str, str] = {}
        values: dict[str, Any] = {":now": {"S": now_iso()}}
        for i, (name, value) in enumerate(sorted(fields.items())):
            names[f"#f{i}"] = name
            if value is None:
                removes.append(f"#f{i}")
            else:
                sets.append(f"#f{i} = :v{i}")
                values[f":v{i}"] = _ser.serialize(_to_dynamo(value))
        if add_case:
            sets.append("previous_cases = list_append(if_not_exists(previous_cases, :empty), :case)")
            values[":empty"] = {"L": []}
            values[":case"] = {"L": [{"S": str(add_case)}]}
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        current = customer_id
        for _ in range(_ALIAS_HOPS):
            try:
                self.client.update_item(
                    TableName=self.table, Key=_key(customer_pk(current), PROFILE),
                    UpdateExpression=expression,
                    ConditionExpression="attribute_exists(pk) AND attribute_not_exists(merged_into)",
                    ExpressionAttributeValues=values,
                    **({"ExpressionAttributeNames": names} if names else {}),
                )
                return
            except ClientError as exc:
                if not _is_condition_failure(exc):
                    raise
                profile = self.get_profile(current)
                if profile is None or profile.id == current:
                    raise CustomerMoved(f"no customer {customer_id}") from exc
                current = profile.id
        raise CustomerMoved(f"customer {customer_id} could not be resolved")

    # -------------------------------------------------------------- merge primitives
    def mark_merged(self, source: str, target: str, at: str) -> None:
        """Turn ``source`` into an alias of ``target``; from now on writes to it are redirected."""
        try:
            self.client.update_item(
                TableName=self.table, Key=_key(customer_pk(source), PROFILE),
                UpdateExpression="SET merged_into = :t, merged_at = :at",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(merged_into)",
                ExpressionAttributeValues={":t": {"S": target}, ":at": {"S": at}},
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                raise CustomerMoved(source) from exc
            raise

    def reactivate(self, customer_id: str) -> None:
        """Undo an alias (unmerge back to the original customer) before its claims return."""
        self.client.update_item(
            TableName=self.table, Key=_key(customer_pk(customer_id), PROFILE),
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
            TableName=self.table, Key=_key(customer_pk(target), PROFILE),
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
        for chunk in _chunks(list(identities), _TX_CHUNK):
            actions: list[dict[str, Any]] = []
            for ident in chunk:
                sk = f"{IDENTITY_PREFIX}{ident.key}"
                actions.append({"Update": {
                    "TableName": self.table, "Key": _key(claim_pk(ident.kind, ident.value), CLAIM),
                    "UpdateExpression": "SET customer_id = :t",
                    "ConditionExpression": "customer_id IN (:s, :t)",
                    "ExpressionAttributeValues": {":s": {"S": source}, ":t": {"S": target}},
                }})
                actions.append({"Delete": {"TableName": self.table, "Key": _key(customer_pk(source), sk)}})
                data = ident.model_dump(exclude_none=True)
                data.update(pk=customer_pk(target), sk=sk, type="identity")
                data["origin_customer_id"] = origin or ident.origin_customer_id or source
                actions.append({"Put": {"TableName": self.table, "Item": _item(data)}})
            self.client.transact_write_items(TransactItems=actions)
            for ident in chunk:
                if ident.handle:
                    self.client.put_item(TableName=self.table, Item=_item({
                        "pk": handle_pk(ident.kind, ident.handle), "sk": CLAIM, "type": "handle",
                        "customer_id": target, "handle": ident.handle,
                    }))

    def move_interactions(
        self, source: str, target: str, items: Sequence[dict[str, Any]], *, origin: str | None = None
    ) -> None:
        """Re-key timeline items into ``target``'s partition and re-point their guards."""
        for chunk in _chunks(list(items), _TX_CHUNK):
            actions: list[dict[str, Any]] = []
            for item in chunk:
                moved = dict(item)
                moved["pk"] = customer_pk(target)
                moved["origin_customer_id"] = origin or item.get("origin_customer_id") or source
                if isinstance(moved.get("raw"), bytes | bytearray):
                    moved["raw"] = Binary(moved["raw"])
                actions.append({"Put": {"TableName": self.table, "Item": _item(_to_dynamo_keep_sets(moved))}})
                actions.append({"Delete": {"TableName": self.table, "Key": _key(customer_pk(source), item["sk"])}})
                actions.append({"Update": {
                    "TableName": self.table, "Key": _key(guard_pk(item["id"]), GUARD),
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
                values[f":v{i}"] = _ser.serialize(_to_dynamo_keep_sets(value))
        self.client.update_item(
            TableName=self.table, Key=_key(customer_pk(customer_id), PROFILE),
            UpdateExpression="SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else ""),
            ExpressionAttributeNames=names, ExpressionAttributeValues=values,
        )

    def put_merge_record(self, customer_id: str, at: str, merge_id: str, record: dict[str, Any]) -> None:
        data = {"pk": customer_pk(customer_id), "sk": f"{MERGE_PREFIX}{at}#{merge_id}", "type": "merge",
                "merge_id": merge_id, "at": at, **record}
        self.client.put_item(TableName=self.table, Item=_item(_to_dynamo(data)))

    def partition_suggestions(self, customer_id: str) -> list[Suggestion]:
        items = self._query_all(customer_pk(customer_id), "begins_with(sk, :s)", {":s": {"S": SUGGESTION_PREFIX}})
        return [Suggestion.model_validate(i) for i in items]


class _Duplicate(Exception):
    def __init__(self, guard: dict[str, Any] | None) -> None:
        super().__init__("duplicate interaction")
        self.guard = guard


def _sk_of(action: dict[str, Any]) -> str | None:
    body = next(iter(action.values()))
    key = body.get("Key") or body.get("Item") or {}
    sk = key.get("sk", {})
    return sk.get("S") if isinstance(sk, dict) else None


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in ("pk", "sk", "type")}


def _to_dynamo_keep_sets(value: Any) -> Any:
    """Like _to_dynamo, but Python sets stay sets (string sets in DynamoDB), bytes stay binary."""
    if isinstance(value, set):
        return {str(v) for v in value}
    if isinstance(value, Binary | bytes | bytearray):
        return value if isinstance(value, Binary) else Binary(bytes(value))
    if isinstance(value, dict):
        return {k: _to_dynamo_keep_sets(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo_keep_sets(v) for v in value]
    if isinstance(value, float):
        return Decimal(str(value))
    return value


def platform_identity_key(interaction: Interaction) -> str:
    """The identity an interaction arrived through (``x#123``, ``phone#+39...``): unmerge moves
    the interactions of the identities it splits off."""
    from socialcare.identity import platform_identity  # lazy: identity imports this module

    ident = platform_identity(interaction)
    return ident.key if ident is not None else f"{interaction.channel.value}#{interaction.author.id}"
