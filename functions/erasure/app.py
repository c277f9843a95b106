"""ErasureFunction: ErasureQueue consumer - run (or resume) erasure jobs (docs/privacy.md)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from socialcare.flows.privacy import build
from socialcare.observability import logger, metrics, tracer

flow = build()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return flow.handle_batch(event, context)
