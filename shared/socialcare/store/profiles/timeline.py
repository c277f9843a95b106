"""Interactions on the timeline (stored once, edited, deleted, receipts) and the profile context."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import Binary
from botocore.exceptions import ClientError

from socialcare.models.interaction import DeliveryStatus, Direction, Interaction
from socialcare.models.profile import RecordResult
from socialcare.store.codec import (
    attribute_value,
    cancelled,
    condition_failed,
    conditionally,
    dynamo,
    from_item,
    key,
    to_item,
)
from socialcare.store.profiles.items import (
    ALIAS_HOPS,
    GUARD,
    PROFILE,
    STATUS_RANK,
    CustomerMoved,
    Duplicate,
    compress_raw,
    customer_pk,
    guard_pk,
    iso,
    now_iso,
    timeline_sk,
)
from socialcare.store.profiles.reads import ProfileReads


class TimelineWrites(ProfileReads):

    def record_interaction(self, customer_id: str, interaction: Interaction, raw: Any, *, via: str) -> RecordResult:
        """Store an interaction on the customer's timeline, deduplicated for good.

        One TransactWriteItems: the guard on the interaction id (attribute_not_exists), the
        timeline item and the profile counters. A redelivery - minutes or days later - fails
        the guard and gets the stored case id back (None when downstream never finished, so the
        caller resumes it). A customer merged away meanwhile is followed to its survivor.
        ``via`` is the identity the interaction came through (``x#123``): an unmerge moves the
        interactions of the identities it splits off.
        """
        current = customer_id
        for _ in range(ALIAS_HOPS):
            try:
                self._record(current, interaction, raw, via)
                return RecordResult(created=True, customer_id=current)
            except Duplicate as dup:
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

    def _record(self, customer_id: str, interaction: Interaction, raw: Any, via: str) -> None:
        at = now_iso()
        sk = timeline_sk(interaction.occurred_at, interaction.id)
        entry = dynamo(interaction.model_dump(mode="json", exclude={"author", "identifiers"}))
        entry.update(
            pk=customer_pk(customer_id), sk=sk, type="interaction", occurred_at=iso(interaction.occurred_at),
            author_id=interaction.author.id, author_handle=interaction.author.handle,
            author_name=interaction.author.name, followers=interaction.author.followers,
            via=via, origin_customer_id=customer_id, stored_at=at,
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

    def mark_deleted(self, interaction_id: str) -> bool:
        """The author deleted the message: keep the record, drop its text and raw (X terms).

        Returns False when we never stored it; a tombstone guard is left so that a late-arriving
        original is never stored afterwards.
        """
        at = now_iso()
        if conditionally(lambda: self.client.put_item(
            TableName=self.table,
            Item=to_item({"pk": guard_pk(interaction_id), "sk": GUARD, "type": "guard", "deleted": True,
                          "deleted_at": at}),
            ConditionExpression="attribute_not_exists(pk)",
        )):
            return False
        guard = self.guard(interaction_id)
        if guard is None or "customer_id" not in guard:
            return False
        self.client.update_item(
            TableName=self.table, Key=key(guard_pk(interaction_id), GUARD),
            UpdateExpression="SET deleted = :t, deleted_at = :now",
            ExpressionAttributeValues={":t": {"BOOL": True}, ":now": {"S": at}},
        )
        return conditionally(lambda: self.client.update_item(
            TableName=self.table, Key=key(customer_pk(guard["customer_id"]), guard["timeline_sk"]),
            UpdateExpression="SET deleted = :t, deleted_at = :now REMOVE #text, #raw, attachments",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#text": "text", "#raw": "raw"},
            ExpressionAttributeValues={":t": {"BOOL": True}, ":now": {"S": at}},
        ))

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
        # A message deleted meanwhile keeps its tombstone: the edit is swallowed either way.
        conditionally(lambda: self.client.update_item(
            TableName=self.table, Key=key(customer_pk(guard["customer_id"]), guard["timeline_sk"]),
            UpdateExpression=expression,
            ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(deleted) OR deleted <> :t)",
            ExpressionAttributeNames={"#text": "text", **({"#raw": "raw"} if packed is not None else {})},
            ExpressionAttributeValues=values,
        ))
        return True

    def record_status(self, status: DeliveryStatus) -> None:
        """Record a delivery receipt against our outbound message, and show it on the timeline.

        Receipts are kept per status (idempotent on redelivery); the timeline item only moves
        forward (sent -> delivered -> read, or failed), whatever order they arrive in.
        """
        interaction_id = Interaction.make_id(status.channel, status.platform_message_id)
        self.client.put_item(TableName=self.table, Item=to_item({
            "pk": guard_pk(interaction_id), "sk": f"STATUS#{status.status}", "type": "status",
            "status": status.status, "recipient_id": status.recipient_id,
            "occurred_at": iso(status.occurred_at), "errors": dynamo(status.errors) or None,
        }))
        guard = self.guard(interaction_id)
        if guard is None or "customer_id" not in guard:
            return  # the reply is stored by the replies flow; its receipts wait under its id
        rank = STATUS_RANK.get(status.status, 0)
        conditionally(lambda: self.client.update_item(  # a later status already shown wins
            TableName=self.table, Key=key(customer_pk(guard["customer_id"]), guard["timeline_sk"]),
            UpdateExpression="SET delivery_status = :s, delivery_rank = :r, delivery_at = :at",
            ConditionExpression=(
                "attribute_exists(pk) AND (attribute_not_exists(delivery_rank) OR delivery_rank < :r)"
            ),
            ExpressionAttributeValues={":s": {"S": status.status}, ":r": {"N": str(rank)},
                                       ":at": {"S": iso(status.occurred_at)}},
        ))

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
                values[f":v{i}"] = attribute_value(value)
        if add_case:
            sets.append("previous_cases = list_append(if_not_exists(previous_cases, :empty), :case)")
            values[":empty"] = {"L": []}
            values[":case"] = {"L": [{"S": str(add_case)}]}
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        current = customer_id
        for _ in range(ALIAS_HOPS):
            try:
                self.client.update_item(
                    TableName=self.table, Key=key(customer_pk(current), PROFILE),
                    UpdateExpression=expression,
                    ConditionExpression="attribute_exists(pk) AND attribute_not_exists(merged_into)",
                    ExpressionAttributeValues=values,
                    **({"ExpressionAttributeNames": names} if names else {}),
                )
                return
            except ClientError as exc:
                if not condition_failed(exc):
                    raise
                profile = self.get_profile(current)
                if profile is None or profile.id == current:
                    raise CustomerMoved(f"no customer {customer_id}") from exc
                current = profile.id
        raise CustomerMoved(f"customer {customer_id} could not be resolved")

