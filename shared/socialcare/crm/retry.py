"""The CRM retry queue: where a crm-sync trigger waits out a rate limit or an outage.

crm-sync.fifo cannot delay one message (FIFO queues have no per-message ``DelaySeconds``), and
every receive of it counts towards ``maxReceiveCount``, so waiting there by visibility timeout
spends the trigger's life on a CRM that only said "not now". Instead the sync acknowledges the
trigger and puts it off here - a standard queue, which delays each message by up to 15 minutes -
with the counters of ``CrmSyncRequest``: ``attempt`` (failures that were not rate limits: the
budget) and ``deferrals`` (every put-off). CrmRetryFunction (``flows/crm_retry.py``) hands each
one back to crm-sync.fifo when it is due, under the case's message group.

``put_off`` is the policy (pure); ``RetryQueue`` the sends.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from socialcare.models.crm import CrmSyncRequest
from socialcare.observability import logger

MAX_DELAY = 900  # SQS: a message can be delayed at most 15 minutes; longer waits re-delay in the relay
_BATCH = 10


def put_off(request: CrmSyncRequest, *, delay: float, rate_limited: bool,
            now: datetime | None = None) -> CrmSyncRequest:
    """The retry of ``request``: due in ``delay`` s, one more deferral, and one more attempt
    unless the failure was a rate limit (which never spends the budget)."""
    now = now or datetime.now(UTC)
    return request.model_copy(update={
        "attempt": request.attempt + (0 if rate_limited else 1),
        "deferrals": request.deferrals + 1,
        "first_deferred_at": request.first_deferred_at or now,
        "not_before": now + timedelta(seconds=max(0.0, delay)),
        "reason": "retry",
    })


def seconds_until(request: CrmSyncRequest, now: datetime | None = None) -> int:
    """Whole seconds until ``request`` is due (0 when it is)."""
    if request.not_before is None:
        return 0
    remaining = (request.not_before - (now or datetime.now(UTC))).total_seconds()
    return max(0, math.ceil(remaining))


class RetryQueue:
    """Sends put-off triggers to the retry queue, each delayed until it is due (at most 15 min)."""

    def __init__(self, sqs: Any, url: str) -> None:
        self.sqs = sqs
        self.url = url

    def send(self, requests: Sequence[CrmSyncRequest], now: datetime | None = None) -> list[CrmSyncRequest]:
        """Send each request; returns those SQS did not take (the caller keeps them another way)."""
        failed: list[CrmSyncRequest] = []
        for start in range(0, len(requests), _BATCH):
            chunk = list(requests[start : start + _BATCH])
            entries = [{"Id": str(i), "MessageBody": r.queue_body(),
                        "DelaySeconds": min(MAX_DELAY, seconds_until(r, now))} for i, r in enumerate(chunk)]
            try:
                answer = self.sqs.send_message_batch(QueueUrl=self.url, Entries=entries)
            except Exception:
                logger.exception("the CRM retry queue refused a batch")
                failed += chunk
                continue
            failed += [chunk[int(f["Id"])] for f in answer.get("Failed") or []]
        return failed
