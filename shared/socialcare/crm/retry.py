"""The CRM retry queue: where a crm-sync trigger waits out a rate limit or an outage.

crm-sync.fifo cannot delay one message (FIFO queues have no per-message ``DelaySeconds``), and
every receive of it counts towards ``maxReceiveCount``, so waiting there by visibility timeout
spends the trigger's life on a CRM that only said "not now". Instead the sync acknowledges the
trigger and puts it off here - a standard queue, which delays each message by up to 15 minutes -
with the counters of ``CrmSyncRequest``: ``attempt`` (failures that were not rate limits: the
budget) and ``deferrals`` (every put-off). ``Publisher.crm_retries`` sends them, each delayed
until it is due; CrmRetryFunction (``flows/crm_retry.py``) hands each one back to crm-sync.fifo
when it is due, under the case's message group.

``put_off`` is the policy (pure).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from socialcare.models.crm import CrmSyncRequest


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
