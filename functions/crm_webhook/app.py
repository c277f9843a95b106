"""CrmWebhookFunction: POST /webhooks/crm/{provider} - verify the CRM's signature, apply updates."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from socialcare.flows.crm_webhook import build
from socialcare.observability import logger, metrics, tracer

app = build()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
