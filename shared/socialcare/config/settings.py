"""The one configuration of every function: its ``SOCIALCARE_*`` environment, validated at cold start.

``Settings`` names every variable the code reads, all optional; each function has its own
subclass that makes required what that function cannot run without. ``load`` builds one and
fails with ``ConfigurationError`` naming every missing variable, so a function deployed without
its queue URL fails at cold start instead of at its first event.

Secret *values* never appear here: only the ARNs of the secrets (``*_arn``), which
``socialcare.secrets`` reads from Secrets Manager.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from socialcare.errors import ConfigurationError
from socialcare.models.teams import Team

PREFIX = "SOCIALCARE_"

# A required name: present and not blank (an empty variable is as missing as an absent one).
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class CrmTuning(BaseModel):
    """Knobs of the CRM sync. Its defaults are the ``SOCIALCARE_CRM_*`` defaults (written only
    here) and fit AWS; ``Settings`` validates the variables that override them."""

    model_config = ConfigDict(frozen=True)

    timeout_seconds: float = 5.0  # per request: 10 records x one slow call fit the 60 s function timeout
    retry_base_seconds: float = 5.0  # first backoff; doubles per receive
    retry_max_seconds: float = 900.0  # backoff cap (SQS allows 12 h)
    rate_per_second: float = 5.0  # token bucket refill, shared by every invocation
    burst: float = 10.0  # token bucket capacity
    api_version: str = "v61.0"  # Salesforce REST API version
    # The local stack's time scale shrinks our own backoff the way it shrinks queue timeouts; a
    # CRM's Retry-After is always honoured as given.
    time_scale: float = 1.0
    # The retry queue (docs/crm.md): tries that failed for another reason than a rate limit
    # before a trigger is dead-lettered, and how long a put-off trigger keeps circulating before
    # it is dropped for the scheduled reconcile to re-publish (rate limits never count as tries).
    retry_attempts: int = 8
    retry_horizon_seconds: float = 3600.0


_CRM = CrmTuning()


class Settings(BaseSettings):
    """Every SOCIALCARE_* variable; each function's subclass requires its own."""

    # defer_build: a function validates only its own subclass below; building each validator on
    # first use, not every subclass's at import, takes ~50 ms off every cold start.
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore", frozen=True, defer_build=True)

    stage: str = "dev"
    default_region: str = Field(default="IT", description="phone region for numbers without a prefix")
    config_dir: str = Field(default="", description="directory whose rule files replace the shipped ones")
    # The brand's own reference formats (docs/identity.md), added before identity.yaml's: a JSON
    # list of {"name", "pattern", "canonical"?}, given inline or as the name of an SSM parameter
    # that holds it (read once at cold start; the parameter wins when both are set).
    reference_formats: str = Field(default="", description="JSON list of reference formats")
    reference_formats_parameter: str = Field(default="", description="SSM parameter holding that JSON")

    profiles_table: str | None = None
    cases_table: str | None = None
    state_table: str | None = None
    idempotency_table: str | None = None
    reports_table: str | None = None  # the stakeholder report's day counters (docs/reports.md)

    inbound_queue_url: str | None = None
    social_team_queue_url: str | None = None
    callcentre_team_queue_url: str | None = None
    crm_sync_queue_url: str | None = None
    crm_retry_queue_url: str | None = None  # where put-off CRM syncs wait (optional: else visibility retries)
    outbound_queue_url: str | None = None
    outbound_dlq_url: str | None = None  # where the responder puts a reply that cannot be sent, with its reason
    erasure_queue_url: str | None = None  # erasure jobs for ErasureFunction (docs/privacy.md)
    media_bucket: str | None = None
    alerts_topic_arn: str | None = None

    x_api_url: str = "https://api.x.com"
    graph_api_url: str = "https://graph.facebook.com"
    graph_api_version: str = Field(default="v21.0", pattern=r"^v\d+\.\d+$")
    brand_x_account_ids: str = Field(default="", description="comma-separated X ids of brand accounts")
    # Names from the platforms: a Messenger / Instagram DM's sender profile through the Graph API,
    # cached on the identity, refreshed after this many days; a refusal is asked again after the hours.
    profile_names: bool = Field(default=True, description="fetch Messenger/Instagram senders' names")
    profile_name_refresh_days: float = Field(default=30.0, gt=0)
    profile_name_retry_hours: float = Field(default=24.0, gt=0)
    profile_name_timeout_seconds: float = Field(default=3.0, gt=0, le=30)

    # Largest webhook body accepted (bytes). WhatsApp sends up to 3 MB; HTTP API allows 10 MB,
    # Lambda's synchronous payload 6 MB (base64 inflates by 4/3), so 4 MiB leaves room for both.
    max_body_bytes: int = Field(default=4 * 1024 * 1024, gt=0)

    # ---- cases, triage, routing
    sentiment_provider: str = Field(default="offline", pattern="^(offline|comprehend)$")
    # Ids reserved per StateTable round trip. Larger blocks mean fewer writes and bigger gaps
    # in the sequence when execution environments are recycled; 50 balances both.
    case_id_block: int = Field(default=50, ge=1, le=10_000)
    reopen_window_hours: float = Field(default=72.0, ge=0)
    claim_lease_seconds: int = Field(default=900, ge=30, le=86_400)
    # SlaMonitor: most breaches handled per run (the rest wait one minute, never lost).
    sla_monitor_max_escalations: int = Field(default=200, ge=1)

    # ---- team dispatchers: where each team's items go (pull | chat | crm) and the chat format.
    # The chat webhook URLs are credentials: they live in the TeamChatWebhooks secret.
    team: str = Field(default="", pattern="^(|social|callcentre)$",
                      description="the team a dispatcher serves (one dispatcher per queue)")
    social_destination: str = Field(default="pull", pattern="^(pull|chat|crm)$")
    callcentre_destination: str = Field(default="pull", pattern="^(pull|chat|crm)$")
    social_chat_format: str = Field(default="slack", pattern="^(slack|teams)$")
    callcentre_chat_format: str = Field(default="slack", pattern="^(slack|teams)$")
    console_url: str = Field(default="", description="console link put in chat messages")

    # ---- CRM
    # "none": no CRM yet - case versions are not delivered, and `socialcare crm reconcile`
    # backfills them once a CRM is configured.
    crm_provider: str = Field(default="none", pattern="^(none|webhook|salesforce|zendesk|hubspot)$")
    crm_webhook_url: str = ""
    # CrmTuning's knobs (see there what each means)
    crm_timeout_seconds: float = Field(default=_CRM.timeout_seconds, gt=0)
    crm_retry_base_seconds: float = Field(default=_CRM.retry_base_seconds, gt=0)
    crm_retry_max_seconds: float = Field(default=_CRM.retry_max_seconds, gt=0)
    crm_rate_per_second: float = Field(default=_CRM.rate_per_second, gt=0)
    crm_burst: float = Field(default=_CRM.burst, ge=1)
    crm_api_version: str = _CRM.api_version
    crm_retry_attempts: int = Field(default=_CRM.retry_attempts, ge=1)
    crm_retry_horizon_seconds: float = Field(default=_CRM.retry_horizon_seconds, gt=0)
    local_time_scale: float = Field(default=_CRM.time_scale, gt=0)

    # ---- secrets (ARNs, never values)
    x_consumer_secret_arn: str | None = None
    x_api_credentials_arn: str | None = None
    meta_app_secret_arn: str | None = None
    meta_verify_token_arn: str | None = None
    meta_access_tokens_arn: str | None = None
    inbound_secret_arn: str | None = None
    api_token_arn: str | None = None
    crm_webhook_secret_arn: str | None = None
    crm_credentials_arn: str | None = None
    team_chat_webhooks_arn: str | None = None
    erasure_salt_arn: str | None = None  # the salt of tombstones and erasure job ids (docs/privacy.md)

    # ---- data rights: a customer not heard from for this many months is erased (docs/privacy.md)
    retention_months: int = Field(default=24, ge=1, le=1200)

    @property
    def crm_configured(self) -> bool:
        return self.crm_provider != "none"

    @property
    def brand_x_ids(self) -> frozenset[str]:
        return frozenset(v.strip() for v in self.brand_x_account_ids.split(",") if v.strip())

    def crm_tuning(self) -> CrmTuning:
        """The CRM knobs these settings give (validated by ``load()`` at cold start)."""
        return CrmTuning(
            timeout_seconds=self.crm_timeout_seconds, retry_base_seconds=self.crm_retry_base_seconds,
            retry_max_seconds=self.crm_retry_max_seconds, rate_per_second=self.crm_rate_per_second,
            burst=self.crm_burst, api_version=self.crm_api_version, time_scale=self.local_time_scale,
            retry_attempts=self.crm_retry_attempts, retry_horizon_seconds=self.crm_retry_horizon_seconds,
        )

    def secret_arns(self) -> dict[str, str]:
        """Secret name (``x_consumer_secret``...) -> ARN, for the secrets this function may read."""
        found = {}
        for field, value in self:
            if field.endswith("_arn") and field != "alerts_topic_arn" and value:
                found[field.removesuffix("_arn")] = str(value)
        return found


# ---------------------------------------------------------------------------- per function
class WebhookXSettings(Settings):
    inbound_queue_url: Name
    x_consumer_secret_arn: Name


class WebhookMetaSettings(Settings):
    inbound_queue_url: Name
    meta_app_secret_arn: Name
    meta_verify_token_arn: Name


class WebhookInboundSettings(Settings):
    inbound_queue_url: Name
    inbound_secret_arn: Name


class ProcessorSettings(Settings):
    profiles_table: Name
    cases_table: Name
    state_table: Name
    social_team_queue_url: Name
    callcentre_team_queue_url: Name
    media_bucket: Name
    alerts_topic_arn: Name
    meta_access_tokens_arn: Name


class ApiSettings(Settings):
    """ApiFunction. Callers are authenticated by the HTTP API's JWT authorizer in AWS (roles read
    from ``api_roles_claim``) or, without JWT context, by the named tokens of ``api_tokens_arn``
    and the admin tokens of ``api_token_arn`` (``flows.api.auth``); every successful change is
    written to ``audit_table`` (``store.audit``), kept ``audit_retention_days``."""

    profiles_table: Name
    cases_table: Name
    social_team_queue_url: Name
    callcentre_team_queue_url: Name
    outbound_queue_url: Name
    api_token_arn: Name
    audit_table: Name
    api_tokens_arn: str | None = None  # {"<token>": "<role>"}; without it only the ApiToken (admin) is accepted
    # The JWT claim holding the caller's groups: Cognito's, or an external OIDC issuer's ("groups", "roles").
    api_roles_claim: str = Field(default="cognito:groups", min_length=1, max_length=128)
    audit_retention_days: int = Field(default=730, ge=1, le=36_500)


class ErasureSettings(Settings):
    """ErasureFunction: run erasure jobs (ErasureQueue) across every table, the bucket and the CRM."""

    profiles_table: Name
    cases_table: Name
    state_table: Name
    idempotency_table: Name
    audit_table: Name
    media_bucket: Name
    erasure_queue_url: Name
    erasure_salt_arn: Name


class RetentionSweepSettings(Settings):
    """RetentionSweepFunction: customers past ``retention_months`` get an erasure job each."""

    profiles_table: Name
    cases_table: Name
    state_table: Name
    erasure_queue_url: Name
    erasure_salt_arn: Name


class CallerLookupSettings(Settings):
    profiles_table: Name
    inbound_queue_url: Name


class XPollerSettings(Settings):
    state_table: Name
    inbound_queue_url: Name
    x_api_credentials_arn: Name


class ListeningSettings(Settings):
    """ListeningFunction: X searches for the brand and its competitors under a daily read budget,
    and the weekly digest (flows.listening_search)."""

    state_table: Name
    inbound_queue_url: Name
    x_api_credentials_arn: Name
    alerts_topic_arn: Name


class SlaMonitorSettings(Settings):
    cases_table: Name
    profiles_table: Name
    social_team_queue_url: Name
    callcentre_team_queue_url: Name
    alerts_topic_arn: Name


class TeamDispatcherSettings(Settings):
    cases_table: Name
    idempotency_table: Name
    team: Team  # required here, and one of the teams (not "")
    team_chat_webhooks_arn: Name


class CaseStreamSettings(Settings):
    crm_sync_queue_url: Name


class _CrmSettings(Settings):
    crm_webhook_secret_arn: Name
    crm_credentials_arn: Name


class CrmSyncSettings(_CrmSettings):
    cases_table: Name
    profiles_table: Name
    state_table: Name
    idempotency_table: Name
    crm_sync_queue_url: Name

    @model_validator(mode="after")
    def _webhook_needs_url(self) -> CrmSyncSettings:
        if self.crm_provider == "webhook" and not self.crm_webhook_url.strip():
            raise ValueError("SOCIALCARE_CRM_WEBHOOK_URL is required when SOCIALCARE_CRM_PROVIDER is webhook")
        return self


class CrmWebhookSettings(_CrmSettings):
    cases_table: Name
    profiles_table: Name
    idempotency_table: Name
    outbound_queue_url: Name
    social_team_queue_url: Name
    callcentre_team_queue_url: Name


class ResponderSettings(Settings):
    """ResponderFunction: send outbound.fifo's replies (tweepy, facebook-sdk, with the brand accounts'
    tokens), record them on the timeline and the case, dead-letter and report the failed ones."""

    profiles_table: Name
    cases_table: Name
    idempotency_table: Name
    outbound_queue_url: Name
    outbound_dlq_url: Name
    social_team_queue_url: Name
    callcentre_team_queue_url: Name
    alerts_topic_arn: Name
    x_api_credentials_arn: Name
    meta_access_tokens_arn: Name
    # x_api_url, graph_api_url and graph_api_version (validated: "v<n>.<n>") keep their defaults,
    # the platforms' real hosts and the Graph version the template names.


class ReconcileSettings(Settings):
    cases_table: Name
    crm_sync_queue_url: Name


class CrmRetrySettings(Settings):
    """CrmRetryFunction: the relay from the CRM retry queue back to crm-sync.fifo."""

    crm_sync_queue_url: Name
    crm_retry_queue_url: Name


class ReportAggregatorSettings(Settings):
    """ReportAggregatorFunction: the tables' streams counted into the report's day counters; the
    timeline is read for a caller's touchpoints."""

    reports_table: Name
    profiles_table: Name


class WeeklyReportSettings(Settings):
    """WeeklyReportFunction: last week's report (HTML and CSVs) written to the media bucket."""

    reports_table: Name
    state_table: Name  # the CSAT, share-of-voice and listening day counters
    media_bucket: Name


S = TypeVar("S", bound=Settings)


def load(model: type[S], **overrides: Any) -> S:
    """The settings of one function, or ConfigurationError naming every missing or bad variable."""
    try:
        return model(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            if not where:  # a rule across fields: its message names the variables
                problems.append(message)
            elif error["type"] in ("missing", "string_too_short") or str(error.get("input", "x")).strip() == "":
                problems.append(f"{PREFIX}{where.upper()} is required")
            else:
                problems.append(f"{PREFIX}{where.upper()}: {message}")
        raise ConfigurationError(f"{model.__name__}: " + "; ".join(problems), problems=problems) from exc
