"""ProcessorFunction: one inbound event (inbound.fifo) from a platform to a case and its team.

    recognise the customer -> fetch its media -> store the interaction (deduped for good)
    -> thread it into a case (triage, SLA, routing; the case service publishes the team's
    work item) -> note the case on the profile -> mark the interaction threaded

Every saved case version then reaches the CRM through the cases table's stream
(``flows.case_stream``), whether or not this function lives to the end.

Every step is idempotent on the interaction id, because SQS and every platform deliver at
least once: a redelivered event that was already stored is a duplicate *unless* its downstream
steps never finished (the interaction has no case yet), in which case they are resumed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from socialcare.config.settings import ProcessorSettings, load
from socialcare.domain.cases.common import JoinedOps
from socialcare.domain.identity.service import Recognition
from socialcare.errors import PublishFailed
from socialcare.flows.wiring import Wiring
from socialcare.models.case import Case, Team
from socialcare.models.interaction import Action, Direction, InboundEvent, Interaction
from socialcare.models.profile import RecordResult
from socialcare.models.triage import Triage
from socialcare.observability import logger, metrics
from socialcare.publish import WorkItemOutbox, unwrap_body
from socialcare.store.profiles.items import Tombstoned


class Processor:
    def __init__(self, wiring: Wiring) -> None:
        self.w = wiring
        # skip_group_on_error: a failing record holds back only its own author's later events,
        # not every other customer's in the batch.
        self.batch = SqsFifoPartialProcessor(skip_group_on_error=True)
        # The batch's work items leave together, one SendMessageBatch per team (publish.py).
        self.outbox = WorkItemOutbox(wiring.publisher)
        wiring.threading.publisher = self.outbox
        s = wiring.settings
        destinations = {Team.SOCIAL: s.social_destination, Team.CALLCENTRE: s.callcentre_destination}
        wiring.threading.held_teams = frozenset(t for t, where in destinations.items() if where != "chat")

    def handle_batch(self, event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
        self.outbox.open()
        response = process_partial_response(event=event, record_handler=self.handle_record, processor=self.batch,
                                             context=context)
        try:
            self.outbox.flush()
        except PublishFailed:
            # Stored and threaded, but its work items did not leave: every record comes back as a
            # duplicate and publishes the same item ids again (never a lost work item).
            logger.warning("work items not published: the batch is retried", exc_info=True)
            return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event.get("Records", [])]}
        return response

    def handle_record(self, record: SQSRecord) -> None:
        """Raise to leave the record on the queue (retried, then dead-lettered)."""
        # a large event travels compressed or as a claim check on the media bucket (publish.py)
        event = InboundEvent.model_validate_json(unwrap_body(record.body, self.w.media_store))
        logger.set_correlation_id(event.event_id)
        try:
            self.process(event)
        except Tombstoned:  # a redelivery of an erased message: dropped, nothing written
            metrics.add_metric(name="ErasedRedeliveries", unit=MetricUnit.Count, value=1)

    def process(self, event: InboundEvent) -> dict[str, Any]:
        profiles = self.w.profiles
        raw = event.raw_payload()
        if event.action is Action.STATUS and event.status is not None:
            profiles.record_status(event.status)
            metrics.add_metric(name="DeliveryStatuses", unit=MetricUnit.Count, value=1)
            # a receipt for one of our replies moves its state on the case (sent -> delivered -> read, or failed)
            from socialcare.domain.replies.sent import record_receipt  # only receipts pay for this import

            moved = record_receipt(profiles, self.w.cases_repo, event.status)
            return {"status": "recorded", "reply_state": event.status.status if moved else None}
        if event.action is Action.DELETE:
            found = profiles.mark_deleted(event.target_id or "", bodies=self.w.media_store)
            return {"status": "deleted" if found else "unknown"}
        if event.action is Action.REACT:
            return self.react(event)
        interaction = event.interaction
        if interaction is None:
            raise ValueError(f"{event.action} event without an interaction")
        if event.action is Action.EDIT and profiles.apply_edit(interaction, raw, target_id=event.target_id,
                                                               bodies=self.w.media_store):
            return {"status": "edited"}
        # CREATE, or an edit of something we never saw: store it as new.
        # A Messenger/Instagram DM carries no name: the sender's platform profile gives it, as evidence.
        interaction, platform_name = self.w.platform_names.fill(interaction)
        recognition = self.recognise(interaction, event)
        self.w.platform_names.remember(platform_name)  # cached on the identity recognition wrote
        customer_id = recognition.customer_id
        if interaction.attachments:
            # before the store, so the stored interaction carries each attachment's s3_key
            interaction = self.w.media.store_attachments(interaction, customer_id)
        stored = profiles.record_interaction(customer_id, interaction, raw, via=self.w.identity.via(interaction),
                                             bodies=self.w.media_store)  # a text too large for an item: S3
        if stored.created:
            metrics.add_metric(name="Interactions", unit=MetricUnit.Count, value=1)
        else:
            metrics.add_metric(name="DuplicateInteractions", unit=MetricUnit.Count, value=1)
            if stored.deleted:
                # Deleted by its author before we stored it (a tombstone): never thread or route it.
                return {"status": "deleted", "customer_id": customer_id}
            if stored.case_id is not None:
                # Threaded already - but its work item may not have been published when the first
                # delivery stopped (the case and the mark are one transaction, published after):
                # publish it again, with the same id, so the dispatcher sees it once.
                self.w.threading.on_interaction(interaction, stored.customer_id or customer_id, recognition.context)
                return {"status": "duplicate", "customer_id": customer_id}
        survey_case_id = recognition.context.get("survey_case_id")
        if survey_case_id:  # only a customer whose profile says a survey awaits her rating
            rated = self.rate(interaction, stored, customer_id, str(survey_case_id))
            if rated is not None:
                return rated
        case_id = self.thread_into_case(interaction, stored, customer_id, recognition)
        return {"status": "stored", "customer_id": customer_id, "case_id": case_id}

    def rate(self, interaction: Interaction, stored: RecordResult, customer_id: str,
             survey_case_id: str) -> dict[str, Any] | None:
        """The customer's rating of a resolved case, stored without reopening it (None: not a
        rating, ordinary threading follows; domain.satisfaction.answers)."""
        from socialcare.store.profiles.items import timeline_sk

        owner = stored.customer_id or customer_id
        sk = stored.timeline_sk or timeline_sk(interaction.occurred_at, interaction.id)
        answered = self.w.survey_answers.answer(interaction, owner, survey_case_id, sk, now=datetime.now(UTC))
        if answered is None:
            return None
        self.outbox.work_items(answered.work_items)
        return {"status": "rated", "customer_id": owner, "case_id": answered.case.id, "score": answered.csat.score}

    def recognise(self, interaction: Interaction, event: InboundEvent) -> Recognition:
        """The customer; ``Tombstoned`` for a redelivery of an erased message, dropped before
        anything is written: its tombstone is read in recognition's own BatchGetItem
        (docs/privacy.md). Without the salt the tombstones cannot be checked: fail closed."""
        marks = self.w.privacy.hasher.messages([interaction.id, event.target_id])
        return self.w.identity.recognise(interaction, tombstones=marks)

    def react(self, event: InboundEvent) -> dict[str, Any]:
        """A reaction, or its removal (empty emoji), recorded on the message it names - and
        nothing else: no message, no case, no routing. A message we never stored: "unknown"."""
        reaction = event.interaction
        if reaction is None or not event.target_id:
            logger.warning("a reaction without its author or its message", extra={"event_id": event.event_id})
            return {"status": "unknown"}
        emoji = reaction.content.get("emoji", reaction.text)
        found = self.w.profiles.apply_reaction(event.target_id, reaction.author.id, str(emoji or ""),
                                               reaction.occurred_at)
        if not found:
            return {"status": "unknown"}
        metrics.add_metric(name="Reactions", unit=MetricUnit.Count, value=1)
        return {"status": "reacted" if emoji else "unreacted"}

    def thread_into_case(self, interaction: Interaction, stored: RecordResult, customer_id: str,
                         recognition: Recognition) -> str | None:
        """The case (its work items published by the case service), the profile's context and the
        interaction marked threaded - in the case's own transaction when the interaction was just
        stored (one write). Otherwise (a resumed redelivery, or a path that writes the case apart)
        the context, then the mark LAST: that is what tells a redelivery that everything
        downstream happened. Each step is idempotent, so a crash anywhere resumes whole.
        """
        owner = stored.customer_id or customer_id
        joined: JoinedOps | None = None
        if stored.created and stored.timeline_sk:
            timeline_sk = stored.timeline_sk

            def joined(case: Case, created: bool, triage: Triage) -> list[dict[str, Any]]:
                fields = context_fields(case, created, triage, interaction)
                return self.w.profiles.threaded_ops(owner, interaction.id, timeline_sk, case.id, **fields)

        outcome = self.w.threading.on_interaction(
            interaction, customer_id, recognition.context, first_seen=stored.created,
            new_customer=recognition.created and stored.created, joined=joined)
        case = outcome.case
        if case is None:  # spam from a stranger: stored on the timeline, no case, no work
            metrics.add_metric(name="SpamInteractions", unit=MetricUnit.Count, value=1)
            return None
        if not outcome.joined:
            self.w.profiles.update_context(customer_id, **context_fields(case, outcome.created, outcome.triage,
                                                                         interaction))
            self.w.profiles.set_interaction_case(interaction.id, case.id)
        return case.id


def context_fields(case: Case, created: bool, triage: Triage | None, interaction: Interaction) -> dict[str, Any]:
    """What the profile's context says of the customer's case after this interaction."""
    fields: dict[str, Any] = {
        "open_case_id": case.id if case.is_open else None,
        "case_priority": case.priority.value if case.is_open else None,
    }
    if triage is not None and interaction.direction is Direction.INBOUND:
        fields["last_sentiment"] = triage.sentiment.label
    if created:
        fields["add_previous_case"] = case.id
    return fields


def build() -> Processor:
    """ProcessorFunction's flow, its settings validated at cold start."""
    return Processor(Wiring(load(ProcessorSettings)).check_rules())
