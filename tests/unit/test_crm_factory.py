"""SOCIALCARE_CRM_PROVIDER picks the adapter; its credentials come from Secrets Manager (moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from socialcare.config.settings import Settings
from socialcare.crm.base import Permanent
from socialcare.crm.factory import build_adapter, vendor_credentials
from socialcare.crm.hubspot import HubSpotAdapter
from socialcare.crm.salesforce import SalesforceAdapter
from socialcare.crm.webhook import WebhookAdapter
from socialcare.crm.zendesk import ZendeskAdapter
from socialcare.errors import SecretUnavailable
from socialcare.secrets import SecretStore


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with mock_aws():
        sm = boto3.client("secretsmanager")
        creds = {
            "salesforce": {"instance_url": "https://acme.my.salesforce.com", "access_token": "t"},
            "zendesk": {"subdomain": "acme", "email": "bot@acme.test", "api_token": "z"},
            "hubspot": {"access_token": "pat"},
        }
        monkeypatch.setenv(
            "SOCIALCARE_CRM_CREDENTIALS_ARN", sm.create_secret(Name="c", SecretString=json.dumps(creds))["ARN"]
        )
        monkeypatch.setenv("SOCIALCARE_CRM_WEBHOOK_SECRET_ARN", sm.create_secret(Name="w", SecretString="hook")["ARN"])
        parameters.clear_caches()
        yield
        parameters.clear_caches()


def _secrets() -> SecretStore:
    # The function's secrets, as its settings name them (SOCIALCARE_CRM_*_ARN).
    return SecretStore(Settings().secret_arns())


def test_each_provider_builds_its_adapter_with_its_credentials(secrets: None) -> None:
    store = _secrets()
    webhook = build_adapter("webhook", store, webhook_url="https://crm.test/hook")
    assert isinstance(webhook, WebhookAdapter) and webhook.secret == "hook"
    salesforce = build_adapter("salesforce", store, webhook_url="")
    assert isinstance(salesforce, SalesforceAdapter) and salesforce.base.endswith("/services/data/v61.0")
    zendesk = build_adapter("zendesk", store, webhook_url="")
    assert isinstance(zendesk, ZendeskAdapter) and zendesk.base == "https://acme.zendesk.com/api/v2"
    assert isinstance(build_adapter("hubspot", store, webhook_url=""), HubSpotAdapter)
    assert vendor_credentials(store, "hubspot") == {"access_token": "pat"}


def test_unknown_provider_and_missing_credentials_are_configuration_errors(
    secrets: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(Permanent, match="unknown CRM provider 'freshdesk'"):
        build_adapter("freshdesk", _secrets(), webhook_url="")
    boto3.client("secretsmanager").put_secret_value(SecretId="c", SecretString=json.dumps({"zendesk": {}}))
    parameters.clear_caches()
    with pytest.raises(Permanent, match="no 'hubspot' object"):
        build_adapter("hubspot", _secrets(), webhook_url="")
    monkeypatch.setenv("SOCIALCARE_CRM_WEBHOOK_SECRET_ARN", "")
    with pytest.raises(SecretUnavailable):
        build_adapter("webhook", _secrets(), webhook_url="https://crm.test/hook")
