"""CasesTable items: keys, the case and timeline items as stored, and the store's exceptions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from socialcare.errors import Conflict
from socialcare.models.case import Case, CaseStatus, InteractionRef, Team
from socialcare.store.codec import from_item, to_item

QUEUE_INDEX = "QueueIndex"
CUSTOMER_INDEX = "CustomerIndex"
CRM_INDEX = "CrmIndex"
CASE_PREFIX = "CASE#"
CASE_SK = "CASE"
CRM_SK = "CRM"
TIMELINE_PREFIX = "INT#"
POINTER_PREFIX = "CUSTOMER#"
POINTER_SK = "LATEST_CASE"
MARKER_PREFIX = "INTERACTION#"
MARKER_SK = "CASE"  # the same sort key as a case item: tell them apart by the partition key
# Attributes of the stored item that are not fields of the model.
_STORAGE_ONLY = ("pk", "sk", "entity", "queue_pk", "queue_sk", "is_open", "expires_at")


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


class OtherItemChanged(Exception):
    """A condition on an item of another table, joined to a case transaction, failed (the
    customer was merged away meanwhile): write the case without it and the rest apart."""


def iso(value: datetime) -> str:
    """Second-precision UTC ISO 8601: sorts lexically, so it can lead a sort key."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def case_pk(case_id: str) -> str:
    return f"{CASE_PREFIX}{case_id}"


def pointer_pk(customer_id: str) -> str:
    return f"{POINTER_PREFIX}{customer_id}"


def marker_pk(interaction_id: str) -> str:
    return f"{MARKER_PREFIX}{interaction_id}"


def case_version_of(image: dict[str, Any]) -> tuple[str, int] | None:
    """(case id, version) of a case item in DynamoDB JSON (a stream record's NewImage), or None
    for any other item of the table."""
    pk, sk = image.get("pk", {}).get("S", ""), image.get("sk", {}).get("S", "")
    version = image.get("version", {}).get("N")
    if sk != CASE_SK or not pk.startswith(CASE_PREFIX) or version is None:
        return None
    return pk.removeprefix(CASE_PREFIX), int(version)


def queue_pk(team: Team | str, status: CaseStatus | str) -> str:
    return f"TEAM#{Team(team).value}#STATUS#{CaseStatus(status).value}"


def case_item(case: Case) -> dict[str, Any]:
    data = case.model_dump(mode="json", exclude={"interactions"})
    data.update(
        pk=case_pk(case.id),
        sk=CASE_SK,
        entity="case",
        queue_pk=queue_pk(case.team, case.status),
        queue_sk=f"{iso(case.running_due)}#{case.id}",
        opened_at=iso(case.opened_at),
    )
    return to_item(data)


def case_from_item(item: dict[str, Any]) -> Case:
    data = from_item(item)
    for key in _STORAGE_ONLY:
        data.pop(key, None)
    return Case.model_validate(data)


def timeline_item(case_id: str, ref: InteractionRef) -> dict[str, Any]:
    data = ref.model_dump(mode="json")
    data.update(pk=case_pk(case_id), sk=f"{TIMELINE_PREFIX}{iso(ref.occurred_at)}#{ref.id}", entity="interaction")
    return to_item(data)


def ref_from_item(item: dict[str, Any]) -> InteractionRef:
    data = from_item(item)
    return InteractionRef.model_validate({k: v for k, v in data.items() if k in InteractionRef.model_fields})
