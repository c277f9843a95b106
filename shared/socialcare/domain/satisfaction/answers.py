"""The customer's answer to the satisfaction survey (docs/satisfaction.md).

The ProcessorFunction calls ``SurveyAnswers.answer`` only for a customer whose profile - read
anyway to recognise them - names a survey awaiting its answer (``survey_case_id``): everyone else
costs nothing more. When the message reads as a rating (``ratings.parse_rating``), is written on
the survey's channel after the question and within the answer window, and the case is still
resolved with its survey queued, one transaction stores it: the case (the message among its
interactions, ``csat``, the survey answered; the status untouched, so a rating never reopens a
case), its timeline item and marker, the profile (latest score and history; no survey awaited any
more) and the message marked threaded. A low score with a comment is a complaint, and a comment
beside a score that asks something ("5, ma il rimborso?") is a question: either is a follow-up work
item for the team that owns the case. Anything else (None) goes through ordinary threading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from socialcare.config.satisfaction import SatisfactionRules
from socialcare.domain.cases.common import ATTEMPTS, add_interaction, follow_merges, interaction_ref
from socialcare.domain.satisfaction.ratings import parse_rating
from socialcare.domain.satisfaction.report import csat_key
from socialcare.domain.workitems import build
from socialcare.models.case import Case, CaseStatus
from socialcare.models.interaction import Direction, Interaction
from socialcare.models.satisfaction import Csat, Rating, SurveyStatus
from socialcare.models.workitem import RoutingInfo, WorkItem, WorkItemKind
from socialcare.observability import count, logger
from socialcare.store.cases import CasesRepository, DuplicateInteraction, OtherItemChanged, VersionConflict
from socialcare.store.profiles import ProfilesRepository
from socialcare.store.state import StateRepository

COUNTER_TTL_DAYS = 800  # the daily CSAT counters the report and the weekly digest read
# A platform's timestamp may run a little behind ours: an answer stamped this much before the
# question was queued is still its answer.
CLOCK_SKEW = timedelta(minutes=2)


@dataclass
class Answered:
    case: Case
    csat: Csat
    work_items: list[WorkItem] = field(default_factory=list)


class SurveyAnswers:
    def __init__(self, cases: CasesRepository, profiles: ProfilesRepository, rules: SatisfactionRules,
                 state: StateRepository | None = None) -> None:
        self.cases = cases
        self.profiles = profiles
        self.rules = rules
        self.state = state

    def _awaiting(self, case: Case | None, customer_id: str, interaction: Interaction) -> bool:
        """``case`` still waits for this customer's rating, and ``interaction`` may be it."""
        if case is None or case.status is not CaseStatus.RESOLVED or case.csat is not None:
            return False
        survey = case.survey
        if survey is None or survey.status is not SurveyStatus.QUEUED or case.customer_id != customer_id:
            return False
        at = interaction.occurred_at
        opened = survey.at - CLOCK_SKEW
        return survey.channel == interaction.channel.value and opened <= at <= survey.at + self.rules.answer_window

    def answer(self, interaction: Interaction, customer_id: str, survey_case_id: str, timeline_sk: str,
               now: datetime) -> Answered | None:
        """Store ``interaction`` as the rating of ``survey_case_id`` (module docstring), or None."""
        if interaction.direction is not Direction.INBOUND:
            return None
        rating = parse_rating(interaction.text)
        if rating is None:
            return None
        case = follow_merges(self.cases, self.cases.get(survey_case_id))
        ref = interaction_ref(interaction, None)
        for _ in range(ATTEMPTS):
            if case is None or not self._awaiting(case, customer_id, interaction):
                return None
            csat = Csat(score=rating.score, comment=rating.comment, answered_at=interaction.occurred_at,
                        channel=interaction.channel.value, interaction_id=interaction.id)
            expected = case.version
            add_interaction(case, ref, now)
            case.csat = csat
            case.survey = case.survey.model_copy(update={"status": SurveyStatus.ANSWERED}) if case.survey else None
            case.version = expected + 1
            entry = {"score": csat.score, "answered_at": csat.answered_at.isoformat(), "case_id": case.id,
                     "channel": csat.channel}
            try:
                self.cases.transact([
                    self.cases.put_case_op(case, expected),
                    self.cases.marker_op(interaction.id, case.id, None),
                    self.cases.timeline_op(case.id, ref),
                    *self.profiles.rating_ops(customer_id, interaction.id, timeline_sk, case.id, entry),
                ])
            except VersionConflict:
                case = follow_merges(self.cases, self.cases.get(case.id))
                continue
            except (DuplicateInteraction, OtherItemChanged):
                return None  # threaded already, or the customer merged away: the ordinary path decides
            return self._answered(case, csat, rating, ref_now=now, asks="?" in (interaction.text or ""))
        raise VersionConflict("the case kept changing concurrently", case_id=survey_case_id)

    def _answered(self, case: Case, csat: Csat, rating: Rating, ref_now: datetime, asks: bool = False) -> Answered:
        count("CsatAnswers", form=rating.form)
        logger.info("satisfaction rating stored", extra={"case_id": case.id, "score": csat.score, "form": rating.form})
        if self.state is not None:
            try:
                # the report's daily series; the case holds the rating itself
                self.state.add(csat_key(csat.answered_at.date()), {
                    "answers": 1, "score_sum": csat.score, "top_box": int(csat.score == 5),
                    "low": int(csat.score <= self.rules.low_score), f"s{csat.score}": 1,
                }, now=ref_now, ttl_days=COUNTER_TTL_DAYS)
            except Exception:  # a lost count never loses the rating
                logger.warning("CSAT counter not updated", extra={"case_id": case.id}, exc_info=True)
        items: list[WorkItem] = []
        low = csat.score <= self.rules.low_score
        if csat.comment and (low or asks):  # a complaint, or a question beside the score: someone answers it
            rule, what = ("csat-low-score", "with a complaint: follow it up") if low else \
                ("csat-question", "and asked something: answer it")
            reason = f"the customer rated the resolved case {csat.score}/5 {what}"
            trigger = next((r for r in case.recent if r.id == csat.interaction_id), None)
            items.append(build(WorkItemKind.RESPOND, case.team, case, cause=f"csat:{csat.interaction_id}",
                               routing=RoutingInfo(rule=rule, version=self.rules.version, reason=reason),
                               trigger=trigger, note=f"CSAT {csat.score}/5", now=ref_now))
        return Answered(case=case, csat=csat, work_items=items)
