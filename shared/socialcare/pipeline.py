"""The processor's per-event flow (inbound.fifo -> ProcessorFunction).

    recognise the customer -> store the interaction (deduped for good) -> thread into a case
    -> triage/route -> team queues and CRM sync

Every step is idempotent on the interaction id, because SQS and every platform deliver at
least once: a redelivered event that was already stored is a duplicate *unless* its downstream
steps never finished (the interaction item has no case yet), in which case they are resumed.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from socialcare import cases, identity, workitems
from socialcare.channels import media
from socialcare.crm import queue as crm_queue
from socialcare.ingest import decode_raw
from socialcare.models.interaction import Action, Direction, InboundEvent, Interaction
from socialcare.observability import logger, metrics
from socialcare.store.profiles import ProfilesRepository


def handle_record(record: SQSRecord) -> None:
    """Batch record handler: raise to leave the record on the queue (retry, then DLQ)."""
    event = InboundEvent.model_validate(json.loads(record.body))
    logger.set_correlation_id(event.event_id)
    process(event)


def process(event: InboundEvent) -> dict[str, Any]:
    repo = ProfilesRepository.default()
    raw = decode_raw(event.raw)
    if event.action is Action.STATUS and event.status is not None:
        repo.record_status(event.status)
        metrics.add_metric(name="DeliveryStatuses", unit=MetricUnit.Count, value=1)
        return {"status": "recorded"}
    if event.action is Action.DELETE:
        found = repo.mark_deleted(event.target_id or "")
        return {"status": "deleted" if found else "unknown"}
    interaction = event.interaction
    if interaction is None:
        raise ValueError(f"{event.action} event without an interaction")
    if event.action is Action.EDIT and repo.apply_edit(interaction, raw):
        return {"status": "edited"}
    # CREATE, or an edit of something we never saw: store it as new.
    recognition = identity.recognise(interaction)
    if interaction.attachments:
        # before the store, so the stored interaction carries each attachment's s3_key
        interaction = media.store_attachments(interaction, recognition.customer_id)
    stored = repo.record_interaction(recognition.customer_id, interaction, raw)
    if not stored.created:
        metrics.add_metric(name="DuplicateInteractions", unit=MetricUnit.Count, value=1)
        if stored.deleted:
            # Deleted by its author before we stored it (a tombstone): never thread or route it.
            return {"status": "deleted", "customer_id": recognition.customer_id}
        if stored.case_id is not None:
            return {"status": "duplicate", "customer_id": recognition.customer_id}
    else:
        metrics.add_metric(name="Interactions", unit=MetricUnit.Count, value=1)
    case_id = thread_into_case(repo, interaction, recognition.customer_id, recognition.context)
    return {"status": "stored", "customer_id": recognition.customer_id, "case_id": case_id}


def thread_into_case(
    repo: ProfilesRepository, interaction: Interaction, customer_id: str, context: dict[str, Any]
) -> str | None:
    """Case (whose every version the cases repository queues for the CRM), work items, profile
    context; then mark the interaction threaded.

    The interaction's case id is written LAST: it is what tells a redelivery that everything
    downstream happened. Each step before it is idempotent (the case service on the
    interaction id, the queues on stable dedupe ids), so a crash anywhere is resumed whole.
    """
    outcome = cases.on_interaction(interaction, customer_id, context)
    case = outcome.case
    if case is None:  # spam from a stranger: stored on the timeline, no case, no work
        metrics.add_metric(name="SpamInteractions", unit=MetricUnit.Count, value=1)
        return None
    workitems.send(outcome.work_items)
    if outcome.duplicate:
        # Resuming after a crash: the write's own CRM mirror may never have been sent.
        crm_queue.enqueue_sync(case.id, case.version, reason=f"resumed {interaction.id}")
    fields: dict[str, Any] = {
        "open_case_id": case.id if case.is_open else None,
        "case_priority": case.priority.value if case.is_open else None,
    }
    if outcome.triage is not None and interaction.direction is Direction.INBOUND:
        fields["last_sentiment"] = outcome.triage.sentiment.label
    if outcome.created:
        fields["add_previous_case"] = case.id
    repo.update_context(customer_id, **fields)
    repo.set_interaction_case(interaction.id, case.id)
    return case.id
