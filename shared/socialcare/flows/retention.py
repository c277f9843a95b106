"""RetentionSweepFunction: daily, give every customer past the retention period an erasure job
(``domain.privacy.retention``); ErasureFunction runs them like any other erasure."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from socialcare.config.settings import RetentionSweepSettings, load
from socialcare.flows.wiring import Wiring
from socialcare.observability import logger, metrics


class RetentionRun:
    def __init__(self, wiring: Wiring) -> None:
        self.w = wiring

    def handle(self, event: Any = None, context: Any = None) -> dict[str, Any]:
        report = self.w.privacy.retention.sweep()
        metrics.add_metric(name="RetentionErasures", unit=MetricUnit.Count, value=len(report.jobs))
        logger.info("retention sweep", extra={"cutoff": report.cutoff, "candidates": report.candidates,
                                              "jobs": len(report.jobs)})
        return {"cutoff": report.cutoff, "candidates": report.candidates, "jobs": len(report.jobs)}


def build(wiring: Wiring | None = None) -> RetentionRun:
    """RetentionSweepFunction's flow, its settings validated at cold start."""
    return RetentionRun(wiring or Wiring(load(RetentionSweepSettings)))
