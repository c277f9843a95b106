"""CasesTable repository: the case model as stored, and every read and write of the table.

Items (pk / sk):

* ``CASE#<id>`` / ``CASE``: the case. Top-level attributes feed the GSIs:
  ``queue_pk`` = ``TEAM#<team>#STATUS#<status>`` and ``queue_sk`` = ``<due>#<case id>`` (QueueIndex:
  a team's cases per status ordered by the SLA due time that runs now: first response until the
  first reply, then resolution); ``customer_id`` + ``opened_at`` (CustomerIndex: a customer's
  cases); ``crm_record_id`` (CrmIndex, sparse).
* ``CASE#<id>`` / ``INT#<occurred_at>#<interaction id>``: the case's timeline, one item per
  interaction, so a case with thousands of interactions (an incident) never nears the 400 KB
  item limit; ``GET /api/cases/{id}`` reads case and timeline with one Query.
* ``CUSTOMER#<id>`` / ``LATEST_CASE``: the customer's current case id. Creating a case writes it
  conditionally in the same transaction, so two processors that see the same customer at once
  (an X post and a WhatsApp message in different FIFO groups) cannot open two cases.
* ``INTERACTION#<id>`` / ``CASE``: which case an interaction joined, written with
  ``attribute_not_exists`` in that transaction: a redelivered event is recognised for good.

Every case write is conditional on the ``version`` it read (optimistic locking) and increments
it, so concurrent processors, agents and the SLA monitor never lose each other's updates; the
CRM sync orders its updates by the same number.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aws_lambda_powertools import Logger
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from socialcare import aws
from socialcare.crm.queue import enqueue_sync
from socialcare.errors import BadRequest, Conflict, EnqueueFailed, NotFound
from socialcare.models.case import Case, CaseStatus, InteractionRef, Team
from socialcare.settings import get_settings

logger = Logger(child=True)

QUEUE_INDEX = "QueueIndex"
CUSTOMER_INDEX = "CustomerIndex"
CRM_INDEX = "CrmIndex"
# Interactions kept on the case item itself, newest last: enough for a work item's timeline
# summary without a second read; the full timeline lives in the INT# items.
RECENT_INTERACTIONS = 10
# Work items held for pull on the case (dispatcher destination "pull"), oldest dropped first.
MAX_PENDING_ITEMS = 20


class VersionConflict(Conflict):
    """Someone else changed the case since we read it: re-read and retry."""

    code = "version_conflict"


class DuplicateInteraction(Exception):
    """The interaction already joined a case (a redelivery)."""

    def __init__(self, case_id: str | None) -> None:
        super().__init__(case_id)
        self.case_id = case_id


class CustomerRace(Exception):
    """Another processor just opened (or moved) the customer's case: re-read and retry."""


def iso(value: datetime) -> str:
    """Second-precision UTC ISO 8601: sorts lexically, so it can lead a sort key."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_SER = TypeSerializer()
_DESER = TypeDeserializer()


def _to_item(data: dict[str, Any]) -> dict[str, Any]:
    # DynamoDB wants Decimal, not float, and a GSI key attribute may be absent but never NULL,
    # so None values are left out altogether.
    clean = json.loads(json.dumps({k: v for k, v in data.items() if v is not None}), parse_float=Decimal)
    return {k: _SER.serialize(v) for k, v in clean.items()}


def _from_item(item: dict[str, Any]) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, set):
            return sorted(plain(v) for v in value)
        return value

    return {k: plain(_DESER.deserialize(v)) for k, v in item.items()}


def queue_pk(team: Team | str, status: CaseStatus | str) -> str:
    return f"TEAM#{Team(team).value}#STATUS#{CaseStatus(status).value}"


def case_item(case: Case) -> dict[str, Any]:
    data = case.model_dump(mode="json", exclude={"interactions"})
    data.update(
        pk=f"CASE#{case.id}",
        sk="CASE",
        entity="case",
        queue_pk=queue_pk(case.team, case.status),
        queue_sk=f"{iso(case.running_due)}#{case.id}",
        opened_at=iso(case.opened_at),
    )
    return _to_item(data)


def case_from_item(item: dict[str, Any]) -> Case:
    data = _from_item(item)
    for key in ("pk", "sk", "entity", "queue_pk", "queue_sk", "is_open", "expires_at"):
        data.pop(key, None)
    return Case.model_validate(data)


def ref_from_item(item: dict[str, Any]) -> InteractionRef:
    data = _from_item(item)
    return InteractionRef.model_validate({k: v for k, v in data.items() if k in InteractionRef.model_fields})


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, expected_queue_pk: str) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("cursor is not valid") from exc
    # A cursor is only good for the listing that produced it; one forged for another team's
    # partition is refused rather than passed to DynamoDB.
    if not isinstance(key, dict) or key.get("queue_pk", {}).get("S") != expected_queue_pk:
        raise BadRequest("cursor does not belong to this listing")
    return key


class CasesRepository:
    def __init__(self, table: str, client: Any = None) -> None:
        self.table = table
        self._client = client

    @classmethod
    def default(cls) -> CasesRepository:
        return cls(get_settings().cases_table)

    @property
    def client(self) -> Any:
        return self._client or aws.dynamodb()

    # ------------------------------------------------------------ reads
    def get(self, case_id: str) -> Case | None:
        found = self.client.get_item(
            TableName=self.table, Key={"pk": {"S": f"CASE#{case_id}"}, "sk": {"S": "CASE"}}, ConsistentRead=True
        ).get("Item")
        return case_from_item(found) if found else None

    def get_with_interactions(self, case_id: str) -> Case | None:
        case: Case | None = None
        refs: list[InteractionRef] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"CASE#{case_id}"}},
            "ConsistentRead": True,
        }
        while True:
            page = self.client.query(**kwargs)
            for item in page.get("Items", []):
                sk = item["sk"]["S"]
                if sk == "CASE":
                    case = case_from_item(item)
                elif sk.startswith("INT#"):
                    refs.append(ref_from_item(item))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        if case is None:
            return None
        case.interactions = refs  # sort key order = chronological
        return case

    def latest_case_id(self, customer_id: str) -> str | None:
        found = self.client.get_item(
            TableName=self.table,
            Key={"pk": {"S": f"CUSTOMER#{customer_id}"}, "sk": {"S": "LATEST_CASE"}},
            ConsistentRead=True,
        ).get("Item")
        return found["case_id"]["S"] if found else None

    def interaction_case_id(self, interaction_id: str) -> tuple[str | None, dict[str, Any] | None]:
        found = self.client.get_item(
            TableName=self.table,
            Key={"pk": {"S": f"INTERACTION#{interaction_id}"}, "sk": {"S": "CASE"}},
            ConsistentRead=True,
        ).get("Item")
        if not found:
            return None, None
        data = _from_item(found)
        return data.get("case_id"), data.get("route")

    def customer_cases(self, customer_id: str, limit: int = 20) -> list[Case]:
        page = self.client.query(
            TableName=self.table,
            IndexName=CUSTOMER_INDEX,
            KeyConditionExpression="customer_id = :c",
            ExpressionAttributeValues={":c": {"S": customer_id}},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [case_from_item(i) for i in page.get("Items", [])]

    def by_crm_record(self, crm_record_id: str) -> str | None:
        page = self.client.query(
            TableName=self.table,
            IndexName=CRM_INDEX,
            KeyConditionExpression="crm_record_id = :c",
            ExpressionAttributeValues={":c": {"S": crm_record_id}},
            Limit=1,
        )
        items = page.get("Items", [])
        return items[0]["pk"]["S"].removeprefix("CASE#") if items else None

    def list_queue(
        self,
        team: Team,
        status: CaseStatus,
        *,
        limit: int = 25,
        cursor: str | None = None,
        due_before: datetime | None = None,
        unleased_at: datetime | None = None,
    ) -> tuple[list[Case], str | None]:
        """One page of a team's cases in one status, most pressing SLA due first."""
        pk = queue_pk(team, status)
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": QUEUE_INDEX,
            "KeyConditionExpression": "queue_pk = :q",
            "ExpressionAttributeValues": {":q": {"S": pk}},
            "ScanIndexForward": True,
            "Limit": limit,
        }
        if due_before is not None:
            # "#" sorts before digits, so every due time strictly before `due_before` matches.
            kwargs["KeyConditionExpression"] += " AND queue_sk < :due"
            kwargs["ExpressionAttributeValues"][":due"] = {"S": iso(due_before)}
        if unleased_at is not None:
            kwargs["FilterExpression"] = "attribute_not_exists(lease_until) OR lease_until < :now"
            kwargs["ExpressionAttributeValues"][":now"] = {"S": iso(unleased_at)}
        start = decode_cursor(cursor, pk)
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = self.client.query(**kwargs)
        return [case_from_item(i) for i in page.get("Items", [])], encode_cursor(page.get("LastEvaluatedKey"))

    def iter_queue(self, team: Team, status: CaseStatus, **kwargs: Any) -> Iterator[Case]:
        cursor: str | None = None
        while True:
            cases, cursor = self.list_queue(team, status, cursor=cursor, **kwargs)
            yield from cases
            if cursor is None:
                return

    # ------------------------------------------------------------ write operations
    def put_case_op(self, case: Case, expected_version: int | None) -> dict[str, Any]:
        """A transaction Put of ``case`` (its version already bumped) guarded by the version read."""
        op: dict[str, Any] = {"TableName": self.table, "Item": case_item(case)}
        if expected_version is None:
            op["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            op["ConditionExpression"] = "version = :v"
            op["ExpressionAttributeValues"] = {":v": {"N": str(expected_version)}}
        return {"Put": op}

    def pointer_op(self, customer_id: str, case_id: str, previous: str | None) -> dict[str, Any]:
        op: dict[str, Any] = {
            "TableName": self.table,
            "Item": _to_item(
                {"pk": f"CUSTOMER#{customer_id}", "sk": "LATEST_CASE", "case_id": case_id, "entity": "pointer"}
            ),
        }
        if previous is None:
            op["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            op["ConditionExpression"] = "case_id = :prev"
            op["ExpressionAttributeValues"] = {":prev": {"S": previous}}
        return {"Put": op}

    def marker_op(self, interaction_id: str, case_id: str, route: dict[str, Any] | None) -> dict[str, Any]:
        item = {"pk": f"INTERACTION#{interaction_id}", "sk": "CASE", "case_id": case_id, "route": route}
        return {
            "Put": {
                "TableName": self.table,
                "Item": _to_item(item),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def timeline_put(self, case_id: str, ref: InteractionRef) -> dict[str, Any]:
        data = ref.model_dump(mode="json")
        data.update(pk=f"CASE#{case_id}", sk=f"INT#{iso(ref.occurred_at)}#{ref.id}", entity="interaction")
        return {"TableName": self.table, "Item": _to_item(data)}

    def transact(self, ops: list[dict[str, Any]]) -> None:
        """Run a transaction, translating each kind of condition failure to its exception.

        Every case version the transaction writes is mirrored to the CRM, as ``update`` does."""
        try:
            self.client.transact_write_items(TransactItems=ops)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = exc.response.get("CancellationReasons") or []
            failed = [
                ops[i]["Put"]["Item"]["pk"]["S"]
                for i, reason in enumerate(reasons)
                if reason.get("Code") == "ConditionalCheckFailed" and "Put" in ops[i]
            ]
            if any(pk.startswith("INTERACTION#") for pk in failed):
                interaction_pk = next(pk for pk in failed if pk.startswith("INTERACTION#"))
                case_id, _ = self.interaction_case_id(interaction_pk.removeprefix("INTERACTION#"))
                raise DuplicateInteraction(case_id) from exc
            if any(pk.startswith("CUSTOMER#") for pk in failed):
                raise CustomerRace() from exc
            if any(pk.startswith("CASE#") for pk in failed) or not reasons:
                raise VersionConflict("the case changed concurrently") from exc
            raise
        for op in ops:
            item = op.get("Put", {}).get("Item", {})
            if item.get("sk", {}).get("S") == "CASE" and item.get("pk", {}).get("S", "").startswith("CASE#"):
                _mirror(item["pk"]["S"].removeprefix("CASE#"), int(item["version"]["N"]))

    def save(self, case: Case, expected_version: int) -> None:
        """Write a changed case (version already bumped) if nobody changed it meanwhile."""
        try:
            self.client.put_item(
                TableName=self.table,
                Item=case_item(case),
                ConditionExpression="version = :v",
                ExpressionAttributeValues={":v": {"N": str(expected_version)}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise VersionConflict("the case changed concurrently", case_id=case.id) from exc
            raise

    def put_timeline(self, case_id: str, refs: list[InteractionRef]) -> None:
        """Copy timeline items (merges); idempotent, since the keys are the interactions'."""
        for start in range(0, len(refs), 25):
            chunk = refs[start : start + 25]
            request = {self.table: [{"PutRequest": {"Item": self.timeline_put(case_id, r)["Item"]}} for r in chunk]}
            for _ in range(8):
                result = self.client.batch_write_item(RequestItems=request)
                request = result.get("UnprocessedItems") or {}
                if not request:
                    break

    def update(self, case_id: str, change: Any, *, attempts: int = 6, now: datetime | None = None) -> Case:
        """Read-modify-write with optimistic locking, mirrored to the CRM.

        ``change(case)`` mutates the case in place and returns False when there is nothing to
        do (then nothing is written); on a version conflict the case is read again and
        ``change`` re-applied, so it must decide from the case it is given, not from outside
        state captured earlier. Every version written is queued for the CRM sync: the CRM must
        never lag a version of ours (escalations, leases, hand-offs, held items alike), and
        ``socialcare crm reconcile`` is only the safety net, not the mechanism.
        """
        for _ in range(attempts):
            case = self.get(case_id)
            if case is None:
                raise NotFound(f"case {case_id} not found", case_id=case_id)
            read_version = case.version
            if change(case) is False:
                return case
            case.version = read_version + 1
            case.updated_at = now or datetime.now(UTC)
            try:
                self.save(case, read_version)
            except VersionConflict:
                continue
            _mirror(case.id, case.version)
            return case
        raise VersionConflict("the case kept changing concurrently; try again", case_id=case_id)


def _mirror(case_id: str, version: int) -> None:
    """Queue the CRM sync of this case version: the CRM must never lag a version of ours.

    The sync reads the case itself, so a later version supersedes this one and a stale one is
    dropped. A failure to enqueue does not undo the write already made: it is logged, and
    ``socialcare crm reconcile`` finds the lagging version.
    """
    if not get_settings().crm_sync_queue_url:
        logger.warning("no CRM sync queue configured: case change not mirrored", extra={"case_id": case_id})
        return
    try:
        enqueue_sync(case_id, version, reason="case changed")
    except EnqueueFailed:
        logger.warning("CRM sync not enqueued; reconcile will catch up", extra={"case_id": case_id, "version": version})
