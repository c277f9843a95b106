"""Incidents: a flood of public mentions of one post becomes one case, not hundreds.

Listening detects the flood and claims the incident for one case id (a conditional write in
StateTable); the mention that tipped it creates the incident case and its one "incident" work
item for the social team; every later mention of the post joins its timeline.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger

from socialcare.domain.cases.common import CaseOutcome, interaction_ref
from socialcare.domain.cases.ids import CaseIds
from socialcare.domain.faq import FaqIndex
from socialcare.domain.listening import Listening
from socialcare.domain.routing import Router
from socialcare.domain.sla import SlaClock
from socialcare.domain.workitems import build
from socialcare.models.case import Case, CaseStatus, InteractionRef, Priority, Team
from socialcare.models.interaction import Interaction
from socialcare.models.triage import Triage
from socialcare.models.workitem import RoutingInfo, WorkItem, WorkItemKind
from socialcare.store.cases import CasesRepository, VersionConflict

logger = Logger(child=True)


class IncidentCases:
    def __init__(self, repo: CasesRepository, ids: CaseIds, listening: Listening, router: Router, sla: SlaClock,
                 faq: FaqIndex) -> None:
        self.repo = repo
        self.ids = ids
        self.listening = listening
        self.router = router
        self.sla = sla
        self.faq = faq

    def join(self, interaction: Interaction, result: Triage, post_id: str, known: str | None,
             now: datetime) -> CaseOutcome:
        """Join the incident of ``post_id`` (creating it if this mention tipped the flood)."""
        ref = interaction_ref(interaction, result.sentiment)
        case_id, won = (known, False) if known else self.listening.claim_incident(post_id, self.ids.next_id(now), now)
        assert case_id is not None
        items: list[WorkItem] = []
        case = self.repo.get(case_id)
        ops: list[Any] = [self.repo.marker_op(interaction.id, case_id, None), self.repo.timeline_op(case_id, ref)]
        if case is None:
            # The winner creates the case; a joiner that finds it missing (the winner died between
            # claiming and writing) creates it too, conditionally, so it is never left dangling.
            case = self._incident_case(case_id, interaction, result, post_id, ref, now)
            ops.insert(0, self.repo.put_case_op(case, None))
            items.append(self._item(case, interaction, post_id, ref, now))
        try:
            self.repo.transact(ops)
        except VersionConflict:
            # Another mention created the incident case at the same moment: just join it.
            self.repo.transact(ops[1:])
            items = []
            case = self.repo.get(case_id) or case
        logger.debug("mention joined incident", extra={"case_id": case_id, "post_id": post_id, "won": won})
        return CaseOutcome(case=case, work_items=items, created=bool(items), incident=True, triage=result)

    def _incident_case(self, case_id: str, interaction: Interaction, result: Triage, post_id: str,
                       ref: InteractionRef, now: datetime) -> Case:
        priority = Priority.highest(result.priority, Priority.HIGH)
        return Case(
            id=case_id,
            kind="incident",
            status=CaseStatus.NEW,
            priority=priority,
            priority_reasons=[f"incident: a flood of mentions of post {post_id}", *result.reasons],
            team=Team.SOCIAL,
            public=True,
            began_public=True,
            sla=self.sla.compute(now, public=True, priority=priority, team=Team.SOCIAL.value),
            opened_at=now,
            updated_at=now,
            incident_post_id=post_id,
            channels=[interaction.channel.value],
            categories=list(result.categories),
            sentiment=result.sentiment.label,
            interaction_count=1,
            recent=[ref],
            version=1,
        )

    def _item(self, case: Case, interaction: Interaction, post_id: str, ref: InteractionRef,
              now: datetime) -> WorkItem:
        reason = f"{interaction.channel.value} post {post_id} is drawing a flood of mentions"
        return build(
            WorkItemKind.INCIDENT, Team.SOCIAL, case, cause=f"incident:{post_id}",
            routing=RoutingInfo(rule="incident", version=self.router.version, reason=reason),
            trigger=ref, suggestion=self.faq.suggest(interaction.text, interaction.language), now=now,
        )
