"""One settings model for every function: the SOCIALCARE_* environment, validated at cold start.

Secret *values* never appear here: only the ARNs of the secrets (``*_arn``), which
``socialcare.secrets`` reads from Secrets Manager.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SOCIALCARE_", extra="ignore")

    stage: str = "dev"
    default_region: str = Field(default="IT", description="phone region for numbers without a prefix")

    profiles_table: str = ""
    cases_table: str = ""
    state_table: str = ""
    idempotency_table: str = ""

    inbound_queue_url: str = ""
    social_team_queue_url: str = ""
    callcentre_team_queue_url: str = ""
    crm_sync_queue_url: str = ""
    outbound_queue_url: str = ""
    media_bucket: str = ""
    alerts_topic_arn: str = ""

    x_api_url: str = "https://api.x.com"
    graph_api_url: str = "https://graph.facebook.com"
    graph_api_version: str = "v21.0"
    brand_x_account_ids: str = Field(default="", description="comma-separated X ids of brand accounts")

    crm_provider: str = "webhook"
    crm_webhook_url: str = ""

    # Largest webhook body accepted (bytes). WhatsApp sends up to 3 MB; HTTP API allows 10 MB,
    # Lambda's synchronous payload 6 MB (base64 inflates by 4/3), so 4 MiB leaves room for both.
    max_body_bytes: int = 4 * 1024 * 1024

    x_consumer_secret_arn: str = ""
    x_api_credentials_arn: str = ""
    meta_app_secret_arn: str = ""
    meta_verify_token_arn: str = ""
    meta_access_tokens_arn: str = ""
    inbound_secret_arn: str = ""
    api_token_arn: str = ""
    crm_webhook_secret_arn: str = ""
    crm_credentials_arn: str = ""
    team_chat_webhooks_arn: str = ""

    @property
    def brand_x_ids(self) -> frozenset[str]:
        return frozenset(v.strip() for v in self.brand_x_account_ids.split(",") if v.strip())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
