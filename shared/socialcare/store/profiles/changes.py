"""Changes to a stored interaction: the author's edit or deletion, a reaction, a delivery receipt.

Each finds the timeline item through the interaction's guard (``IX#<id>`` / ``GUARD``) and
answers False (or does nothing) when we never stored the message. Texts kept whole in S3
(``store.bodies``) follow their item: an edit that makes a text too large writes the new text
first, a deletion erases the message's folder (text and attachments) after the item is marked.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from functools import partial
from typing import Any

from boto3.dynamodb.types import Binary
from botocore.exceptions import ClientError

from socialcare.models.interaction import DeliveryStatus, Interaction
from socialcare.store.bodies import (
    INLINE_ITEM_BYTES,
    ITEM_LIMIT_BYTES,
    RESERVE_BYTES,
    TEXT_FIELDS,
    ItemTooLarge,
    TextBodies,
    folder_of,
    item_bytes,
    message_folder,
    store_text,
)
from socialcare.store.codec import attribute_value, condition_failed, conditionally, dynamo, from_item, key, to_item
from socialcare.store.profiles.items import (
    GUARD,
    STATUS_RANK,
    compress_raw,
    customer_pk,
    guard_pk,
    iso,
    now_iso,
)
from socialcare.store.profiles.reads import ProfileReads

_ATTEMPTS = 4  # re-reads of the guard when a merge moves the item between our read and write


class TimelineChanges(ProfileReads):

    def _item_of(self, guard: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
        item_key = key(customer_pk(guard["customer_id"]), guard["timeline_sk"])
        response = self.client.get_item(TableName=self.table, Key=item_key, ConsistentRead=True)
        return item_key, (from_item(response["Item"]) if "Item" in response else None)

    # ------------------------------------------------------------------ delete
    def mark_deleted(self, interaction_id: str, bodies: TextBodies | None = None) -> bool:
        """The author deleted the message: keep the record, drop its text, content, raw and
        attachments (X terms), and with ``bodies`` erase its folder in the media bucket.

        Returns False when we never stored it; a tombstone guard is left so that a late-arriving
        original is never stored afterwards. A redelivery erases again (idempotent), so a crash
        between the item and the bucket leaves nothing behind.
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
            UpdateExpression="SET deleted = :t, deleted_at = if_not_exists(deleted_at, :now)",
            ExpressionAttributeValues={":t": {"BOOL": True}, ":now": {"S": at}},
        )
        try:
            old = self.client.update_item(
                TableName=self.table, Key=key(customer_pk(guard["customer_id"]), guard["timeline_sk"]),
                UpdateExpression="SET deleted = :t, deleted_at = if_not_exists(deleted_at, :now)"
                                 " REMOVE #text, #raw, attachments, content, text_length, text_truncated, text_s3_key",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#text": "text", "#raw": "raw"},
                ExpressionAttributeValues={":t": {"BOOL": True}, ":now": {"S": at}},
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if condition_failed(exc):
                return False
            raise
        if bodies is not None:
            erase_folders(from_item(old.get("Attributes") or {}), bodies)
        return True

    # ------------------------------------------------------------------ edit
    def apply_edit(self, interaction: Interaction, raw: Any, *, target_id: str | None = None,
                   bodies: TextBodies | None = None) -> bool:
        """Replace the text (and structured content) of a message we hold; False when we never
        stored it. ``target_id`` names the original when it is not ``interaction.id``.

        An edit of a deleted message is swallowed (True): the text must not come back.
        """
        guard = self.guard(target_id or interaction.id)
        if guard is None:
            return False
        if guard.get("deleted"):
            return True
        if "customer_id" not in guard:
            return False
        item_key, current = self._item_of(guard)
        if current is None or current.get("deleted"):
            return True
        changed, removed = edited_fields(current, interaction, raw, bodies)
        # What this edit says, as a digest: a redelivered edit (same text and content) matches the
        # last one applied and changes nothing - no second "edits", no new edited_at.
        changed["edit_digest"] = hashlib.sha256(
            json.dumps([interaction.text, interaction.content], sort_keys=True, default=str).encode("utf-8",
                                                                                                  "replace")
        ).hexdigest()[:32]
        names = {f"#s{i}": name for i, name in enumerate(changed)} | {f"#r{i}": name for i, name in enumerate(removed)}
        values: dict[str, Any] = {f":s{i}": attribute_value(v) for i, v in enumerate(changed.values())}
        values.update({":one": {"N": "1"}, ":t": {"BOOL": True}, ":d": {"S": changed["edit_digest"]}})
        expression = "SET " + ", ".join(f"#s{i} = :s{i}" for i in range(len(changed))) + " ADD edits :one"
        if removed:
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(removed)))
        # A message deleted meanwhile keeps its tombstone: the edit is swallowed either way.
        made = conditionally(lambda: self.client.update_item(
            TableName=self.table, Key=item_key, UpdateExpression=expression,
            ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(deleted) OR deleted <> :t)"
                                " AND (attribute_not_exists(edit_digest) OR edit_digest <> :d)",
            ExpressionAttributeNames=names, ExpressionAttributeValues=values,
        ))
        old_key, new_key = current.get("text_s3_key"), changed.get("text_s3_key")
        if bodies is not None:
            stale = old_key if made else new_key  # the replaced text, or the one written for nothing
            if stale and stale != (new_key if made else old_key):
                bodies.delete(stale)
        return True

    # ------------------------------------------------------------------ react
    def apply_reaction(self, target_id: str, author_id: str, emoji: str, at: datetime) -> bool:
        """Record ``author_id``'s reaction on the message ``target_id`` (``reactions: {author:
        {"emoji", "at"}}``); an empty ``emoji`` removes it. False when we never stored the message.

        A removal is kept as an entry with an empty emoji (the API leaves it out), so that a
        reaction older than it, arriving late, does not come back; a redelivery writes the same.
        """
        moment = iso(at)
        entry = {"emoji": emoji, "at": moment}
        for _ in range(_ATTEMPTS):
            guard = self.guard(target_id)
            if guard is None or "customer_id" not in guard:
                return False
            item_key, item = self._item_of(guard)
            if item is None:
                continue  # moved by a merge meanwhile: read the guard again
            if item.get("deleted"):
                return True
            reactions = item.get("reactions")
            previous = reactions.get(author_id) if isinstance(reactions, dict) else None
            if isinstance(previous, dict) and str(previous.get("at", "")) > moment:
                return True  # this author's later reaction is already there
            if not isinstance(reactions, dict):
                write: dict[str, Any] = {
                    "UpdateExpression": "SET reactions = :map",
                    "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(reactions)",
                    "ExpressionAttributeValues": {":map": attribute_value({author_id: entry})},
                }
            else:
                write = {
                    "UpdateExpression": "SET reactions.#a = :r",
                    "ConditionExpression": "attribute_exists(pk) AND attribute_exists(reactions) AND "
                                           "(attribute_not_exists(reactions.#a) OR reactions.#a.#at <= :at)",
                    "ExpressionAttributeNames": {"#a": author_id, "#at": "at"},
                    "ExpressionAttributeValues": {":r": attribute_value(entry), ":at": {"S": moment}},
                }
            if conditionally(partial(self.client.update_item, TableName=self.table, Key=item_key, **write)):
                return True
        raise RuntimeError(f"the reaction to {target_id} could not be recorded; retry")

    # ------------------------------------------------------------------ whole text
    def full_text(self, interaction_id: str, bodies: TextBodies) -> tuple[str, dict[str, Any]] | None:
        """(customer id, item with ``text`` whole) of a stored interaction - read from S3 when the
        item holds a preview - or None when we never stored it or its whole text is gone."""
        guard = self.guard(interaction_id)
        if guard is None or "customer_id" not in guard:
            return None
        _, item = self._item_of(guard)
        if item is None:
            return None
        s3_key = item.get("text_s3_key")
        if s3_key:
            text = bodies.get_text(str(s3_key))
            if text is None:
                return None
            item["text"] = text
        return str(guard["customer_id"]), item

    # ------------------------------------------------------------------ receipts
    def record_status(self, status: DeliveryStatus) -> None:
        """Record a delivery receipt against our outbound message, and show it on the timeline.

        Receipts are kept per status (idempotent on redelivery); the timeline item only moves
        forward (sent -> delivered -> read, or failed), whatever order they arrive in.
        """
        interaction_id = Interaction.make_id(status.channel, status.platform_message_id)
        # Not the recipient (a phone number, a platform id): a receipt is about a message, and one
        # that names no stored reply could not be found again by an erasure (docs/privacy.md).
        self.client.put_item(TableName=self.table, Item=to_item({
            "pk": guard_pk(interaction_id), "sk": f"STATUS#{status.status}", "type": "status",
            "status": status.status,
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


def erase_folders(item: dict[str, Any], bodies: TextBodies) -> None:
    """Delete a deleted message's objects: its folder, and the folders its keys point to."""
    folders = {str(item["media_folder"])} if item.get("media_folder") else set()
    if item.get("text_s3_key"):
        folders.add(folder_of(str(item["text_s3_key"])))
    for attachment in item.get("attachments") or []:
        if isinstance(attachment, dict) and attachment.get("s3_key"):
            folders.add(folder_of(str(attachment["s3_key"])))
    for folder in sorted(folders):
        bodies.delete_prefix(folder)


def edited_fields(current: dict[str, Any], interaction: Interaction, raw: Any,
                  bodies: TextBodies | None) -> tuple[dict[str, Any], list[str]]:
    """The attributes an edit sets and removes on the item ``current``: the new text (whole in
    S3 when the item would be too large), the new content, the edit's raw slice if it fits."""
    changed: dict[str, Any] = {"edited_at": now_iso()}
    removed = [f for f in TEXT_FIELDS if f in current]
    text = interaction.text
    if text is None:
        removed.append("text")
    else:
        changed["text"] = text
    if interaction.content:
        changed["content"] = dynamo(interaction.content)
    packed = compress_raw(raw)
    if packed is not None:
        changed["raw"] = Binary(packed)

    def size() -> int:
        after = {k: v for k, v in current.items() if k not in removed} | changed
        return item_bytes(to_item(after))

    if text is not None and size() > INLINE_ITEM_BYTES:
        folder = current.get("media_folder") or message_folder(
            str(current.get("origin_customer_id", "")), str(current.get("channel", "")),
            str(current.get("platform_message_id", "")))
        changed.update(store_text(bodies, str(folder), text))
        removed = [f for f in removed if f not in TEXT_FIELDS]
    if size() > ITEM_LIMIT_BYTES - RESERVE_BYTES and ("raw" in current or "raw" in changed):
        changed.pop("raw", None)  # a raw slice never costs the text: it goes first
        changed["raw_dropped"] = True
        removed.append("raw")
    if size() > ITEM_LIMIT_BYTES - RESERVE_BYTES:
        raise ItemTooLarge(f"interaction {interaction.id}: the edited item is over DynamoDB's limit")
    return changed, list(dict.fromkeys(removed))
