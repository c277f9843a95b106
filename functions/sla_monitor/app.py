"""SlaMonitorFunction: every minute, escalate open cases whose SLA clock ran out (once each)."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from socialcare import cases
from socialcare.observability import logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    escalated = cases.escalate_breaches()
    metrics.add_metric(name="SlaBreaches", unit=MetricUnit.Count, value=len(escalated))
    if escalated:
        logger.info("SLA breaches escalated", extra={"cases": [e.case_id for e in escalated]})
    return {"escalated": [e.case_id for e in escalated]}
