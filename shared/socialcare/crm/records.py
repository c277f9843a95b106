"""What the CRM knows of each case, on the item ``CASE#<id> / CRM`` in CasesTable.

Attributes: ``crm_record_id`` (the vendor's id; the CrmIndex GSI projects it, so an inbound CRM
webhook that only knows its own ticket id finds the case - ``cases.case_for_crm_record`` reads
the same index), ``crm_provider``, ``crm_synced_version`` (the highest case version the CRM
acknowledged) and ``synced_at``.

Why an item of its own beside the case item (``CASE#<id> / CASE``) rather than attributes on it:
the cases repository writes the case item whole (a conditional Put of the full model on every
change), which would erase attributes it does not model - an erased ``crm_synced_version`` would
make every message look new. This item is written only here, with a condition that keeps
``crm_synced_version`` growing (a slow, older sync finishing late cannot roll it back), in one
transaction with a check that the case still exists (a sync racing a GDPR erase never leaves a
stray item behind).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from socialcare import aws
from socialcare.models.crm import CrmState
from socialcare.settings import get_settings

CASE_PK_PREFIX = "CASE#"
CASE_SK = "CASE"
CRM_SK = "CRM"
CRM_INDEX = "CrmIndex"


def case_key(case_id: str, sk: str = CASE_SK) -> dict[str, Any]:
    return {"pk": {"S": f"{CASE_PK_PREFIX}{case_id}"}, "sk": {"S": sk}}


class CrmRecords:
    def __init__(self, table: str | None = None, client: Any | None = None) -> None:
        self._table = table
        self._client = client

    @property
    def table(self) -> str:
        return self._table or get_settings().cases_table

    @property
    def client(self) -> Any:
        return self._client or aws.dynamodb()

    def state(self, case_id: str) -> CrmState | None:
        """The CRM state of the case, or None when the case does not exist. One Query reads the
        case item's version and the CRM item ("CASE" <= sk <= "CRM" holds exactly those two)."""
        items = self.client.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :case AND :crm",
            ExpressionAttributeValues={
                ":pk": {"S": f"{CASE_PK_PREFIX}{case_id}"},
                ":case": {"S": CASE_SK},
                ":crm": {"S": CRM_SK},
            },
            ProjectionExpression="sk, #v, crm_record_id, crm_provider, crm_synced_version",
            ExpressionAttributeNames={"#v": "version"},
            ConsistentRead=True,
        ).get("Items", [])
        by_sk = {item["sk"]["S"]: item for item in items}
        case = by_sk.get(CASE_SK)
        if case is None:
            return None
        crm = by_sk.get(CRM_SK, {})
        return CrmState(
            record_id=crm.get("crm_record_id", {}).get("S"),
            provider=crm.get("crm_provider", {}).get("S"),
            synced_version=int(crm.get("crm_synced_version", {}).get("N", "0")),
            case_version=int(case["version"]["N"]) if "version" in case else None,
        )

    def record(self, case_id: str, *, provider: str, record_id: str | None, version: int) -> bool:
        """Store the acknowledgement; False when a newer version was already acknowledged (or
        the case is gone). ``record_id`` None: settled without a CRM record (see sync)."""
        values: dict[str, Any] = {
            ":p": {"S": provider},
            ":v": {"N": str(version)},
            ":t": {"S": datetime.now(UTC).isoformat()},
        }
        update = "SET crm_provider = :p, crm_synced_version = :v, synced_at = :t"
        if record_id:
            update += ", crm_record_id = :r"
            values[":r"] = {"S": record_id}
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "ConditionCheck": {
                            "TableName": self.table,
                            "Key": case_key(case_id),
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": case_key(case_id, CRM_SK),
                            "UpdateExpression": update,
                            "ConditionExpression": "attribute_not_exists(crm_synced_version) "
                            "OR crm_synced_version < :v OR crm_provider <> :p",
                            "ExpressionAttributeValues": values,
                        }
                    },
                ]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                return False
            raise
        return True

    def case_for_record(self, record_id: str) -> str | None:
        """The case whose CRM record is ``record_id`` (CrmIndex GSI; keys-only projection)."""
        found = self.client.query(
            TableName=self.table,
            IndexName=CRM_INDEX,
            KeyConditionExpression="crm_record_id = :r",
            ExpressionAttributeValues={":r": {"S": record_id}},
            Limit=5,
        ).get("Items", [])
        for item in found:
            pk = item.get("pk", {}).get("S", "")
            if pk.startswith(CASE_PK_PREFIX):
                return pk[len(CASE_PK_PREFIX) :]
        return None
