"""Interactions stored on the timeline, deduplicated for good, and the profile context
(edits, deletions, reactions and receipts are in ``changes``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from boto3.dynamodb.types import Binary
from botocore.exceptions import ClientError

from socialcare.models.interaction import Direction, Interaction
from socialcare.models.profile import RecordResult
from socialcare.store.bodies import (
    INLINE_ITEM_BYTES,
    ITEM_LIMIT_BYTES,
    RESERVE_BYTES,
    ItemTooLarge,
    TextBodies,
    item_bytes,
    message_folder,
    store_text,
)
from socialcare.store.codec import (
    attribute_value,
    cancelled,
    condition_failed,
    dynamo,
    from_item,
    key,
    to_item,
)
from socialcare.store.profiles.changes import TimelineChanges, erase_folders
from socialcare.store.profiles.items import (
    ALIAS_HOPS,
    GUARD,
    PROFILE,
    CustomerMoved,
    Duplicate,
    compress_raw,
    customer_pk,
    guard_pk,
    iso,
    now_iso,
    retention_month,
    retention_shard,
    threaded_onto_ops,
    timeline_sk,
)


class TimelineWrites(TimelineChanges):
    clock: Callable[[], datetime]  # ProfilesRepository's: when a message is received

    def record_interaction(self, customer_id: str, interaction: Interaction, raw: Any, *, via: str,
                           bodies: TextBodies | None = None) -> RecordResult:
        """Store an interaction on the customer's timeline, deduplicated for good.

        One TransactWriteItems: the guard on the interaction id (attribute_not_exists), the
        timeline item and the profile counters. A redelivery - minutes or days later - fails
        the guard and gets the stored case id back (None when downstream never finished, so the
        caller resumes it). A customer merged away meanwhile is followed to its survivor.
        ``via`` is the identity the interaction came through (``x#123``): an unmerge moves the
        interactions of the identities it splits off. A text too large for the item is written
        whole to ``bodies`` first (``store.bodies``); the raw slice is dropped before the text.
        """
        entry = timeline_entry(customer_id, interaction, raw, via, bodies)
        current = customer_id
        for _ in range(ALIAS_HOPS):
            try:
                self._record(current, interaction, entry)
                return RecordResult(created=True, customer_id=current, timeline_sk=str(entry["sk"]))
            except Duplicate as dup:
                guard = dup.guard or self.guard(interaction.id) or {}
                deleted = bool(guard.get("deleted"))
                if deleted and bodies is not None:
                    erase_folders(entry, bodies)  # deleted by its author: keep nothing of what we wrote
                return RecordResult(
                    created=False,
                    case_id=guard.get("case_id"),
                    customer_id=guard.get("customer_id"),
                    deleted=deleted,
                )
            except CustomerMoved:
                profile = self.get_profile(current)
                if profile is None or profile.id == current:
                    raise
                current = profile.id
        raise CustomerMoved(f"customer {customer_id} could not be resolved")

    def _record(self, customer_id: str, interaction: Interaction, fitted: dict[str, Any]) -> None:
        sk = str(fitted["sk"])
        at = str(fitted["stored_at"])
        entry = {**fitted, "pk": customer_pk(customer_id), "origin_customer_id": customer_id}
        guard = {
            "pk": guard_pk(interaction.id), "sk": GUARD, "type": "guard", "customer_id": customer_id,
            "timeline_sk": sk, "stored_at": at,
        }
        inbound = interaction.direction is Direction.INBOUND
        # last_contact_at and retention_month (for the retention sweep's index: a GSI write only
        # when the month changes; items.RETENTION_INDEX) are when we received her message, not
        # when she wrote it: a late or replayed old message must not make a current customer look
        # gone for years - last_seen would, as it follows the messages' own times.
        profile_update = (
            "SET last_seen = :ts, last_channel = :ch, updated_at = :now, last_contact_at = :rc,"
            " retention_shard = :rs, retention_month = :rm"
            " ADD channel_counts.#ch :one, interaction_count :one"
            if inbound else "SET last_outbound_at = :ts, updated_at = :now"
        )
        values: dict[str, Any] = {":ts": {"S": iso(interaction.occurred_at)}, ":now": {"S": at}}
        names: dict[str, str] = {}
        if inbound:
            received = self.clock()
            values.update({":ch": {"S": interaction.channel.value}, ":one": {"N": "1"},
                           ":rc": {"S": iso(received)}, ":rs": {"S": retention_shard(customer_id)},
                           ":rm": {"S": retention_month(received)}})
            names["#ch"] = interaction.channel.value
        actions: list[dict[str, Any]] = [
            {"Put": {"TableName": self.table, "Item": to_item(guard),
                     "ConditionExpression": "attribute_not_exists(pk)",
                     "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
            {"Put": {"TableName": self.table, "Item": to_item(entry)}},
            {"Update": {"TableName": self.table, "Key": key(customer_pk(customer_id), PROFILE),
                        "UpdateExpression": profile_update,
                        "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(merged_into)",
                        "ExpressionAttributeValues": values,
                        **({"ExpressionAttributeNames": names} if names else {})}},
        ]
        try:
            self.client.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            if not cancelled(exc):
                raise
            reasons = exc.response.get("CancellationReasons", [])
            codes = [r.get("Code") for r in reasons]
            if codes and codes[0] == "ConditionalCheckFailed":
                old = reasons[0].get("Item")
                raise Duplicate(from_item(dict(old)) if old else None) from exc
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
                    {"Update": {"TableName": self.table, "Key": key(guard_pk(interaction_id), GUARD),
                                "UpdateExpression": "SET case_id = :c",
                                "ConditionExpression": "customer_id = :cust",
                                "ExpressionAttributeValues": {":c": {"S": case_id},
                                                              ":cust": {"S": guard["customer_id"]}}}},
                    {"Update": {"TableName": self.table,
                                "Key": key(customer_pk(guard["customer_id"]), guard["timeline_sk"]),
                                "UpdateExpression": "SET case_id = :c",
                                "ConditionExpression": "attribute_exists(pk)",
                                "ExpressionAttributeValues": {":c": {"S": case_id}}}},
                ])
                return True
            except ClientError as exc:
                # A merge moved the item between our read and write: read the guard again.
                if not cancelled(exc):
                    raise
        return False

    # -------------------------------------------------------------- context
    CONTEXT_FIELDS = frozenset({"open_case_id", "case_priority", "last_sentiment", "previous_cases", "tier", "name"})

    def context_update(self, customer_id: str, **fields: Any) -> dict[str, Any]:
        """The UpdateItem parameters that set (or, with None, clear) context fields the
        cases/triage flow owns; ``add_previous_case="SC-..."`` appends one case id without a read.
        Conditional on a profile that was not merged away."""
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
                values[f":v{i}"] = attribute_value(value)
        if add_case:
            sets.append("previous_cases = list_append(if_not_exists(previous_cases, :empty), :case)")
            values[":empty"] = {"L": []}
            values[":case"] = {"L": [{"S": str(add_case)}]}
        return {
            "TableName": self.table, "Key": key(customer_pk(customer_id), PROFILE),
            "UpdateExpression": "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else ""),
            "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(merged_into)",
            "ExpressionAttributeValues": values, **({"ExpressionAttributeNames": names} if names else {}),
        }

    def threaded_ops(self, customer_id: str, interaction_id: str, timeline_sk: str, case_id: str,
                     **context: Any) -> list[dict[str, Any]]:
        """Transaction items that note the case on the profile's context and mark a just-stored
        interaction threaded (guard and timeline item), for the case's own transaction to carry:
        one write instead of a context update, a guard read and a second transaction."""
        return [
            {"Update": self.context_update(customer_id, **context)},
            *threaded_onto_ops(self.table, customer_id, interaction_id, timeline_sk, case_id),
        ]

    def update_context(self, customer_id: str, **fields: Any) -> None:
        """Set (or, with None, clear) context fields (``context_update``); a customer merged
        away is followed to its survivor."""
        current = customer_id
        for _ in range(ALIAS_HOPS):
            try:
                self.client.update_item(**self.context_update(current, **fields))
                return
            except ClientError as exc:
                if not condition_failed(exc):
                    raise
                profile = self.get_profile(current)
                if profile is None or profile.id == current:
                    raise CustomerMoved(f"no customer {customer_id}") from exc
                current = profile.id
        raise CustomerMoved(f"customer {customer_id} could not be resolved")


def timeline_entry(customer_id: str, interaction: Interaction, raw: Any, via: str,
                   bodies: TextBodies | None) -> dict[str, Any]:
    """The timeline item, made to fit DynamoDB: a text that would make it larger than
    ``INLINE_ITEM_BYTES`` is written whole to ``bodies`` (before the item) and the item keeps a
    preview; the compressed raw slice is kept only if it fits beside the text, leaving
    ``RESERVE_BYTES`` for later writes."""
    entry = dynamo(interaction.model_dump(mode="json", exclude={"author", "identifiers"}))
    entry.update(
        pk=customer_pk(customer_id), sk=timeline_sk(interaction.occurred_at, interaction.id), type="interaction",
        occurred_at=iso(interaction.occurred_at),
        author_id=interaction.author.id, author_handle=interaction.author.handle,
        author_name=interaction.author.name, followers=interaction.author.followers,
        via=via, origin_customer_id=customer_id, stored_at=now_iso(),
        # where the media service keeps its attachments and we keep a long text: erased together
        media_folder=message_folder(customer_id, interaction.channel.value, interaction.platform_message_id),
    )
    if interaction.text and item_bytes(to_item(entry)) > INLINE_ITEM_BYTES:
        entry.update(store_text(bodies, entry["media_folder"], interaction.text))
    size = item_bytes(to_item(entry))
    room = ITEM_LIMIT_BYTES - RESERVE_BYTES
    if size > room:
        raise ItemTooLarge(f"interaction {interaction.id}: {size} bytes without its text, over {room}")
    packed = compress_raw(raw)
    if packed is not None and size + len("raw") + len(packed) <= room:
        entry["raw"] = Binary(packed)
    elif raw is not None:
        entry["raw_dropped"] = True
    return entry
