"""CRM sync both ways (issue 6): adapters, the sync consumer, inbound CRM webhooks, reconcile.

Kept import-light: the processor imports ``enqueue_sync`` on its hot path, so the adapters,
Powertools batch/idempotency and requests load only where they are used.
"""

from socialcare.crm.queue import enqueue_sync

__all__ = ["enqueue_sync"]
