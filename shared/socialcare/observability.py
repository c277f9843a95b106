"""Powertools Logger, Tracer and Metrics, one of each per execution environment.

Service name and namespace come from POWERTOOLS_* in the template's Globals. Every log record is
scrubbed of credentials as it is written (``ScrubbingFormatter``), whatever code logs it: an
error text that carries a URL with ``?access_token=…`` or an ``Authorization`` header never
reaches a log line.
"""

from __future__ import annotations

import logging
import os

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from socialcare.redact import scrub


class ScrubbingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON log record, with every credential value replaced by ``[REDACTED]``.

    Scrubbed after serialisation, so the message, every extra key, the exception and its stack
    trace are all covered; the replacement holds no quote, so the line stays valid JSON.
    """

    def format(self, record: logging.LogRecord) -> str:  # noqa: A003 - the logging API's name
        return scrub(super().format(record))


logger = Logger(logger_formatter=ScrubbingFormatter())
tracer = Tracer()
metrics = Metrics()

DEFAULT_NAMESPACE = "SocialCare"


def count(name: str, value: float = 1, **dimensions: str) -> None:
    """One EMF metric with its own dimensions (channel, reason), flushed immediately, so a
    metric per channel does not fight the function-wide dimension set of ``metrics``."""
    # The template sets POWERTOOLS_METRICS_NAMESPACE; without it a metric must still not turn an
    # accepted webhook into a 500 (and a platform retry), so fall back to the project's namespace.
    namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE
    with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=namespace) as metric:
        for key, dim in dimensions.items():
            metric.add_dimension(name=key, value=dim)
