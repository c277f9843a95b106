"""Producers of crm-sync.fifo messages (the pipeline, the API, reconcile)."""

from __future__ import annotations

from socialcare import aws
from socialcare.errors import EnqueueFailed
from socialcare.models.crm import CrmSyncRequest
from socialcare.settings import get_settings


def enqueue_sync(case_id: str, version: int, *, reason: str | None = None, queue_url: str | None = None) -> str:
    """Ask CrmSyncFunction to sync ``case_id``; returns the SQS message id.

    Group = case id (one case's syncs stay in order and never run in parallel); dedupe id =
    ``<case id>:<version>``, so the same version enqueued twice within SQS's 5-minute window is
    one message. Later duplicates are harmless: the sync drops versions the CRM already has.
    """
    url = queue_url or get_settings().crm_sync_queue_url
    if not url:
        raise EnqueueFailed("crm sync queue is not configured")
    request = CrmSyncRequest(case_id=case_id, version=version, reason=reason)
    try:
        answer = aws.sqs().send_message(
            QueueUrl=url,
            MessageBody=request.model_dump_json(),
            MessageGroupId=case_id[:128],
            MessageDeduplicationId=request.dedupe_id,
        )
    except Exception as exc:
        raise EnqueueFailed(f"crm sync queue rejected case {case_id}") from exc
    return str(answer["MessageId"])
