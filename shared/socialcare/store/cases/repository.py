"""CasesRepository: every read and write of CasesTable.

Items (pk / sk):

* ``CASE#<id>`` / ``CASE``: the case. Top-level attributes feed the GSIs:
  ``queue_pk`` = ``TEAM#<team>#STATUS#<status>`` and ``queue_sk`` = ``<due>#<case id>`` (QueueIndex:
  a team's cases per status ordered by the SLA due time that runs now: first response until the
  first reply, then resolution); ``customer_id`` + ``opened_at`` (CustomerIndex: a customer's
  cases); ``crm_record_id`` (CrmIndex, sparse).
* ``CASE#<id>`` / ``INT#<occurred_at>#<interaction id>``: the case's timeline, one item per
  interaction, so a case with thousands of interactions (an incident) never nears the 400 KB
  item limit; ``GET /api/cases/{id}`` reads case and timeline with one Query.
* ``CASE#<id>`` / ``CRM``: what the CRM acknowledged (``crm_state.CrmStateItems``).
* ``CUSTOMER#<id>`` / ``LATEST_CASE``: the customer's current case id. Creating a case writes it
  conditionally in the same transaction, so two processors that see the same customer at once
  (an X post and a WhatsApp message in different FIFO groups) cannot open two cases.
* ``INTERACTION#<id>`` / ``CASE``: which case an interaction joined, written with
  ``attribute_not_exists`` in that transaction: a redelivered event is recognised for good.

Every case write is conditional on the ``version`` it read (optimistic locking) and increments
it, so concurrent processors, agents and the SLA monitor never lose each other's updates. Every
saved case version reaches the CRM through the table's stream (``flows.case_stream``): this
repository sends nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from socialcare.errors import NotFound
from socialcare.models.case import Case, CaseStatus, InteractionRef, Team
from socialcare.store import cursor
from socialcare.store.batch import batch_get, batch_write
from socialcare.store.cases.crm_state import CrmStateItems
from socialcare.store.cases.items import (
    CASE_PREFIX,
    CASE_SK,
    CUSTOMER_INDEX,
    MARKER_PREFIX,
    MARKER_SK,
    POINTER_PREFIX,
    POINTER_SK,
    QUEUE_INDEX,
    TIMELINE_PREFIX,
    CustomerRace,
    DuplicateInteraction,
    OtherItemChanged,
    VersionConflict,
    case_from_item,
    case_item,
    case_pk,
    iso,
    marker_pk,
    pointer_pk,
    queue_pk,
    ref_from_item,
    timeline_item,
)
from socialcare.store.codec import cancelled, condition_failed, from_item, key, to_item


class CasesRepository(CrmStateItems):
    def __init__(self, table: str, client: Any) -> None:
        self.table = table
        self.client = client

    # ------------------------------------------------------------ reads
    def get(self, case_id: str, *, consistent: bool = True) -> Case | None:
        found = self.client.get_item(TableName=self.table, Key=key(case_pk(case_id), CASE_SK),
                                     ConsistentRead=consistent).get("Item")
        return case_from_item(found) if found else None

    def get_with_interactions(self, case_id: str, *, newest: int | None = None) -> Case | None:
        """The case with its timeline (chronological); with ``newest``, only that many of the
        latest interactions: one descending Query, whose first page usually reaches the case item
        too ("CASE" sorts before "CRM" and "INT#"), so an incident of thousands costs one page."""
        case: Case | None = None
        refs: list[InteractionRef] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": case_pk(case_id)}},
            "ConsistentRead": True,
        }
        if newest is not None:
            kwargs.update(ScanIndexForward=False, Limit=newest + 2)  # + the CRM state and case items
        while True:
            page = self.client.query(**kwargs)
            for item in page.get("Items", []):
                sk = item["sk"]["S"]
                if sk == CASE_SK:
                    case = case_from_item(item)
                elif sk.startswith(TIMELINE_PREFIX) and (newest is None or len(refs) < newest):
                    refs.append(ref_from_item(item))
            if "LastEvaluatedKey" not in page or (newest is not None and len(refs) >= newest):
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        if newest is not None:
            refs.reverse()
            if case is None:
                case = self.get(case_id)
        if case is None:
            return None
        case.interactions = refs  # chronological
        return case

    def latest_case_id(self, customer_id: str) -> str | None:
        found = self.client.get_item(TableName=self.table, Key=key(pointer_pk(customer_id), POINTER_SK),
                                     ConsistentRead=True).get("Item")
        return found["case_id"]["S"] if found else None

    def interaction_case_id(self, interaction_id: str) -> tuple[str | None, dict[str, Any] | None]:
        found = self.client.get_item(TableName=self.table, Key=key(marker_pk(interaction_id), MARKER_SK),
                                     ConsistentRead=True).get("Item")
        if not found:
            return None, None
        data = from_item(found)
        return data.get("case_id"), data.get("route")

    def customer_cases(self, customer_id: str, limit: int = 20) -> list[Case]:
        page = self.client.query(
            TableName=self.table, IndexName=CUSTOMER_INDEX, KeyConditionExpression="customer_id = :c",
            ExpressionAttributeValues={":c": {"S": customer_id}}, ScanIndexForward=False, Limit=limit,
        )
        return self._full(page.get("Items", []))

    def _full(self, index_items: list[dict[str, Any]]) -> list[Case]:
        """The cases an index page names, whole, in the page's order (one BatchGetItem).

        QueueIndex and CustomerIndex project keys only (QueueIndex adds ``lease_until`` for its
        filter): every case write would otherwise copy the whole ~2 KB item into both, tripling
        the write units of each interaction, for reads that are a fraction as frequent."""
        keys = [{"pk": i["pk"], "sk": i["sk"]} for i in index_items]
        found = {item["pk"]["S"]: item for item in batch_get(self.client, self.table, keys)} if keys else {}
        return [case_from_item(found[k["pk"]["S"]]) for k in keys if k["pk"]["S"] in found]

    def list_queue(
        self,
        team: Team,
        status: CaseStatus,
        *,
        limit: int = 25,
        cursor_token: str | None = None,
        due_before: datetime | None = None,
        unleased_at: datetime | None = None,
    ) -> tuple[list[Case], str | None]:
        """One page of a team's cases in one status, most pressing SLA due first."""
        pk = queue_pk(team, status)
        kwargs: dict[str, Any] = {
            "TableName": self.table, "IndexName": QUEUE_INDEX, "KeyConditionExpression": "queue_pk = :q",
            "ExpressionAttributeValues": {":q": {"S": pk}}, "ScanIndexForward": True, "Limit": limit,
        }
        if due_before is not None:
            # "#" sorts before digits, so every due time strictly before `due_before` matches.
            kwargs["KeyConditionExpression"] += " AND queue_sk < :due"
            kwargs["ExpressionAttributeValues"][":due"] = {"S": iso(due_before)}
        if unleased_at is not None:
            kwargs["FilterExpression"] = "attribute_not_exists(lease_until) OR lease_until < :now"
            kwargs["ExpressionAttributeValues"][":now"] = {"S": iso(unleased_at)}
        start = cursor.decode(cursor_token, bound={"queue_pk": pk}, prefixes={"pk": CASE_PREFIX})
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = self.client.query(**kwargs)
        return self._full(page.get("Items", [])), cursor.encode(page.get("LastEvaluatedKey"))

    def iter_queue(self, team: Team, status: CaseStatus, **kwargs: Any) -> Iterator[Case]:
        token: str | None = None
        while True:
            cases, token = self.list_queue(team, status, cursor_token=token, **kwargs)
            yield from cases
            if token is None:
                return

    # ------------------------------------------------------------ transaction operations
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
            "Item": to_item({"pk": pointer_pk(customer_id), "sk": POINTER_SK, "case_id": case_id,
                             "entity": "pointer"}),
        }
        if previous is None:
            op["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            op["ConditionExpression"] = "case_id = :prev"
            op["ExpressionAttributeValues"] = {":prev": {"S": previous}}
        return {"Put": op}

    def marker_op(self, interaction_id: str, case_id: str, route: dict[str, Any] | None) -> dict[str, Any]:
        item = {"pk": marker_pk(interaction_id), "sk": MARKER_SK, "case_id": case_id, "route": route}
        return {"Put": {"TableName": self.table, "Item": to_item(item),
                        "ConditionExpression": "attribute_not_exists(pk)"}}

    def timeline_op(self, case_id: str, ref: InteractionRef) -> dict[str, Any]:
        return {"Put": {"TableName": self.table, "Item": timeline_item(case_id, ref)}}

    def transact(self, ops: list[dict[str, Any]]) -> None:
        """Run a transaction, translating each kind of condition failure to its exception."""
        try:
            self.client.transact_write_items(TransactItems=ops)
        except ClientError as exc:
            if not cancelled(exc):
                raise
            reasons = exc.response.get("CancellationReasons") or []
            checks = [i for i, reason in enumerate(reasons) if reason.get("Code") == "ConditionalCheckFailed"]
            if any(next(iter(ops[i].values()))["TableName"] != self.table for i in checks):
                raise OtherItemChanged() from exc
            failed = [ops[i]["Put"]["Item"]["pk"]["S"] for i in checks if "Put" in ops[i]]
            interaction = next((pk for pk in failed if pk.startswith(MARKER_PREFIX)), None)
            if interaction is not None:
                case_id, _ = self.interaction_case_id(interaction.removeprefix(MARKER_PREFIX))
                raise DuplicateInteraction(case_id) from exc
            if any(pk.startswith(POINTER_PREFIX) for pk in failed):
                raise CustomerRace() from exc
            if any(pk.startswith(CASE_PREFIX) for pk in failed) or not reasons:
                raise VersionConflict("the case changed concurrently") from exc
            raise

    # ------------------------------------------------------------ single writes
    def save(self, case: Case, expected_version: int) -> None:
        """Write a changed case (version already bumped) if nobody changed it meanwhile."""
        try:
            self.client.put_item(
                TableName=self.table, Item=case_item(case), ConditionExpression="version = :v",
                ExpressionAttributeValues={":v": {"N": str(expected_version)}},
            )
        except ClientError as exc:
            if condition_failed(exc):
                raise VersionConflict("the case changed concurrently", case_id=case.id) from exc
            raise

    def put_timeline(self, case_id: str, refs: list[InteractionRef]) -> None:
        """Copy timeline items (merges); idempotent, since the keys are the interactions'."""
        batch_write(self.client, self.table, [{"PutRequest": {"Item": timeline_item(case_id, r)}} for r in refs])

    def update(self, case_id: str, change: Callable[[Case], bool | None], *, attempts: int = 6,
               now: datetime | None = None) -> Case:
        """Read-modify-write with optimistic locking.

        ``change(case)`` mutates the case in place and returns False when there is nothing to
        do (then nothing is written); on a version conflict the case is read again and
        ``change`` re-applied, so it must decide from the case it is given, not from outside
        state captured earlier.
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
            return case
        raise VersionConflict("the case kept changing concurrently; try again", case_id=case_id)
