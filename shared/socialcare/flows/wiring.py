"""The composition root: every collaborator a function needs, built once per execution
environment from its validated settings, and passed to services through their constructors.

A function keeps one ``Wiring`` at module level (built by its flow's ``build()`` at cold
start), so clients, repositories, compiled rules and per-environment caches (case-id blocks,
listening baselines) live as long as the execution environment. Tests build their own from the
environment the moto fixture sets. A component a function's settings do not configure raises
``ConfigurationError`` naming the missing variable.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from socialcare import aws
from socialcare.config.settings import CrmTuning, Settings
from socialcare.errors import ConfigurationError
from socialcare.models.teams import Team

# Each collaborator's module is imported where the collaborator is built, not here: a function
# pays at cold start only for what it uses (a webhook builds accounts and a publisher, not case
# threading, rule files, SSM or requests). The annotations below are for the type checker only.
if TYPE_CHECKING:
    from socialcare.config.rules import ReferenceRule
    from socialcare.config.satisfaction import SatisfactionRules
    from socialcare.domain.cases.actions import CaseActions
    from socialcare.domain.cases.ids import CaseIds
    from socialcare.domain.cases.reads import CaseQueries
    from socialcare.domain.cases.sla_monitor import SlaMonitor
    from socialcare.domain.cases.threading import CaseThreading
    from socialcare.domain.channels.accounts import Accounts
    from socialcare.domain.crm_view import CrmCaseViews
    from socialcare.domain.delivery import TeamDelivery
    from socialcare.domain.faq import FaqIndex
    from socialcare.domain.identity.evidence import Rules
    from socialcare.domain.identity.service import IdentityService
    from socialcare.domain.listening import Listening
    from socialcare.domain.media import MediaService
    from socialcare.domain.merge import CustomerMerge
    from socialcare.domain.profile_names import PlatformNames
    from socialcare.domain.replies.policy import ReplyRules
    from socialcare.domain.replies.service import ReplyService
    from socialcare.domain.reporting.aggregator import ReportAggregator
    from socialcare.domain.routing import Router
    from socialcare.domain.satisfaction.answers import SurveyAnswers
    from socialcare.domain.satisfaction.survey import SurveyService
    from socialcare.domain.sentiment.analyser import SentimentAnalyser
    from socialcare.domain.sla import SlaClock
    from socialcare.domain.triage import Triager
    from socialcare.flows.privacy_services import PrivacyServices
    from socialcare.platforms import Platforms
    from socialcare.platforms.senders import Senders
    from socialcare.publish import Publisher
    from socialcare.secrets import SecretStore
    from socialcare.store.cases import CasesRepository
    from socialcare.store.idempotency import PowertoolsGuard
    from socialcare.store.media import MediaStore
    from socialcare.store.profiles import ProfilesRepository
    from socialcare.store.reports import ReportsRepository
    from socialcare.store.state import StateRepository

def required(settings: Settings, field: str) -> str:
    value = getattr(settings, field)
    if not value:
        raise ConfigurationError(f"SOCIALCARE_{field.upper()} is required by this function")
    return str(value)


class Wiring:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def client(self, service: str) -> Any:
        return aws.client(service)

    # ------------------------------------------------------------------ adapters
    @cached_property
    def profiles(self) -> ProfilesRepository:
        from socialcare.store.profiles import ProfilesRepository

        return ProfilesRepository(required(self.settings, "profiles_table"), self.client("dynamodb"))

    @cached_property
    def cases_repo(self) -> CasesRepository:
        from socialcare.store.cases import CasesRepository

        return CasesRepository(required(self.settings, "cases_table"), self.client("dynamodb"))

    @cached_property
    def state(self) -> StateRepository:
        from socialcare.store.state import StateRepository

        return StateRepository(required(self.settings, "state_table"), self.client("dynamodb"))

    @cached_property
    def media_store(self) -> MediaStore:
        from socialcare.store.media import MediaStore

        return MediaStore(required(self.settings, "media_bucket"), connect=lambda: self.client("s3"))

    @cached_property
    def guard(self) -> PowertoolsGuard:
        from socialcare.store.idempotency import PowertoolsGuard

        return PowertoolsGuard(required(self.settings, "idempotency_table"), self.client("dynamodb"))

    @cached_property
    def publisher(self) -> Publisher:
        from socialcare.publish import Publisher

        s = self.settings
        return Publisher(
            self.client("sqs"), (lambda: self.client("sns")) if s.alerts_topic_arn else None,
            inbound_url=s.inbound_queue_url,
            team_urls={Team.SOCIAL: s.social_team_queue_url, Team.CALLCENTRE: s.callcentre_team_queue_url},
            crm_sync_url=s.crm_sync_queue_url, crm_retry_url=s.crm_retry_queue_url,
            outbound_url=s.outbound_queue_url, alerts_topic=s.alerts_topic_arn, erasure_url=s.erasure_queue_url,
        )

    @cached_property
    def privacy(self) -> PrivacyServices:
        """Export, erasure, tombstones and retention (their own composition: flows.privacy_services)."""
        from socialcare.flows.privacy_services import PrivacyServices

        return PrivacyServices(self)

    @cached_property
    def secrets(self) -> SecretStore:
        from socialcare.secrets import SecretStore

        return SecretStore(self.settings.secret_arns(), lambda: self.client("secretsmanager"))

    @cached_property
    def accounts(self) -> Accounts:
        from socialcare.domain.channels.accounts import Accounts

        return Accounts(self.secrets, self.settings.brand_x_ids)

    @cached_property
    def platforms(self) -> Platforms:
        from socialcare.platforms import Platforms

        s = self.settings
        return Platforms(x_api_url=s.x_api_url, graph_api_url=s.graph_api_url, graph_api_version=s.graph_api_version)

    @cached_property
    def senders(self) -> Senders:
        from socialcare.platforms.senders import Senders

        return Senders(self.platforms, self.secrets)

    @cached_property
    def reply_rules(self) -> ReplyRules:
        from socialcare.domain.replies.policy import ReplyRules

        return self.rules(ReplyRules)

    @cached_property
    def reply_service(self) -> ReplyService:
        from socialcare.domain.replies.service import ReplyService

        return ReplyService(cases=self.cases_repo, queries=self.case_queries, profiles=self.profiles,
                            rules=self.reply_rules, publisher=self.publisher, faq=self.faq)

    @cached_property
    def crm_tuning(self) -> CrmTuning:
        return self.settings.crm_tuning()

    # ------------------------------------------------------------------ rules
    def rules(self, model: Any) -> Any:
        from socialcare.config.loader import load_rules

        return load_rules(model, self.settings.config_dir)

    def check_rules(self) -> Wiring:
        """Load and compile every rule file and the deployment's reference formats now, so a broken
        override (SOCIALCARE_CONFIG_DIR, SOCIALCARE_REFERENCE_FORMATS[_PARAMETER]) fails the cold
        start (ConfigurationError naming the file or parameter) instead of every record."""
        from socialcare.config.rules import RULE_FILES

        for model in RULE_FILES:
            self.rules(model)
        _ = self.satisfaction_rules
        _ = self.identity_rules
        return self

    @cached_property
    def analyser(self) -> SentimentAnalyser:
        from socialcare.domain.sentiment.analyser import SentimentAnalyser

        provider = self.settings.sentiment_provider
        return SentimentAnalyser(provider, self.client("comprehend") if provider == "comprehend" else None)

    @cached_property
    def triager(self) -> Triager:
        from socialcare.config.rules import TriageRules
        from socialcare.domain.triage import Triager

        return Triager(self.rules(TriageRules), self.analyser)

    @cached_property
    def router(self) -> Router:
        from socialcare.config.rules import RoutingRules
        from socialcare.domain.routing import Router

        return Router(self.rules(RoutingRules))

    @cached_property
    def sla(self) -> SlaClock:
        from socialcare.config.rules import Calendars, SlaPolicies
        from socialcare.domain.sla import SlaClock

        return SlaClock(self.rules(SlaPolicies), self.rules(Calendars))

    @cached_property
    def faq(self) -> FaqIndex:
        from socialcare.config.rules import FaqBook
        from socialcare.domain.faq import FaqIndex

        return FaqIndex(self.rules(FaqBook))

    @cached_property
    def reference_formats(self) -> list[ReferenceRule]:
        """The brand's reference formats from SOCIALCARE_REFERENCE_FORMATS, or from the SSM
        parameter SOCIALCARE_REFERENCE_FORMATS_PARAMETER names (read once, at cold start)."""
        from socialcare.config.loader import reference_formats

        name = self.settings.reference_formats_parameter.strip()
        if not name:
            return reference_formats(self.settings.reference_formats, "SOCIALCARE_REFERENCE_FORMATS")
        from aws_lambda_powertools.utilities import parameters  # only a deployment that uses SSM loads it

        try:
            raw = parameters.get_parameter(name, max_age=300)
        except Exception as exc:  # GetParameterError, ClientError: the deployment is misconfigured
            raise ConfigurationError(f"cannot read the reference formats from SSM parameter {name}: {exc}") from exc
        return reference_formats(str(raw or ""), f"SSM parameter {name}")

    @cached_property
    def identity_rules(self) -> Rules:
        from socialcare.config.rules import IdentityRules
        from socialcare.domain.identity.evidence import Rules

        shipped = self.rules(IdentityRules)
        # The deployment's formats first: a brand's own spelling wins over the shipped ones.
        rules = shipped.model_copy(update={"references": [*self.reference_formats, *shipped.references]})
        return Rules.compile(rules, self.settings.default_region)

    # ------------------------------------------------------------------ domain services
    @cached_property
    def identity(self) -> IdentityService:
        from socialcare.domain.identity.service import IdentityService

        return IdentityService(self.profiles, self.identity_rules)

    @cached_property
    def listening(self) -> Listening:
        from socialcare.config.rules import ListeningRules
        from socialcare.domain.listening import Listening

        return Listening(self.rules(ListeningRules), self.state, self.publisher)

    @cached_property
    def case_ids(self) -> CaseIds:
        from socialcare.domain.cases.ids import CaseIds

        return CaseIds(self.state, self.settings.case_id_block)

    @cached_property
    def threading(self) -> CaseThreading:
        from socialcare.domain.cases.threading import CaseThreading

        return CaseThreading(self.cases_repo, self.case_ids, self.triager, self.router, self.sla, self.faq,
                             self.listening, self.publisher, reopen_window_hours=self.settings.reopen_window_hours)

    @cached_property
    def case_actions(self) -> CaseActions:
        from socialcare.domain.cases.actions import CaseActions

        # the satisfaction survey after a resolution, built on the first one (docs/satisfaction.md)
        return CaseActions(self.cases_repo, self.sla, self.router, self.publisher, self.identity,
                           claim_lease_seconds=self.settings.claim_lease_seconds,
                           after_resolve=lambda case, now: self.surveys.after_resolution(case, now))

    @cached_property
    def satisfaction_rules(self) -> SatisfactionRules:
        from socialcare.config.satisfaction import SatisfactionRules

        return self.rules(SatisfactionRules)

    @cached_property
    def surveys(self) -> SurveyService:
        from socialcare.domain.satisfaction.survey import SurveyService

        return SurveyService(cases=self.cases_repo, replies=self.reply_service, profiles=self.profiles,
                             publisher=self.publisher, rules=self.satisfaction_rules, reply_rules=self.reply_rules)

    @cached_property
    def survey_answers(self) -> SurveyAnswers:
        from socialcare.domain.satisfaction.answers import SurveyAnswers

        return SurveyAnswers(self.cases_repo, self.profiles, self.satisfaction_rules, self.state)

    @cached_property
    def case_queries(self) -> CaseQueries:
        from socialcare.domain.cases.reads import CaseQueries

        return CaseQueries(self.cases_repo)

    @cached_property
    def sla_monitor(self) -> SlaMonitor:
        from socialcare.domain.cases.sla_monitor import SlaMonitor

        return SlaMonitor(self.cases_repo, self.router, self.publisher, self.identity,
                          max_escalations=self.settings.sla_monitor_max_escalations)

    @cached_property
    def merges(self) -> CustomerMerge:
        from socialcare.domain.cases.merge import CaseMerge
        from socialcare.domain.merge import CustomerMerge

        return CustomerMerge(self.profiles, self.identity, CaseMerge(self.cases_repo))

    @cached_property
    def media(self) -> MediaService:
        from socialcare.domain.media import MediaService

        return MediaService(self.media_store, self.accounts, self.platforms)

    @cached_property
    def platform_names(self) -> PlatformNames:
        from socialcare.domain.profile_names import PlatformNames

        s = self.settings
        return PlatformNames(self.profiles, self.accounts, self.platforms, enabled=s.profile_names,
                             refresh_after=timedelta(days=s.profile_name_refresh_days),
                             retry_after=timedelta(hours=s.profile_name_retry_hours),
                             timeout_seconds=s.profile_name_timeout_seconds)

    @cached_property
    def crm_views(self) -> CrmCaseViews:
        from socialcare.domain.crm_view import CrmCaseViews

        return CrmCaseViews(self.cases_repo, self.profiles)

    @cached_property
    def delivery(self) -> TeamDelivery:
        from socialcare.domain.delivery import TeamDelivery

        s = self.settings
        return TeamDelivery(
            self.cases_repo, self.secrets, self.guard,
            destinations={Team.SOCIAL: s.social_destination, Team.CALLCENTRE: s.callcentre_destination},
            chat_formats={Team.SOCIAL: s.social_chat_format, Team.CALLCENTRE: s.callcentre_chat_format},
            console_url=s.console_url,
        )

    @cached_property
    def reports(self) -> ReportsRepository:
        from socialcare.store.reports import ReportsRepository

        return ReportsRepository(required(self.settings, "reports_table"), self.client("dynamodb"))

    @cached_property
    def report_aggregator(self) -> ReportAggregator:
        from socialcare.domain.reporting.aggregator import ReportAggregator
        from socialcare.store.journeys import Journeys

        journeys = Journeys(required(self.settings, "profiles_table"), self.client("dynamodb"))
        return ReportAggregator(self.reports, journeys)
