"""TeamDispatcherFunction: deliver a team queue's work items to the team's destination
(one function per queue, SOCIALCARE_TEAM = social | callcentre)."""

from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from socialcare.flows.dispatcher import build
from socialcare.observability import logger, metrics, tracer

flow = build()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return flow.handle_batch(event, context)
