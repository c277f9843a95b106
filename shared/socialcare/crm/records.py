"""The CRM's attributes on the case item in CasesTable - the only part of that item this
package writes.

* ``crm_record_id`` (+ ``crm_provider``): the vendor's id, projected by the ``CrmIndex`` GSI so an
  inbound CRM webhook that only knows its own ticket id finds the case;
* ``crm_synced_version``: the highest case version the CRM acknowledged. Written with a
  condition so it only ever grows: a slow, older sync finishing late cannot roll it back.

The case item key is ``pk = CASE#<id>``, ``sk = CASE`` (ARCHITECTURE.md §3). Updates require the
item to exist, so a sync racing a GDPR erase never resurrects a half case.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from socialcare import aws
from socialcare.settings import get_settings

CASE_PK_PREFIX = "CASE#"
CASE_SK = "CASE"
CRM_INDEX = "CrmIndex"


@dataclass(frozen=True)
class CrmState:
    record_id: str | None = None
    provider: str | None = None
    synced_version: int = 0

    def record_for(self, provider: str) -> str | None:
        """The stored id, only if it belongs to the CRM we talk to now (providers can change)."""
        return self.record_id if self.provider in (None, provider) else None


def case_key(case_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"{CASE_PK_PREFIX}{case_id}"}, "sk": {"S": CASE_SK}}


class CrmRecords:
    def __init__(self, table: str | None = None, client: Any | None = None) -> None:
        self.table = table or get_settings().cases_table
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or aws.dynamodb()

    def state(self, case_id: str) -> CrmState | None:
        """The CRM attributes of the case, or None when the case item does not exist."""
        item = self.client.get_item(
            TableName=self.table,
            Key=case_key(case_id),
            ConsistentRead=True,
            ProjectionExpression="pk, crm_record_id, crm_provider, crm_synced_version",
        ).get("Item")
        if item is None:
            return None
        return CrmState(
            record_id=item.get("crm_record_id", {}).get("S"),
            provider=item.get("crm_provider", {}).get("S"),
            synced_version=int(item.get("crm_synced_version", {}).get("N", "0")),
        )

    def record(self, case_id: str, *, provider: str, record_id: str, version: int) -> bool:
        """Store the acknowledgement; False when a newer version was already acknowledged."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=case_key(case_id),
                UpdateExpression="SET crm_record_id = :r, crm_provider = :p, crm_synced_version = :v",
                ConditionExpression="attribute_exists(pk) AND "
                "(attribute_not_exists(crm_synced_version) OR crm_synced_version < :v)",
                ExpressionAttributeValues={":r": {"S": record_id}, ":p": {"S": provider}, ":v": {"N": str(version)}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
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
