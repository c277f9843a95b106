"""CrmRetryFunction: hand put-off CRM syncs back to crm-sync.fifo when they are due.

The retry queue (``crm/retry.py``) delivers a message once its ``DelaySeconds`` passed. A message
whose ``not_before`` is still ahead (a wait longer than SQS's 15-minute delay) is sent back to the
retry queue for the rest; a due one is published to crm-sync.fifo under its case's message group,
so a case is never synced by two invocations at once. Its dedupe id carries ``attempt`` and
``deferrals``: a copy of the same hop (the standard queue delivers at least once) is dropped by
SQS, a later hop is not. Anything failing here fails the record: the retry queue retries it and
moves it to its DLQ after its ``maxReceiveCount``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from socialcare.config.settings import CrmRetrySettings, load
from socialcare.flows.wiring import Wiring, required
from socialcare.models.crm import CrmSyncRequest
from socialcare.observability import logger, metrics
from socialcare.ports import Publisher


class RetryRelay:
    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher
        self.processor = BatchProcessor(event_type=EventType.SQS)

    def handle_batch(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        return dict(process_partial_response(event=event, record_handler=self.handle_record,
                                             processor=self.processor, context=context))

    def handle_record(self, record: SQSRecord) -> str:
        request = CrmSyncRequest.model_validate_json(record.body)  # our own message: a bad one is a bug (DLQ)
        logger.append_keys(case_id=request.case_id)
        if request.due_in() > 0:
            self.publisher.crm_retries([request])  # refused: PublishFailed fails the record
            return "waiting"
        self.publisher.crm_syncs([request])
        metrics.add_metric(name="CrmSyncRetriesRelayed", unit=MetricUnit.Count, value=1)
        return "relayed"


def build(wiring: Wiring | None = None) -> RetryRelay:
    """CrmRetryFunction's flow, its settings validated at cold start."""
    w = wiring or Wiring(load(CrmRetrySettings))
    required(w.settings, "crm_retry_queue_url")  # fail the cold start, not every record
    return RetryRelay(w.publisher)
