"""``socialcare crm reconcile``: find cases whose CRM copy lags, and re-publish their syncs.

A case lags when the CRM acknowledged a lower version than the case has (or none) - a sync that
went to the DLQ, a CRM outage longer than the queue's retention, a provider switch. Re-publishing
is always safe: the sync reads the current case and drops versions the CRM already has. The
stream makes this a safety net, not the mechanism: every saved version is relayed already.

``ScheduledReconcile`` is CrmReconcileFunction: the template's schedule (``CrmReconcileSchedule``,
every 15 minutes by default) runs the sweep, so what a long CRM outage left behind - triggers the
retry queue stopped circulating, syncs in the DLQ - catches up without anyone running the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from socialcare.config.settings import ReconcileSettings, load
from socialcare.errors import ConfigurationError
from socialcare.flows.wiring import Wiring
from socialcare.models.crm import CrmSyncRequest
from socialcare.observability import logger, metrics
from socialcare.store.cases import LaggingCase


@dataclass
class ReconcileReport:
    lagging: list[LaggingCase] = field(default_factory=list)
    enqueued: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def reconcile(wiring: Wiring | None = None, *, dry_run: bool = False, limit: int | None = None) -> ReconcileReport:
    """List lagging cases and (unless ``dry_run``) publish a sync of each at its current version."""
    w = wiring or Wiring(load(ReconcileSettings))
    if not dry_run and not w.settings.crm_configured:
        # CrmSyncFunction would only drop them: set the provider the stack's CRM uses.
        raise ConfigurationError("SOCIALCARE_CRM_PROVIDER is none: there is no CRM to re-enqueue cases for")
    provider = w.settings.crm_provider if w.settings.crm_configured else None
    report = ReconcileReport()
    for case in w.cases_repo.lagging_cases(provider=provider):
        if limit is not None and len(report.lagging) >= limit:
            break
        report.lagging.append(case)
        if dry_run:
            continue
        try:
            w.publisher.crm_syncs([CrmSyncRequest(case_id=case.case_id, version=case.version, reason="reconcile")])
        except Exception as exc:  # one bad case must not stop the sweep; the report shows it
            report.failed[case.case_id] = str(exc)
        else:
            report.enqueued.append(case.case_id)
    return report


SCHEDULED_LIMIT = 2000  # cases re-published per scheduled run: fits the function's timeout; the next run goes on


class ScheduledReconcile:
    """One scheduled sweep: nothing to do without a CRM; failures are logged and counted, and
    the next run retries them (a run never raises for one bad case)."""

    def __init__(self, wiring: Wiring, *, limit: int | None = SCHEDULED_LIMIT) -> None:
        self.wiring = wiring
        self.limit = limit

    def handle(self, event: Any = None, context: Any = None) -> dict[str, Any]:
        if not self.wiring.settings.crm_configured:
            return {"skipped": "no CRM configured"}
        report = reconcile(self.wiring, limit=self.limit)
        summary = {"lagging": len(report.lagging), "enqueued": len(report.enqueued), "failed": len(report.failed)}
        metrics.add_metric(name="CrmReconcileEnqueued", unit=MetricUnit.Count, value=len(report.enqueued))
        metrics.add_metric(name="CrmReconcileFailed", unit=MetricUnit.Count, value=len(report.failed))
        (logger.error if report.failed else logger.info)("crm reconcile", extra={**summary,
                                                                                 "failed_cases": sorted(report.failed)})
        return summary


def build(wiring: Wiring | None = None) -> ScheduledReconcile:
    """CrmReconcileFunction's flow, its settings validated at cold start."""
    return ScheduledReconcile(wiring or Wiring(load(ReconcileSettings)))
