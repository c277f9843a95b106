"""Meta webhook (page, instagram, whatsapp_business_account): verification, signature check, split, publish."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from socialcare.flows.webhooks_meta import meta_app
from socialcare.observability import logger, metrics, tracer

app = meta_app()


# The request id is the correlation id until the body names the platform event (flows.webhooks.ingest).
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
