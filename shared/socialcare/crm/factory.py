"""Build the adapter that ``SOCIALCARE_CRM_PROVIDER`` selects, with its secret and HTTP core."""

from __future__ import annotations

from typing import Any

from socialcare.crm.base import CrmAdapter, CrmTuning, Http, Permanent, TokenSource
from socialcare.ports import OnceGuard
from socialcare.secrets import SecretStore

PROVIDERS = ("webhook", "salesforce", "zendesk", "hubspot")


def vendor_credentials(secrets: SecretStore, provider: str) -> dict[str, Any]:
    """This vendor's entry of the CrmCredentials secret (raises SecretUnavailable when absent)."""
    doc = secrets.json("crm_credentials")
    entry = doc.get(provider) if isinstance(doc, dict) else None
    if not isinstance(entry, dict):
        raise Permanent(f"crm_credentials has no {provider!r} object")
    return entry


def build_adapter(
    provider: str,
    secrets: SecretStore,
    *,
    webhook_url: str,
    limiter: TokenSource | None = None,
    guard: OnceGuard | None = None,
    tuning: CrmTuning | None = None,
) -> CrmAdapter:
    tuning = tuning or CrmTuning()
    http = Http(provider, limiter=limiter, timeout=tuning.timeout_seconds)
    if provider == "webhook":
        from socialcare.crm.webhook import WebhookAdapter

        return WebhookAdapter(webhook_url, secrets.value("crm_webhook_secret"), http)
    if provider == "salesforce":
        from socialcare.crm.salesforce import SalesforceAdapter

        credentials = vendor_credentials(secrets, provider)
        return SalesforceAdapter(credentials, http, guard=guard, api_version=tuning.api_version)
    if provider == "zendesk":
        from socialcare.crm.zendesk import ZendeskAdapter

        return ZendeskAdapter(vendor_credentials(secrets, provider), http, guard=guard)
    if provider == "hubspot":
        from socialcare.crm.hubspot import HubSpotAdapter

        return HubSpotAdapter(vendor_credentials(secrets, provider), http, guard=guard)
    raise Permanent(f"unknown CRM provider {provider!r} (expected one of {', '.join(PROVIDERS)})")
