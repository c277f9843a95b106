"""CrmRetryFunction: the CRM retry queue's consumer - hand each due retry back to crm-sync.fifo."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from socialcare.flows.crm_retry import build
from socialcare.observability import logger, metrics, tracer

flow = build()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return flow.handle_batch(event, context)
