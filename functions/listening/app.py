"""ListeningFunction: scheduled X search for unaddressed brand mentions and competitors (daily read
budget), and the weekly CSAT and listening digest."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from socialcare.flows.listening_search import build
from socialcare.observability import logger, metrics, tracer

flow = build()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return flow.handle(event, context)
