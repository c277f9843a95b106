"""``socialcare ... --local`` against the embedded stack's AWS, and ``socialcare webhooks``.

A moto server on a loopback port holds template.yaml's resources, provisioned by the local stack's
own provisioner under the local stack's names (``socialcare-local``), with the secrets seeded as
``socialcare local`` seeds them; the CLI finds it through ``$SOCIALCARE_LOCAL_MOTO_PORT`` as it
finds a running ``socialcare local``. The X and Graph APIs are ``responses`` (the real tweepy and
facebook-sdk send through them): the local stack's platform stand-in has no webhook-management
endpoints.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import boto3
import pytest
import responses
from aws_lambda_powertools.utilities import parameters
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner

from socialcare_infra.cli import app
from socialcare_infra.provision import Provisioned, Provisioner
from socialcare_infra.template import Resolver, load_template

pytestmark = pytest.mark.integration

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
X_API, GRAPH_API = "https://x.test", "https://graph.test"
APP_ID = "1234567890"
SECRETS = {
    "SOCIALCARE_X_API_CREDENTIALS": json.dumps({
        "default": {"bearer_token": "app-bearer"},
        "2244994945": {"consumer_key": "ck", "consumer_secret": "cs", "access_token": "2244994945-at",
                       "access_token_secret": "ats"}}),
    "SOCIALCARE_META_APP_SECRET": json.dumps({APP_ID: "meta-app-secret"}),
    "SOCIALCARE_META_VERIFY_TOKEN": "verify-me",
    "SOCIALCARE_META_ACCESS_TOKENS": json.dumps({"default": "default-token", "101": "page-101-token"}),
}
X_HOOK = "http://127.0.0.1:3000/webhooks/x"
META_HOOK = "http://127.0.0.1:3000/webhooks/meta"


@dataclass
class LocalAws:
    url: str
    made: Provisioned

    def sqs(self) -> Any:
        return boto3.client("sqs", endpoint_url=self.url)


@pytest.fixture(scope="module")
def local_aws() -> Iterator[LocalAws]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        with pytest.MonkeyPatch.context() as env:
            for name, value in {"AWS_DEFAULT_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "testing",
                                "AWS_SECRET_ACCESS_KEY": "testing", "SOCIALCARE_LOCAL_MOTO_PORT": str(port),
                                "SOCIALCARE_LOCAL_API_PORT": "3000", "SOCIALCARE_X_API_URL": X_API,
                                "SOCIALCARE_GRAPH_API_URL": GRAPH_API, "AWS_ENDPOINT_URL": url}.items():
                env.setenv(name, value)  # the CLI points this process at the local stack: undone after
            env.delenv("SOCIALCARE_GRAPH_API_VERSION", raising=False)
            made = Provisioner(Resolver(load_template(TEMPLATE), stack_name="socialcare-local"), endpoint_url=url,
                               environ=SECRETS).provision()
            yield LocalAws(url, made)
    finally:
        server.stop()


@pytest.fixture
def local(local_aws: LocalAws) -> Iterator[LocalAws]:
    parameters.clear_caches()  # secrets are cached five minutes, per process
    yield local_aws
    parameters.clear_caches()


def cli(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


# ---------------------------------------------------------------------------------- dlq, replay
def test_dlq_commands_find_the_local_stack_by_its_moto_port(local: LocalAws) -> None:
    dlq = local.made.queue_urls["InboundDLQ"]
    local.sqs().send_message(QueueUrl=dlq, MessageBody='{"event_id": "e1"}', MessageGroupId="x:1",
                             MessageDeduplicationId="e1")

    listed = cli("dlq", "list", "--local")
    assert listed.exit_code == 0, listed.output
    assert any(line.split()[:2] == ["InboundDLQ", "1"] and "socialcare-local-inbound-dlq.fifo" in line
               for line in listed.stdout.splitlines())
    moved = cli("dlq", "redrive", "--local", "--queue", "InboundDLQ", "--yes")
    assert moved.exit_code == 0, moved.output
    assert "moved 1 message(s) from InboundDLQ to InboundQueue (receive/send/delete)" in moved.stdout
    got = local.sqs().receive_message(QueueUrl=local.made.queue_urls["InboundQueue"],
                                      AttributeNames=["MessageGroupId"])["Messages"]
    assert [(m["Body"], m["Attributes"]["MessageGroupId"]) for m in got] == [('{"event_id": "e1"}', "x:1")]


def test_replay_on_an_empty_window_replays_nothing(local: LocalAws) -> None:
    result = cli("replay", "--local", "--from", "2026-11-30", "--to", "2026-12-01")
    assert result.exit_code == 0, result.output
    assert "0 interaction(s) from 2026-11-30T00:00:00+00:00 to 2026-12-01T00:00:00+00:00" in result.stdout
    assert "replayed 0 onto inbound.fifo" in result.stdout


# ---------------------------------------------------------------------------------- webhooks
def form(call: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(call.request.body or "").items()}


def query(call: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(call.request.url).query).items()}


def test_webhooks_register_registers_both_urls_and_subscribes_the_accounts(local: LocalAws) -> None:
    with responses.RequestsMock() as api:
        api.get(f"{X_API}/2/webhooks", json={"data": [], "meta": {"result_count": 0}})
        created = api.post(f"{X_API}/2/webhooks", json={"data": {"id": "77", "url": X_HOOK, "valid": True}})
        subscribed = api.post(f"{X_API}/2/account_activity/webhooks/77/subscriptions/all",
                              json={"data": {"subscribed": True}})
        apps = api.post(f"{GRAPH_API}/v21.0/{APP_ID}/subscriptions", json={"success": True})
        page = api.post(f"{GRAPH_API}/v21.0/101/subscribed_apps", json={"success": True})

        result = cli("webhooks", "register", "--local", "--page", "101")

    assert result.exit_code == 0, result.output
    assert "X: registered webhook 77 for http://127.0.0.1:3000/webhooks/x" in result.stdout
    assert "X: account 2244994945 subscribed to webhook 77" in result.stdout
    assert json.loads(created.calls[0].request.body) == {"url": X_HOOK}
    assert created.calls[0].request.headers["Authorization"] == "Bearer app-bearer"
    oauth = subscribed.calls[0].request.headers["Authorization"]
    assert oauth.startswith("OAuth ") and 'oauth_consumer_key="ck"' in oauth and 'oauth_token="2244994945-at"' in oauth
    subscriptions = {form(c)["object"]: form(c) for c in apps.calls}
    assert set(subscriptions) == {"page", "instagram", "whatsapp_business_account"}
    assert {(s["callback_url"], s["verify_token"], s["access_token"]) for s in subscriptions.values()} == {
        (META_HOOK, "verify-me", f"{APP_ID}|meta-app-secret")}
    assert "messages" in subscriptions["whatsapp_business_account"]["fields"].split(",")
    assert "feed" in subscriptions["page"]["fields"].split(",")
    assert form(page.calls[0])["access_token"] == "page-101-token"
    assert "verify-me" not in result.output and "meta-app-secret" not in result.output


def test_webhooks_register_reuses_a_registered_url_and_reports_a_refused_subscription(local: LocalAws) -> None:
    with responses.RequestsMock() as api:
        api.get(f"{X_API}/2/webhooks", json={"data": [{"id": "77", "url": X_HOOK, "valid": True}]})
        api.post(f"{X_API}/2/account_activity/webhooks/77/subscriptions/all", status=403, json={
            "title": "Forbidden", "detail": "SubscriptionLimitExceeded", "type": "about:blank"})

        result = cli("webhooks", "register", "--local", "--platform", "x")

    assert result.exit_code == 1
    assert "X: webhook 77 already registered for http://127.0.0.1:3000/webhooks/x" in result.stdout
    assert "error: X: subscribing account 2244994945 failed: 403" in result.stderr
    assert "SubscriptionLimitExceeded" in result.stderr


def test_webhooks_status_shows_what_is_registered_and_flags_another_callback(local: LocalAws) -> None:
    with responses.RequestsMock() as api:
        api.get(f"{X_API}/2/webhooks", json={"data": [{"id": "77", "url": X_HOOK, "valid": True}]})
        listed = api.get(f"{X_API}/2/account_activity/webhooks/77/subscriptions/all/list", json={"data": {
            "webhook_id": "77", "subscriptions": [{"user_id": "2244994945"}]}})
        apps = api.get(f"{GRAPH_API}/v21.0/{APP_ID}/subscriptions", json={"data": [
            {"object": "page", "callback_url": META_HOOK, "active": True, "fields": [{"name": "feed"}]},
            {"object": "instagram", "callback_url": META_HOOK, "active": True, "fields": [{"name": "comments"}]},
            {"object": "whatsapp_business_account", "callback_url": "https://old.example/hook", "active": True,
             "fields": [{"name": "messages"}]}]})

        result = cli("webhooks", "status", "--local")

    assert result.exit_code == 1  # WhatsApp still goes to another URL
    assert ("X: webhook 77 http://127.0.0.1:3000/webhooks/x (this stack) valid=True subscribed accounts: 2244994945"
            in result.stdout)
    assert f"Meta: app {APP_ID} page -> {META_HOOK} active=True fields: feed (this stack)" in result.stdout
    assert "whatsapp_business_account -> https://old.example/hook" in result.stderr
    assert listed.calls[0].request.headers["Authorization"] == "Bearer app-bearer"
    assert query(apps.calls[0])["access_token"] == f"{APP_ID}|meta-app-secret"
