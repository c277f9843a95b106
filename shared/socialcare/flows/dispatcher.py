"""TeamDispatcherFunction: deliver a team queue's work items to the team's destination.

One function per queue (``SOCIALCARE_TEAM`` = social | callcentre). FIFO partial batch failures:
a failing item stops only its own case's later items (skip_group_on_error), which are retried in
order; the other cases in the batch go through. A body that is not a valid work item raises
(retried, then kept in the DLQ with its body for inspection).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from socialcare.config.settings import TeamDispatcherSettings, load
from socialcare.flows.wiring import Wiring
from socialcare.models.case import Team
from socialcare.models.workitem import WorkItem
from socialcare.observability import logger


class Dispatcher:
    def __init__(self, wiring: Wiring, team: Team) -> None:
        self.w = wiring
        self.team = team
        self.batch = SqsFifoPartialProcessor(skip_group_on_error=True)

    def handle_batch(self, event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
        self.w.guard.register(context)
        return process_partial_response(event=event, record_handler=self.handle_record, processor=self.batch,
                                        context=context)

    def handle_record(self, record: SQSRecord) -> str:
        item = WorkItem.model_validate_json(record.body)
        where = self.w.delivery.deliver(item, self.team)
        logger.info("work item delivered", extra={"item_id": item.item_id, "case_id": item.case.id, "to": where})
        return where


def build() -> Dispatcher:
    """A team dispatcher's flow, its settings (and its team) validated at cold start."""
    settings = load(TeamDispatcherSettings)
    return Dispatcher(Wiring(settings), Team(settings.team))
