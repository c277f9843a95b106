"""The SLA monitor: every open case whose running SLA clock is past due is escalated, once per breach.

Breaches are found through QueueIndex (``queue_sk < now`` per team and status, no scan). For
each: the escalation item goes on the owning team's queue and the alert to SNS first, with ids
derived from the breach, then the case is marked (priority one step up, status ``escalated``,
the breach recorded) with a version-conditional write. If publishing fails nothing is marked and
the next run retries; the SQS dedupe id absorbs a repeated item.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit

from socialcare.domain.cases.common import ContextSource, customer_context, utc
from socialcare.domain.routing import Router
from socialcare.domain.workitems import build
from socialcare.models.case import QUEUED_STATUSES, Case, CaseStatus, Priority, Team
from socialcare.models.workitem import RoutingInfo, WorkItemKind
from socialcare.observability import metrics
from socialcare.ports import Publisher
from socialcare.store.cases import CasesRepository

logger = Logger(child=True)



@dataclass
class Escalation:
    case_id: str
    team: str
    clock: str
    due: datetime
    priority: str


def breach_key(case: Case) -> str:
    # Per clock and per reopening: a reopened case can breach again, once.
    return f"{case.running_clock}#{case.reopen_count}"


class SlaMonitor:
    def __init__(self, repo: CasesRepository, router: Router, publisher: Publisher, contexts: ContextSource, *,
                 max_escalations: int) -> None:
        self.repo = repo
        self.router = router
        self.publisher = publisher
        self.contexts = contexts
        self.max_escalations = max_escalations

    def run(self, now: datetime | None = None) -> dict[str, Any]:
        """SlaMonitorFunction's run: escalate every breach once, with a metric and a log line."""
        escalated = self.escalate_breaches(now)
        metrics.add_metric(name="SlaBreaches", unit=MetricUnit.Count, value=len(escalated))
        if escalated:
            logger.info("SLA breaches escalated", extra={"cases": [e.case_id for e in escalated]})
        return {"escalated": [e.case_id for e in escalated]}

    def targets(self, now: datetime) -> list[Case]:
        """Breached cases not escalated for this breach yet, at most ``max_escalations``."""
        found: list[Case] = []
        for team in Team:
            for status in QUEUED_STATUSES:
                for case in self.repo.iter_queue(team, status, due_before=now, limit=100):
                    # Low priority is praise and thanks: a late "thank you" pages nobody.
                    if breach_key(case) in case.sla_breaches or case.priority is Priority.LOW:
                        continue
                    found.append(case)
                    if len(found) >= self.max_escalations:
                        return found
        return found

    def escalate_breaches(self, now: datetime | None = None) -> list[Escalation]:
        now = utc(now)
        return [self._escalate(found, now) for found in self.targets(now)]

    def _escalate(self, found: Case, now: datetime) -> Escalation:
        key = breach_key(found)
        clock, due = found.running_clock, found.running_due
        preview = found.model_copy(deep=True)
        preview.priority, preview.status = found.priority.raised(), CaseStatus.ESCALATED
        detail = f"{clock.replace('_', ' ')} was due {due:%Y-%m-%d %H:%M} UTC"
        item = build(
            WorkItemKind.ESCALATION, found.team, preview, cause=f"breach:{key}",
            routing=RoutingInfo(rule="sla-breach", version=self.router.version, reason=f"SLA breached: {detail}"),
            trigger=found.recent[-1] if found.recent else None, customer=customer_context(self.contexts, found),
            note=detail, now=now,
        )
        self.publisher.work_items([item])
        self.publisher.alert(f"SLA breach {found.id} ({clock})", {
            "type": "sla_breach", "case_id": found.id, "team": found.team.value, "clock": clock,
            "due": due.isoformat(), "priority": preview.priority.value, "customer_id": found.customer_id,
            "channels": found.channels,
        })

        def change(case: Case) -> bool:
            if key in case.sla_breaches or not case.is_open:
                return False
            case.sla_breaches = [*case.sla_breaches, key]
            case.priority = case.priority.raised()
            case.status = CaseStatus.ESCALATED
            return True

        updated = self.repo.update(found.id, change, now=now)
        return Escalation(found.id, updated.team.value, clock, due, updated.priority.value)
