"""A secret that decodes to no key fails closed (issue 11): the real webhook handlers on moto, with
each webhook secret stored as ``""`` and its variants, called with bodies signed by the empty key
the way an attacker would. Every such call is refused (500: secret unavailable, or 401) with a
JSON reason and nothing reaches inbound.fifo; the Meta handshake never echoes the challenge.

The bodies are the repository's channel fixtures (tests/fixtures/channels, sources noted there);
here only the signing key matters.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from webhook_calls import Context, drain_messages, http_event, post_signed  # tests/integration/webhook_calls.py

from socialcare_infra.handlers import load_app
from socialcare_infra.provision import Provisioner
from socialcare_infra.template import Resolver, load_template

if TYPE_CHECKING:
    from conftest import AwsStack  # tests/integration/conftest.py (the moto stack fixture)

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "channels"
pytestmark = pytest.mark.integration

# Stored values that hold no key: the JSON empty string, blank strings, empty containers, null,
# and maps whose every entry is blank.
EMPTY_VALUES = ['""', '"   "', " \n", "{}", "[]", "null", '{"app": ""}', '{"default": " ", "other": ""}',
                '[""]', '{"default": null}']
BODIES = {
    "meta": FIXTURES / "meta_whatsapp_messages.json",
    "inbound": FIXTURES / "gateway_email.json",
    "x": FIXTURES / "x_tweet_create_events.json",
}
SECRET_OF = {"meta": "MetaAppSecret", "inbound": "InboundSecret", "x": "XConsumerSecret"}
FUNCTION_OF = {"meta": "webhook_meta", "inbound": "webhook_inbound", "x": "webhook_x"}


def store(aws: AwsStack, logical_id: str, value: str) -> None:
    boto3.client("secretsmanager").put_secret_value(SecretId=aws.secret_arns[logical_id], SecretString=value)
    parameters.clear_caches()


def assert_refused(status: int, body: object) -> None:
    assert status in (401, 500), (status, body)
    assert isinstance(body, dict) and body.get("reason"), body  # a JSON reason, not an echo


@pytest.mark.parametrize("endpoint", ["meta", "inbound", "x"])
@pytest.mark.parametrize("stored", EMPTY_VALUES)
def test_a_body_signed_with_the_empty_key_is_refused_and_nothing_is_enqueued(
    aws: AwsStack, endpoint: str, stored: str
) -> None:
    store(aws, SECRET_OF[endpoint], stored)
    module = load_app(FUNCTION_OF[endpoint])
    for key in ("", " ", "   ", stored):  # the decoded empty key, blank ones, the stored text itself
        status, body = post_signed(module, endpoint, key, BODIES[endpoint].read_bytes())
        assert_refused(status, body)
    assert drain_messages(aws.queue_urls["InboundQueue"]) == []


@pytest.mark.parametrize("endpoint", ["meta", "inbound"])
def test_blank_entries_of_a_key_map_are_dropped_and_the_others_still_verify(aws: AwsStack, endpoint: str) -> None:
    store(aws, SECRET_OF[endpoint], json.dumps({"old": "", "blank": "  ", "current": "k-current"}))
    module = load_app(FUNCTION_OF[endpoint])
    raw = BODIES[endpoint].read_bytes()
    status, body = post_signed(module, endpoint, "", raw)
    assert status == 401, body
    assert drain_messages(aws.queue_urls["InboundQueue"]) == []
    status, body = post_signed(module, endpoint, "k-current", raw)
    assert status == 200, body
    assert drain_messages(aws.queue_urls["InboundQueue"]) != []


@pytest.mark.parametrize("stored", EMPTY_VALUES)
def test_the_meta_handshake_with_an_empty_verify_token_never_echoes_the_challenge(
    aws: AwsStack, stored: str
) -> None:
    store(aws, "MetaVerifyToken", stored)
    webhook_meta = load_app("webhook_meta")
    for presented in ("", " ", stored, "anything"):
        query = {"hub.mode": "subscribe", "hub.verify_token": presented, "hub.challenge": "1158201444"}
        response = webhook_meta.handler(http_event("GET", "/webhooks/meta", query=query), Context())
        assert response["statusCode"] in (403, 500), response
        assert "1158201444" not in (response.get("body") or "")


@pytest.mark.parametrize("local_value", ["", '""', "{}"])
def test_the_local_stack_starts_with_an_empty_meta_secret_and_its_webhook_fails_closed(
    aws: AwsStack, monkeypatch: pytest.MonkeyPatch, local_value: str
) -> None:
    """``make up`` with SOCIALCARE_META_APP_SECRET deliberately empty: provisioning succeeds (an
    empty env value used to be refused by Secrets Manager) and the Meta webhook refuses."""
    resolver = Resolver(load_template(ROOT / "template.yaml"), stack_name="empty-local")
    provisioned = Provisioner(
        resolver, endpoint_url=None, environ={"SOCIALCARE_META_APP_SECRET": local_value}  # type: ignore[arg-type]
    ).provision()
    assert provisioned.secret_values["MetaAppSecret"] == local_value
    monkeypatch.setenv("SOCIALCARE_META_APP_SECRET_ARN", provisioned.secret_arns["MetaAppSecret"])
    parameters.clear_caches()
    webhook_meta = load_app("webhook_meta")
    status, body = post_signed(webhook_meta, "meta", "", BODIES["meta"].read_bytes())
    assert_refused(status, body)
    assert drain_messages(aws.queue_urls["InboundQueue"]) == []
