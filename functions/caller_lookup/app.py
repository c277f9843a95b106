"""CallerLookupFunction: Amazon Connect contact-flow lookup of the caller (flat string map)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from socialcare.flows.caller_lookup import build
from socialcare.observability import logger, metrics, tracer

flow = build()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    return flow.handle(event, context)
