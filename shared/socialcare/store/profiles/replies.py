"""Our replies on the timeline: the platform's id of a sent reply, as an alias of its guard.

A reply is stored under its own id (``reply:<uuid hex>``), chosen before the platform gave it one;
the platform's receipts (and any reflected copy) name ``<channel>:<platform message id>``.
``link_reply`` writes an alias guard under that id, pointing at the reply's timeline item, so
``record_status`` shows a receipt on the reply and a copy of it is a duplicate, and the
processor finds the reply (``alias_of``) and its case (``case_id``) from a receipt.

An alias is not re-pointed when a merge moves the reply into another customer's partition: a
later receipt is then still kept (``STATUS#`` items) but no longer shown on the moved item.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from socialcare.store.codec import cancelled, to_item
from socialcare.store.profiles.items import GUARD, guard_pk, threaded_onto_ops
from socialcare.store.profiles.reads import ProfileReads

_ATTEMPTS = 3  # re-reads of the guard when a merge moves the item between our read and write


class ReplyAliases(ProfileReads):

    def link_reply(self, interaction_id: str, case_id: str, platform_id: str) -> bool:
        """Note ``case_id`` on a stored reply (guard and timeline item) and write its alias guard
        ``IX#<platform_id>`` in the same transaction; idempotent. False when the reply is not
        stored. A guard of something else already under ``platform_id`` is left alone."""
        alias = True
        for _ in range(_ATTEMPTS):
            guard = self.guard(interaction_id)
            if guard is None or "customer_id" not in guard:
                return False
            ops = self._link_ops(guard, interaction_id, case_id, platform_id if alias else None)
            try:
                self.client.transact_write_items(TransactItems=ops)
                return True
            except ClientError as exc:
                if not cancelled(exc):
                    raise
                codes = [r.get("Code") for r in exc.response.get("CancellationReasons") or []]
                if len(codes) > 2 and codes[2] == "ConditionalCheckFailed":
                    alias = False  # the id is another item's guard: link the reply without it
                # otherwise a merge moved the reply meanwhile: read its guard again
        return False

    def _link_ops(self, guard: dict[str, Any], interaction_id: str, case_id: str,
                  platform_id: str | None) -> list[dict[str, Any]]:
        customer_id, timeline_sk = str(guard["customer_id"]), str(guard["timeline_sk"])
        ops = threaded_onto_ops(self.table, customer_id, interaction_id, timeline_sk, case_id)
        if platform_id is not None and platform_id != interaction_id:
            item = {"pk": guard_pk(platform_id), "sk": GUARD, "type": "alias", "alias_of": interaction_id,
                    "customer_id": customer_id, "timeline_sk": timeline_sk, "case_id": case_id,
                    "stored_at": guard.get("stored_at")}
            ops.append({"Put": {"TableName": self.table, "Item": to_item(item),
                                "ConditionExpression": "attribute_not_exists(pk) OR alias_of = :id",
                                "ExpressionAttributeValues": {":id": {"S": interaction_id}}}})
        return ops

    def reply_of(self, platform_id: str) -> tuple[str, str | None] | None:
        """(our reply's id, its case id) for the platform's id of a reply we sent, else None."""
        guard = self.guard(platform_id)
        if guard is None or not guard.get("alias_of"):
            return None
        case_id = guard.get("case_id")
        return str(guard["alias_of"]), str(case_id) if case_id else None
