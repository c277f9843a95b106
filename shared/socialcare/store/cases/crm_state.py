"""What the CRM knows of each case: the item ``CASE#<id> / CRM`` of CasesTable.

Attributes: ``crm_record_id`` (the vendor's id; the CrmIndex GSI projects it, so an inbound CRM
webhook that only knows its own ticket id finds the case), ``crm_provider``,
``crm_synced_version`` (the highest case version the CRM acknowledged) and ``synced_at``.

Why an item of its own beside the case item (``CASE#<id> / CASE``) rather than attributes on it:
the case item is written whole (a conditional Put of the full model on every change), which
would erase attributes the model does not hold - an erased ``crm_synced_version`` would make
every message look new. This item is written only here, with a condition that keeps
``crm_synced_version`` growing (a slow, older sync finishing late cannot roll it back), in one
transaction with a check that the case still exists (a sync racing a GDPR erase never leaves a
stray item behind). It is not a case item, so the table's stream filter does not relay it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from socialcare.store.cases.items import CASE_PREFIX, CASE_SK, CRM_INDEX, CRM_SK, case_pk
from socialcare.store.codec import cancelled, key

if TYPE_CHECKING:
    from socialcare.models.crm import CrmState


@dataclass(frozen=True)
class LaggingCase:
    case_id: str
    version: int
    synced_version: int


class CrmStateItems:
    """The CRM part of ``CasesRepository`` (same table, same client)."""

    table: str
    client: Any

    def crm_state(self, case_id: str) -> CrmState | None:
        """The CRM state of the case, or None when the case does not exist. One Query reads the
        case item's version and the CRM item ("CASE" <= sk <= "CRM" holds exactly those two)."""
        items = self.client.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :case AND :crm",
            ExpressionAttributeValues={":pk": {"S": case_pk(case_id)}, ":case": {"S": CASE_SK}, ":crm": {"S": CRM_SK}},
            ProjectionExpression="sk, #v, crm_record_id, crm_provider, crm_synced_version",
            ExpressionAttributeNames={"#v": "version"},
            ConsistentRead=True,
        ).get("Items", [])
        by_sk = {item["sk"]["S"]: item for item in items}
        case = by_sk.get(CASE_SK)
        if case is None:
            return None
        crm = by_sk.get(CRM_SK, {})
        # imported here: only the CRM sync reads this, and every function holding the cases
        # repository would otherwise build the CRM wire models at cold start (~8 ms)
        from socialcare.models.crm import CrmState

        return CrmState(
            record_id=crm.get("crm_record_id", {}).get("S"),
            provider=crm.get("crm_provider", {}).get("S"),
            synced_version=int(crm.get("crm_synced_version", {}).get("N", "0")),
            case_version=int(case["version"]["N"]) if "version" in case else None,
        )

    def record_crm_sync(self, case_id: str, *, provider: str, record_id: str | None, version: int) -> bool:
        """Store the acknowledgement; False when a newer version was already acknowledged (or
        the case is gone). ``record_id`` None: settled without a CRM record."""
        values: dict[str, Any] = {
            ":p": {"S": provider}, ":v": {"N": str(version)}, ":t": {"S": datetime.now(UTC).isoformat()},
        }
        update = "SET crm_provider = :p, crm_synced_version = :v, synced_at = :t"
        if record_id:
            update += ", crm_record_id = :r"
            values[":r"] = {"S": record_id}
        try:
            self.client.transact_write_items(TransactItems=[
                {"ConditionCheck": {"TableName": self.table, "Key": key(case_pk(case_id), CASE_SK),
                                    "ConditionExpression": "attribute_exists(pk)"}},
                {"Update": {"TableName": self.table, "Key": key(case_pk(case_id), CRM_SK), "UpdateExpression": update,
                            "ConditionExpression": "attribute_not_exists(crm_synced_version) "
                            "OR crm_synced_version < :v OR crm_provider <> :p",
                            "ExpressionAttributeValues": values}},
            ])
        except ClientError as exc:
            if cancelled(exc):
                return False
            raise
        return True

    def case_for_crm_record(self, record_id: str) -> str | None:
        """The case whose CRM record is ``record_id`` (CrmIndex GSI; keys-only projection)."""
        found = self.client.query(
            TableName=self.table, IndexName=CRM_INDEX, KeyConditionExpression="crm_record_id = :r",
            ExpressionAttributeValues={":r": {"S": record_id}}, Limit=5,
        ).get("Items", [])
        for item in found:
            pk = item.get("pk", {}).get("S", "")
            if pk.startswith(CASE_PREFIX):
                return str(pk[len(CASE_PREFIX):])
        return None

    def lagging_cases(self, provider: str | None = None) -> Iterator[LaggingCase]:
        """Every case whose CRM version lags (or whose record sits in another provider's CRM).

        An admin scan (paginated, projected to five attributes, joined in memory per case: a few
        dozen bytes per case), never a request path."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "begins_with(pk, :case) AND sk IN (:sk, :crm)",
            "ProjectionExpression": "pk, sk, #v, crm_synced_version, crm_provider",
            "ExpressionAttributeNames": {"#v": "version"},
            "ExpressionAttributeValues": {":case": {"S": CASE_PREFIX}, ":sk": {"S": CASE_SK}, ":crm": {"S": CRM_SK}},
        }
        versions: dict[str, int] = {}
        synced: dict[str, tuple[int, str | None]] = {}
        while True:
            page = self.client.scan(**kwargs)
            for item in page.get("Items", []):
                case_id = item["pk"]["S"][len(CASE_PREFIX):]
                if item["sk"]["S"] == CASE_SK and "version" in item:
                    versions[case_id] = int(item["version"]["N"])
                elif item["sk"]["S"] == CRM_SK:
                    synced[case_id] = (int(item.get("crm_synced_version", {}).get("N", "0")),
                                       item.get("crm_provider", {}).get("S"))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        for case_id in sorted(versions):
            synced_version, synced_provider = synced.get(case_id, (0, None))
            moved = provider is not None and synced_provider not in (None, provider)
            if synced_version < versions[case_id] or moved:
                yield LaggingCase(case_id, versions[case_id], synced_version)
