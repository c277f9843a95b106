"""ProcessorFunction: inbound.fifo consumer (partial batch failures, order kept per author)."""

from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from socialcare.observability import logger, metrics, tracer
from socialcare.pipeline import handle_record

# skip_group_on_error: a failing record holds back only its own author's later events, not
# every other customer's in the batch.
processor = SqsFifoPartialProcessor(skip_group_on_error=True)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
