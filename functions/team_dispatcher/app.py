"""TeamDispatcherFunction: deliver a team queue's work items to the team's destination.

One function per queue (SOCIALCARE_TEAM = social | callcentre). FIFO partial batch failures:
a failing item stops only its own case's later items (skip_group_on_error), which are retried
in order; the other cases in the batch go through.
"""

from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from socialcare import workitems
from socialcare.observability import logger, metrics, tracer

processor = SqsFifoPartialProcessor(skip_group_on_error=True)


def record_handler(record: SQSRecord) -> str:
    return workitems.deliver_record(record.body)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
