"""CaseStreamFunction: every saved case version becomes a crm-sync message.

CasesTable's stream (NEW_IMAGE) feeds this function through an event source mapping filtered to
case items (``pk = CASE#…, sk = CASE``, inserts and modifications), so the CRM learns of every version
written - by the processor, an agent, the SLA monitor, a merge or the CRM itself - even when the
function that wrote it died right after the write: DynamoDB keeps the record for 24 hours and
Lambda retries the stream until this function has published it. Nothing that writes a case has
to remember to tell the CRM.

Publishing is idempotent on (case id, version): a repeated stream record is dropped by SQS
within five minutes and by the CRM sync (which skips versions the CRM already has) after that.
A failed publish reports the first unpublished record, so Lambda retries from there in order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from socialcare.config.settings import CaseStreamSettings, load
from socialcare.flows.wiring import Wiring
from socialcare.models.crm import CrmSyncRequest
from socialcare.observability import count, erase_for_log, logger
from socialcare.publish import SQS_BATCH, PublishFailed
from socialcare.store.cases.items import case_version_of


def sync_requests(event: dict[str, Any]) -> Iterator[tuple[str, CrmSyncRequest | None]]:
    """(sequence number, the sync request of its case version, or None for a record to skip)."""
    for record in event.get("Records") or []:
        change = record.get("dynamodb") or {}
        sequence = str(change.get("SequenceNumber", ""))
        found = case_version_of(change.get("NewImage") or {}) if record.get("eventName") != "REMOVE" else None
        if found is None:
            yield sequence, None  # not a case version: the mapping's filter should have dropped it
            continue
        try:
            yield sequence, CrmSyncRequest(case_id=found[0], version=found[1], reason="case saved")
        except ValidationError as exc:
            # One record that can never be published must not block its shard for 24 hours.
            # where and why, never the image's values (an error quotes its input)
            logged = erase_for_log({"sequence": sequence, "errors": exc.errors()}, values=["errors[*].input"])
            logger.error("case version not relayable", extra=logged)
            count("CaseVersionsUnrelayable", 1)
            yield sequence, None


class CaseStream:
    def __init__(self, wiring: Wiring) -> None:
        self.w = wiring

    def handle_batch(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        pending = [(seq, request) for seq, request in sync_requests(event) if request is not None]
        for start in range(0, len(pending), SQS_BATCH):
            chunk = pending[start : start + SQS_BATCH]
            try:
                self.w.publisher.crm_syncs([request for _, request in chunk])
            except PublishFailed:
                logger.exception("case versions not relayed; the stream retries from the first of them")
                count("CaseVersionsRelayFailed", len(pending) - start)
                # Lambda resumes the shard from the lowest sequence number reported.
                return {"batchItemFailures": [{"itemIdentifier": chunk[0][0]}]}
        count("CaseVersionsRelayed", len(pending))
        return {"batchItemFailures": []}


def build() -> CaseStream:
    """CaseStreamFunction's flow, its settings validated at cold start."""
    return CaseStream(Wiring(load(CaseStreamSettings)))
