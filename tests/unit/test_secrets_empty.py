"""The one decoding rule for secrets (issue 11): a stored value yields non-blank keys or the secret
is unavailable, whichever caller asks (a single key, one account's entry, every candidate)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from socialcare.domain.channels.accounts import Accounts
from socialcare.errors import SecretUnavailable
from socialcare.secrets import SecretStore, decode

NO_KEY = ['""', '"  "', "   ", "\n", "null", "true", "[]", '[""]', '["k"]']


@pytest.mark.parametrize("raw", NO_KEY + ["", None, b'""'])
def test_a_value_with_no_key_is_unavailable(raw: str | bytes | None) -> None:
    with pytest.raises(SecretUnavailable):
        decode("meta_app_secret", raw)


def test_a_json_string_literal_is_its_text_and_a_plain_or_numeric_secret_is_itself() -> None:
    assert decode("s", '"k-1"') == "k-1"
    assert decode("s", "plain secret") == "plain secret"
    assert decode("s", "0123456789") == "0123456789"  # digits are a key, not the number 123456789


def test_blank_entries_of_a_map_are_dropped() -> None:
    raw = json.dumps({"a": "", "b": " \t", "c": None, "d": {}, "e": "k", "f": {"consumer_secret": "x"}})
    assert decode("s", raw) == {"e": "k", "f": {"consumer_secret": "x"}}


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SecretStore, Callable[[str], None]]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        sm = boto3.client("secretsmanager", region_name="eu-west-1")
        arn = sm.create_secret(Name="s", SecretString="placeholder")["ARN"]

        def put(value: str) -> None:
            sm.put_secret_value(SecretId=arn, SecretString=value)
            parameters.clear_caches()

        names = ("meta_app_secret", "meta_verify_token", "inbound_secret", "x_consumer_secret",
                 "crm_webhook_secret", "meta_access_tokens")
        parameters.clear_caches()
        yield SecretStore({n: arn for n in names}), put
        parameters.clear_caches()


@pytest.mark.parametrize("raw", NO_KEY + ["{}", '{"a": ""}', '{"default": "  ", "p1": null}'])
def test_every_way_of_reading_a_secret_with_no_key_fails_closed(
    store: tuple[SecretStore, Callable[[str], None]], raw: str
) -> None:
    secrets, put = store
    put(raw)
    accounts = Accounts(secrets)
    readers = [accounts.meta_app_secrets, accounts.meta_verify_tokens, accounts.inbound_secrets,
               accounts.x_apps, lambda: accounts.meta_access_token("p1"),
               lambda: secrets.value("crm_webhook_secret")]
    for read in readers:
        with pytest.raises(SecretUnavailable):
            read()


def test_a_map_keeps_its_usable_keys(store: tuple[SecretStore, Callable[[str], None]]) -> None:
    secrets, put = store
    put(json.dumps({"old": "", "default": "k-default", "p1": " ", "p2": "k-p2"}))
    accounts = Accounts(secrets)
    assert accounts.meta_app_secrets() == ["k-default", "k-p2"]
    assert accounts.meta_access_token("p1") == "k-default"  # its blank entry falls back to default
    assert accounts.meta_access_token("p2") == "k-p2"


def test_an_x_app_with_only_blank_secrets_is_unavailable(
    store: tuple[SecretStore, Callable[[str], None]]
) -> None:
    secrets, put = store
    put(json.dumps({"default": {"consumer_secret": "  ", "oauth2_client_secret": ""}}))
    with pytest.raises(SecretUnavailable):
        Accounts(secrets).x_apps()
