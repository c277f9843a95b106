"""WeeklyReportFunction: on its schedule, last week's stakeholder report (HTML, CSVs) to the media bucket."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from socialcare.flows.report import build_weekly
from socialcare.observability import logger, metrics, tracer

flow = build_weekly()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return flow.handle(event, context)
