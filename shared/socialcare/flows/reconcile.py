"""``socialcare crm reconcile``: find cases whose CRM copy lags, and re-publish their syncs.

A case lags when the CRM acknowledged a lower version than the case has (or none) - a sync that
went to the DLQ, a CRM outage longer than the queue's retention, a provider switch. Re-publishing
is always safe: the sync reads the current case and drops versions the CRM already has. The
stream makes this a safety net, not the mechanism: every saved version is relayed already.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from socialcare.config.settings import ReconcileSettings, load
from socialcare.errors import ConfigurationError
from socialcare.flows.wiring import Wiring
from socialcare.models.crm import CrmSyncRequest
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
