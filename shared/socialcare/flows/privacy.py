"""ErasureFunction's flow (docs/privacy.md): one ErasureQueue message per erasure job; a job
that fails (a crash, a timeout, a CRM outage) is retried by SQS and resumes at its first step not
done, then goes to the DLQ with its reason. The services are ``flows.privacy_services``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from socialcare.config.settings import ErasureSettings, load
from socialcare.errors import NotFound
from socialcare.flows.wiring import Wiring
from socialcare.models.privacy import ErasureRequest
from socialcare.observability import logger, metrics


class ErasureConsumer:
    """ErasureFunction: run each job of the batch; a failed one is retried by SQS (partial
    batch failures) and resumes where it stopped."""

    def __init__(self, wiring: Wiring) -> None:
        self.w = wiring
        self.batch = BatchProcessor(event_type=EventType.SQS)

    def handle_batch(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        return dict(process_partial_response(event=event, record_handler=self.handle_record, processor=self.batch,
                                             context=context))

    def handle_record(self, record: SQSRecord) -> str:
        request = ErasureRequest.model_validate_json(record.body)
        logger.append_keys(erasure_job=request.job_id)
        try:
            job = self.w.privacy.erasure.run(request.job_id)
        except NotFound:
            # no such job: retrying can never help (jobs are recorded before they are queued)
            logger.warning("erasure job unknown: message dropped")
            return "unknown"
        finally:
            logger.remove_keys(["erasure_job"])
        metrics.add_metric(name="Erasures", unit=MetricUnit.Count, value=1)
        return job.status.value


def build(wiring: Wiring | None = None) -> ErasureConsumer:
    """ErasureFunction's flow, its settings validated at cold start."""
    return ErasureConsumer(wiring or Wiring(load(ErasureSettings)))
