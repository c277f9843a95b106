"""ReportAggregatorFunction: the tables' streams counted into the report's day counters.

Two event source mappings feed it (template.yaml): ProfilesTable's stream, filtered to inserted
timeline items, and CasesTable's - the same stream CaseStreamFunction reads, with a filter of its
own - filtered to case versions and inserted case-timeline items. The aggregator
(``domain.reporting.aggregator``) counts each fact once; a batch it could not finish reports
its first uncounted record, so Lambda retries from there (docs/reports.md).
"""

from __future__ import annotations

from typing import Any

from socialcare.config.settings import ReportAggregatorSettings, load
from socialcare.flows.wiring import Wiring
from socialcare.observability import count, logger


class ReportAggregation:
    def __init__(self, wiring: Wiring) -> None:
        self.w = wiring

    def handle_batch(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        records = event.get("Records") or []
        if not records:
            return {"batchItemFailures": []}
        try:
            outcome = self.w.report_aggregator.aggregate(records)
        except Exception:  # noqa: BLE001 - report the batch, never lose it: Lambda retries it
            logger.exception("report counters not written; the stream retries the batch")
            count("ReportRecordsFailed", len(records))
            return _failed(str(records[0]["dynamodb"]["SequenceNumber"]))
        count("ReportFactsCounted", outcome.counted)
        if outcome.failed_sequence is not None:
            count("ReportRecordsFailed", 1)
            return _failed(outcome.failed_sequence)
        return {"batchItemFailures": []}


def _failed(sequence: str) -> dict[str, Any]:
    """Lambda retries the batch from this record on (the ones before it are counted)."""
    return {"batchItemFailures": [{"itemIdentifier": sequence}]}


def build() -> ReportAggregation:
    """ReportAggregatorFunction's flow, its settings validated at cold start."""
    return ReportAggregation(Wiring(load(ReportAggregatorSettings)))
