"""CaseStreamFunction: every saved case version becomes a crm-sync message.

CasesTable's stream (NEW_IMAGE) feeds this function through an event source mapping filtered to
case items (``sk = CASE``, inserts and modifications), so the CRM learns of every version
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

from socialcare.config.settings import CaseStreamSettings, load
from socialcare.flows.wiring import Wiring
from socialcare.models.crm import CrmSyncRequest
from socialcare.observability import count, logger
from socialcare.publish import PublishFailed

_CHUNK = 10  # one SendMessageBatch


def sync_requests(event: dict[str, Any]) -> Iterator[tuple[str, CrmSyncRequest | None]]:
    """(sequence number, the sync request of its case version, or None for a record to skip)."""
    for record in event.get("Records") or []:
        change = record.get("dynamodb") or {}
        image = change.get("NewImage") or {}
        sequence = str(change.get("SequenceNumber", ""))
        pk, sk = image.get("pk", {}).get("S", ""), image.get("sk", {}).get("S", "")
        version = image.get("version", {}).get("N")
        if record.get("eventName") == "REMOVE" or sk != "CASE" or not pk.startswith("CASE#") or version is None:
            yield sequence, None  # not a case version (the mapping's filter already drops these)
            continue
        yield sequence, CrmSyncRequest(case_id=pk.removeprefix("CASE#"), version=int(version), reason="case saved")


class CaseStream:
    def __init__(self, wiring: Wiring) -> None:
        self.w = wiring

    def handle_batch(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        pending = [(seq, request) for seq, request in sync_requests(event) if request is not None]
        for start in range(0, len(pending), _CHUNK):
            chunk = pending[start : start + _CHUNK]
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
