"""ResponderFunction: outbound.fifo consumer - send each reply once, record it (partial batch failures)."""

from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from socialcare.flows.responder import build
from socialcare.observability import logger, metrics, tracer

flow = build()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return flow.handle_batch(event, context)
