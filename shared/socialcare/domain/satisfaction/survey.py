"""Asking for a rating when a case is resolved (docs/satisfaction.md).

``SurveyService.after_resolution`` runs right after ``CaseActions.resolve`` (from the API, or a
CRM's "solved" through ``set_case_status``). It asks one short question (1-5), in the customer's
language, privately on the channel they last wrote on, where the platform's rules allow an
automated message now (``domain.replies.policy``: Messenger, Instagram and WhatsApp inside their
24 h window, an X DM; WhatsApp outside its window only with the survey's own approved template).
Otherwise it records on the case why it did not (``Case.survey``, status ``skipped``).

At most one survey per case (``Case.survey`` is written once, conditionally on the version read),
none to a customer asked within the quiet period. The question is an ``OutboundMessage`` on
outbound.fifo whose id derives from the case id: a retried resolve publishes the same id, which
SQS and the ResponderFunction's send-once guard drop, so it is sent exactly once, with the
automated-message disclosure the responder adds to every ``automated`` message. Asking never fails
the resolution: an error is logged and counted (``SurveysFailed``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from socialcare.config.satisfaction import SatisfactionRules
from socialcare.domain.replies.policy import ReplyRules, choose
from socialcare.domain.replies.service import ReplyService
from socialcare.domain.replies.state import merge_state
from socialcare.domain.sentiment.analyser import guess_language
from socialcare.errors import BadRequest, NotFound
from socialcare.models.case import Case, CaseStatus
from socialcare.models.interaction import Channel, Direction
from socialcare.models.reply import (
    OutboundMessage,
    ReplyOption,
    ReplyRefused,
    ReplyRoute,
    ReplyState,
    ReplyStatus,
    ReplyTo,
    TemplateRef,
    Visibility,
)
from socialcare.models.satisfaction import SurveyState, SurveyStatus
from socialcare.observability import count, logger
from socialcare.ports import Publisher
from socialcare.store.cases import CasesRepository
from socialcare.store.profiles import ProfilesRepository

_SURVEYS = uuid.UUID("0b6c2f4e-8d1a-4e57-b3c9-7a25e1d94f60")


def survey_reply_id(case_id: str) -> str:
    """The survey question's interaction id: one per case, the same on every retry."""
    return "reply:" + uuid.uuid5(_SURVEYS, f"csat\x1f{case_id}").hex


def _at(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class SurveyService:
    def __init__(self, *, cases: CasesRepository, replies: ReplyService, profiles: ProfilesRepository,
                 publisher: Publisher, rules: SatisfactionRules, reply_rules: ReplyRules) -> None:
        self.cases = cases
        self.replies = replies
        self.profiles = profiles
        self.publisher = publisher
        self.rules = rules
        self.reply_rules = reply_rules

    def after_resolution(self, case: Case, now: datetime | None = None) -> SurveyState | None:
        """Queue the survey of the just-resolved ``case``, or record why not (None: nothing to do)."""
        now = (now or datetime.now(UTC)).astimezone(UTC)
        if (not self.rules.enabled or case.survey is not None or case.status is not CaseStatus.RESOLVED
                or case.kind != "customer" or not case.customer_id):
            return None
        try:
            return self._ask(case, now)
        except Exception:  # the case is resolved whatever becomes of its survey
            logger.exception("satisfaction survey not asked", extra={"case_id": case.id})
            count("SurveysFailed")
            return None

    def _ask(self, case: Case, now: datetime) -> SurveyState | None:
        customer_id = str(case.customer_id)
        profile = self.profiles.get_profile(customer_id)
        if profile is not None and profile.last_survey_at:
            since = now - _at(profile.last_survey_at)
            if since < self.rules.quiet_period:
                days = self.rules.quiet_period.total_seconds() / 86400
                return self._skip(case.id, now, "quiet_period",
                                  f"the customer was asked {since.days} days ago; the quiet period is {days:g} days")
        full = self.replies.case(case.id)
        try:
            to = self.replies.target(full, None)
        except (ReplyRefused, NotFound, BadRequest) as exc:
            return self._skip(case.id, now, "no_customer_message", getattr(exc, "detail", None) or str(exc))
        language, question = self.rules.question(self._language(full))
        try:
            option, template = self._route(to, question, now)
        except ReplyRefused as exc:
            return self._skip(case.id, now, exc.code, f"{exc.rule}: {exc.detail}", to.channel.value)
        if option.route not in self.rules.routes:
            return self._skip(case.id, now, "route_not_allowed",
                              f"{option.rule}: a survey may not take the {option.route.value} route "
                              f"(satisfaction.yaml routes)", to.channel.value)
        customer = profile.id if profile is not None else customer_id  # the survivor of a merge
        return self._queue(full, to, option.route, template, question, language, customer, now)

    def _route(self, to: ReplyTo, question: str, now: datetime) -> tuple[ReplyOption, TemplateRef | None]:
        """The private route the question may take now (``ReplyRefused``: none). Outside WhatsApp's
        window only the survey's own template (satisfaction.yaml), never the agents' one of replies.yaml."""
        try:
            option, _ = choose(to, self.reply_rules, now, visibility=Visibility.PRIVATE, human=False, text=question)
            if option.route is not ReplyRoute.TEMPLATE:
                return option, None
            options: list[ReplyOption] = []
        except ReplyRefused as exc:
            if exc.code != "messaging_window_closed" or to.channel is not Channel.WHATSAPP:
                raise
            options = exc.options
        if self.rules.whatsapp_template is None:
            window = next((o.detail for o in options if o.route is ReplyRoute.MESSAGE),
                          "WhatsApp's customer service window is closed.")
            raise ReplyRefused("messaging_window_closed", "whatsapp_24h_window",
                               f"{window} No survey template is configured (satisfaction.yaml whatsapp_template).",
                               options)
        template = TemplateRef.model_validate(self.rules.whatsapp_template.model_dump())
        return choose(to, self.reply_rules, now, visibility=Visibility.PRIVATE, template=template, human=False)

    @staticmethod
    def _language(case: Case) -> str:
        """The language of what the customer wrote in the case (the offline detector, it/en)."""
        texts = [r.summary for r in case.interactions or case.recent if r.direction == Direction.INBOUND.value]
        return guess_language(" ".join(texts[-5:]))

    def _queue(self, case: Case, to: ReplyTo, route: ReplyRoute, template: TemplateRef | None, question: str,
               language: str, customer_id: str, now: datetime) -> SurveyState | None:
        reply_id = survey_reply_id(case.id)
        message = OutboundMessage(
            interaction_id=reply_id, case_id=case.id, customer_id=case.customer_id, channel=to.channel, route=route,
            to=to, text=question, template=template, source="system", automated=True, requested_at=now,
        )
        # published first: a crash before the case notes it is finished by a retried resolve,
        # whose message has the same id (dropped by SQS, or never sent twice by the responder)
        self.publisher.outbound([message])
        state = SurveyState(status=SurveyStatus.QUEUED, at=now, reply_id=reply_id, channel=to.channel.value,
                            route=route.value, language=language)
        reply = ReplyState(interaction_id=reply_id, status=ReplyStatus.QUEUED, route=route, channel=to.channel.value,
                           source="system", in_reply_to=to.interaction_id, at=now)
        recorded = self._record(case.id, state, reply)
        if recorded is not None and recorded.status is SurveyStatus.QUEUED:
            self.profiles.note_survey(customer_id, case.id, now.isoformat())
        count("SurveysQueued", channel=to.channel.value)
        logger.info("satisfaction survey queued", extra={"case_id": case.id, "route": route.value,
                                                         "channel": to.channel.value})
        return recorded

    def _skip(self, case_id: str, now: datetime, code: str, detail: str, channel: str | None = None) -> SurveyState:
        state = SurveyState(status=SurveyStatus.SKIPPED, at=now, channel=channel, reason=f"{code}: {detail}"[:1000])
        count("SurveysSkipped", reason=code)
        logger.info("satisfaction survey skipped", extra={"case_id": case_id, "code": code})
        return self._record(case_id, state) or state

    def _record(self, case_id: str, state: SurveyState, reply: ReplyState | None = None) -> SurveyState | None:
        """``state`` on the case unless a survey is already there; the survey the case holds."""

        def change(case: Case) -> bool:
            if case.survey is not None:
                return False  # at most one survey per case: the first one stays
            case.survey = state
            if reply is not None:
                merge_state(case, reply)
            return True

        return self.cases.update(case_id, change).survey
