"""POST /webhooks/crm/{provider}: each vendor's signature, fail-closed secrets, and what a CRM
event does to our cases and replies (moto in-process; no network)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from socialcare import aws
from socialcare.config.settings import CrmWebhookSettings, Settings, load
from socialcare.crm.samples import sample_view
from socialcare.errors import BadRequest, ConfigurationError
from socialcare.flows import crm_webhook
from socialcare.flows.wiring import Wiring
from socialcare.models.interaction import Channel, Kind
from socialcare.models.reply import OutboundMessage, ReplyRefused, ReplyRoute, ReplyTo
from socialcare.store.cases import CasesRepository
from socialcare_infra.provision import Provisioner
from socialcare_infra.template import Resolver, load_template

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
GENERIC_SECRET = "generic-secret"
CREDENTIALS = {
    "zendesk": {"webhook_secret": "zd-secret", "integration_user_id": "900"},
    "hubspot": {"client_secret": "hs-secret"},
    "salesforce": {"webhook_secret": "sf-secret", "integration_user_id": "005BOT"},
}


class FakeCaseService:
    """The case actions a CRM may trigger (``flows.crm_webhook.CaseCommands``), recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def set_case_status(self, case_id: str, status: str, *, actor: str) -> None:
        self.calls.append((status, case_id, actor))


class FakeReplies:
    """The reply service (``flows.crm_webhook.ReplyRequests``), recording what a CRM asked to send
    (the service itself, its policy check and the queue: tests/integration/test_reply_api.py).
    ``refuse`` makes it answer as the platform's rules or a too-long text would."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.refuse: Exception | None = None

    def request(self, case_id: str, *, text: str | None, **kwargs: Any) -> OutboundMessage:
        self.requests.append({"case_id": case_id, "text": text, **kwargs})
        if self.refuse is not None:
            raise self.refuse
        last = sample_view(case_id, channels=("x", "whatsapp")).interactions[-1]
        to = ReplyTo(interaction_id=last.id, channel=Channel(last.channel), kind=Kind(last.kind), public=last.public,
                     platform_message_id=last.id.split(":", 1)[1], author_id=last.author_id or "",
                     occurred_at=last.occurred_at, last_inbound_at=last.occurred_at)
        return OutboundMessage(interaction_id=f"reply:{len(self.requests)}", case_id=case_id, channel=to.channel,
                               route=ReplyRoute.MESSAGE, to=to, text=text, source=kwargs["source"])


class Context:
    """The Lambda context the function's handler passes on (the idempotency guard reads it)."""

    function_name = "CrmWebhookFunction"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:CrmWebhookFunction"
    aws_request_id = "req-1"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


class CrmWebhookWiring(Wiring):
    """The CRM webhook's composition root with in-memory case commands and reply service; the
    secrets, the CRM index and the idempotency guard are the (moto) real ones."""

    def __init__(self, settings: Settings, commands: FakeCaseService, replies: FakeReplies) -> None:
        super().__init__(settings)
        self._commands = commands
        self._replies = replies

    @cached_property
    def case_actions(self) -> Any:
        return self._commands

    @cached_property
    def reply_service(self) -> Any:
        return self._replies


@pytest.fixture(scope="module")
def aws_stack() -> Iterator[Any]:
    # Provisioned once per module from template.yaml (the deployed schema, GSIs included).
    with pytest.MonkeyPatch.context() as mp, mock_aws():
        mp.delenv("AWS_ENDPOINT_URL", raising=False)
        for key, value in {
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "t",
            "AWS_SECRET_ACCESS_KEY": "t",
        }.items():
            mp.setenv(key, value)
        resolver = Resolver(load_template(TEMPLATE), stack_name="t")
        env = {"SOCIALCARE_CRM_WEBHOOK_SECRET": GENERIC_SECRET, "SOCIALCARE_CRM_CREDENTIALS": json.dumps(CREDENTIALS)}
        yield Provisioner(resolver, endpoint_url=None, environ=env).provision()  # type: ignore[arg-type]


@pytest.fixture
def stack(aws_stack: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    made = aws_stack
    monkeypatch.setenv("SOCIALCARE_CRM_WEBHOOK_SECRET_ARN", made.secret_arns["CrmWebhookSecret"])
    monkeypatch.setenv("SOCIALCARE_CRM_CREDENTIALS_ARN", made.secret_arns["CrmCredentials"])
    monkeypatch.setenv("SOCIALCARE_OUTBOUND_QUEUE_URL", made.queue_urls["OutboundQueue"])
    monkeypatch.setenv("SOCIALCARE_CASES_TABLE", made.names["CasesTable"])
    monkeypatch.setenv("SOCIALCARE_PROFILES_TABLE", made.names["ProfilesTable"])
    monkeypatch.setenv("SOCIALCARE_IDEMPOTENCY_TABLE", made.names["IdempotencyTable"])
    monkeypatch.setenv("SOCIALCARE_SOCIAL_TEAM_QUEUE_URL", made.queue_urls["SocialTeamQueue"])
    monkeypatch.setenv("SOCIALCARE_CALLCENTRE_TEAM_QUEUE_URL", made.queue_urls["CallcentreTeamQueue"])
    boto3.client("secretsmanager").put_secret_value(
        SecretId=made.secret_arns["CrmCredentials"], SecretString=json.dumps(CREDENTIALS)
    )
    _drain(made.queue_urls["OutboundQueue"])
    parameters.clear_caches()
    aws.reset()
    service, replies = FakeCaseService(), FakeReplies()
    # CrmWebhookFunction's own settings, validated as at its cold start.
    app = _app(load(CrmWebhookSettings), service, replies)
    yield {"service": service, "replies": replies, "made": made, "app": app}
    parameters.clear_caches()
    aws.reset()


def _app(settings: Settings, service: FakeCaseService, replies: FakeReplies | None = None) -> Any:
    return crm_webhook.build(CrmWebhookWiring(settings, service, replies or FakeReplies()))


def _call(app: Any, provider: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    event = {
        "version": "2.0",
        "routeKey": "POST /webhooks/crm/{provider}",
        "rawPath": f"/webhooks/crm/{provider}",
        "rawQueryString": "",
        "headers": {"host": "api.example.test", "content-type": "application/json", **headers},
        "requestContext": {
            "http": {"method": "POST", "path": f"/webhooks/crm/{provider}", "sourceIp": "1.2.3.4"},
            "domainName": "api.example.test",
            "requestId": "r1",
            "stage": "$default",
        },
        "pathParameters": {"provider": provider},
        "body": body.decode(),
        "isBase64Encoded": False,
    }
    response: dict[str, Any] = app.resolve(event, Context())
    response["json"] = json.loads(response["body"]) if response.get("body") else None
    return response


def _ours(secret: str, body: bytes, ts: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if ts is None else ts)
    sig = "sha256=" + hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"x-socialcare-timestamp": stamp, "x-socialcare-signature": sig}


def _zendesk(body: bytes, secret: str = "zd-secret") -> dict[str, str]:
    stamp = "2026-11-22T08:00:00Z"
    sig = base64.b64encode(hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()).decode()
    return {"x-zendesk-webhook-signature": sig, "x-zendesk-webhook-signature-timestamp": stamp}


def _hubspot(body: bytes, ts_ms: int | None = None, secret: str = "hs-secret") -> dict[str, str]:
    stamp = str(int(time.time() * 1000) if ts_ms is None else ts_ms)
    source = b"POST" + b"https://api.example.test/webhooks/crm/hubspot" + body + stamp.encode()
    sig = base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest()).decode()
    return {"x-hubspot-signature-v3": sig, "x-hubspot-request-timestamp": stamp}


def _drain(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    for message in got:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return [json.loads(m["Body"]) for m in got]


def _case_in_crm(stack: dict[str, Any], case_id: str, provider: str, record_id: str) -> None:
    client = boto3.client("dynamodb")
    table = stack["made"].names["CasesTable"]
    client.put_item(TableName=table, Item={"pk": {"S": f"CASE#{case_id}"}, "sk": {"S": "CASE"}, "version": {"N": "1"}})
    assert CasesRepository(table, client).record_crm_sync(case_id, provider=provider, record_id=record_id, version=1)


def _replies(stack: dict[str, Any]) -> list[dict[str, Any]]:
    return list(stack["replies"].requests)


# ------------------------------------------------------------------ generic webhook


def test_generic_status_solved_resolves_the_case(stack: dict[str, Any]) -> None:
    body = json.dumps({"event": "case.status_changed", "case_id": "SC-2026-1", "status": "solved"}).encode()
    response = _call(stack["app"], "webhook", body, _ours(GENERIC_SECRET, body))
    assert response["statusCode"] == 200
    assert response["json"] == {"received": 1, "applied": 1, "ignored": 0}
    assert stack["service"].calls == [("resolved", "SC-2026-1", "crm:webhook")]


def test_bad_signature_is_401_and_nothing_happens(stack: dict[str, Any]) -> None:
    body = json.dumps({"event": "case.status_changed", "case_id": "SC-2026-1", "status": "solved"}).encode()
    response = _call(stack["app"], "webhook", body, _ours("wrong-secret", body))
    assert response["statusCode"] == 401
    assert response["json"]["error"] == "unauthorized"
    assert stack["service"].calls == []


def test_replayed_old_signature_is_401(stack: dict[str, Any]) -> None:
    body = json.dumps({"event": "case.status_changed", "case_id": "SC-2026-1", "status": "solved"}).encode()
    response = _call(stack["app"], "webhook", body, _ours(GENERIC_SECRET, body, ts=int(time.time()) - 301))
    assert response["statusCode"] == 401
    assert stack["service"].calls == []


def test_missing_secret_fails_closed_with_500(stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALCARE_CRM_WEBHOOK_SECRET_ARN", "")
    # Deployed like that, the function refuses to start...
    with pytest.raises(ConfigurationError, match="SOCIALCARE_CRM_WEBHOOK_SECRET_ARN is required"):
        load(CrmWebhookSettings)
    # ... and a flow that runs without the secret anyway answers 500 and processes nothing.
    app = _app(Settings(), stack["service"])
    body = json.dumps({"event": "case.status_changed", "case_id": "SC-2026-1", "status": "solved"}).encode()
    response = _call(app, "webhook", body, _ours(GENERIC_SECRET, body))
    assert response["statusCode"] == 500
    assert response["json"]["error"] == "secret_unavailable"
    assert stack["service"].calls == []


def test_bad_json_is_400_with_a_reason(stack: dict[str, Any]) -> None:
    body = b"{not json"
    response = _call(stack["app"], "webhook", body, _ours(GENERIC_SECRET, body))
    assert response["statusCode"] == 400
    assert response["json"]["error"] == "bad_request" and "not JSON" in response["json"]["reason"]


def test_unknown_provider_is_404(stack: dict[str, Any]) -> None:
    assert _call(stack["app"], "freshdesk", b"{}", {})["statusCode"] == 404


def test_our_own_echo_is_ignored(stack: dict[str, Any]) -> None:
    body = json.dumps(
        {"event": "case.status_changed", "case_id": "SC-2026-1", "status": "open", "origin": "socialcare"}
    ).encode()
    response = _call(stack["app"], "webhook", body, _ours(GENERIC_SECRET, body))
    assert response["json"] == {"received": 1, "applied": 0, "ignored": 1}
    assert stack["service"].calls == []


def test_public_agent_reply_goes_to_the_reply_service_once(stack: dict[str, Any]) -> None:
    body = json.dumps(
        {
            "event": "case.replied",
            "case_id": "SC-2026-1",
            "reply": {
                "id": "r-1",
                "text": "Ci scusiamo, il rimborso è partito.",
                "public": True,
                "author": {"id": "agent-7", "name": "Marta"},
            },
        }
    ).encode()
    first = _call(stack["app"], "webhook", body, _ours(GENERIC_SECRET, body))
    assert first["statusCode"] == 200 and first["json"] == {"received": 1, "applied": 1, "ignored": 0}
    assert _call(stack["app"], "webhook", body, _ours(GENERIC_SECRET, body))["statusCode"] == 200  # the CRM retried

    (reply,) = _replies(stack)  # checked and queued once (the idempotency guard, on moto)
    assert reply["case_id"] == "SC-2026-1" and reply["text"] == "Ci scusiamo, il rimborso è partito."
    assert reply["source"] == "crm:webhook" and reply["crm_reply_id"] == "r-1" and reply["agent"] == "Marta"


@pytest.mark.parametrize("refusal", [
    ReplyRefused("messaging_window_closed", "whatsapp_24h_window", "WhatsApp's 24-hour window closed", []),
    BadRequest("the reply is 300 characters; a public_reply on x takes at most 280"),
])
def test_a_reply_the_platform_refuses_is_ignored_not_retried(stack: dict[str, Any], refusal: Exception) -> None:
    stack["replies"].refuse = refusal
    body = json.dumps({"event": "case.replied", "case_id": "SC-2026-1",
                       "reply": {"id": "r-2", "text": "Eccoci", "public": True}}).encode()
    response = _call(stack["app"], "webhook", body, _ours(GENERIC_SECRET, body))
    # A 4xx would make the CRM retry, forever, a reply that can never be sent (the service
    # recorded it REFUSED on the case, which the CRM's copy shows).
    assert response["statusCode"] == 200
    assert response["json"] == {"received": 1, "applied": 0, "ignored": 1}


# ------------------------------------------------------------------ Zendesk


def test_zendesk_trigger_resolves_and_forwards_a_public_comment(stack: dict[str, Any]) -> None:
    body = json.dumps(
        {
            "ticket_id": "4242",
            "external_id": "SC-2026-1",
            "status": "solved",
            "updated_by": "501",
            "comment": {"id": "c-9", "body": "Risolto, grazie!", "public": "true", "author_id": "501"},
        }
    ).encode()
    response = _call(stack["app"], "zendesk", body, _zendesk(body))
    assert response["json"] == {"received": 2, "applied": 2, "ignored": 0}
    assert stack["service"].calls == [("resolved", "SC-2026-1", "crm:zendesk")]
    assert [(r["source"], r["crm_reply_id"], r["crm_record_id"]) for r in _replies(stack)] == [
        ("crm:zendesk", "c-9", "4242")]


def test_zendesk_private_notes_and_our_own_updates_are_not_sent_to_customers(stack: dict[str, Any]) -> None:
    body = json.dumps(
        {
            "ticket_id": "4242",
            "external_id": "SC-2026-1",
            "status": "open",
            "updated_by": "900",  # our integration user: an echo of our own sync
            "comment": {"id": "c-10", "body": "[x public_post] message 0", "public": "true", "author_id": "900"},
        }
    ).encode()
    assert _call(stack["app"], "zendesk", body, _zendesk(body))["json"] == {"received": 2, "applied": 0, "ignored": 2}
    note = json.dumps(
        {
            "ticket_id": "4242",
            "external_id": "SC-2026-1",
            "comment": {"id": "c-11", "body": "internal", "public": False, "author_id": "501"},
        }
    ).encode()
    assert _call(stack["app"], "zendesk", note, _zendesk(note))["json"]["applied"] == 0
    assert _replies(stack) == [] and stack["service"].calls == []


def test_zendesk_event_webhook_finds_the_case_through_the_crm_index(stack: dict[str, Any]) -> None:
    _case_in_crm(stack, "SC-2026-5", "zendesk", "777")
    body = json.dumps(
        {
            "type": "zen:event-type:ticket.status_changed",
            "id": "ev-1",
            "detail": {"id": "777"},
            "event": {"previous": "OPEN", "current": "PENDING"},
        }
    ).encode()
    assert _call(stack["app"], "zendesk", body, _zendesk(body))["statusCode"] == 200
    assert stack["service"].calls == [("pending", "SC-2026-5", "crm:zendesk")]


def test_zendesk_wrong_signature_is_401(stack: dict[str, Any]) -> None:
    body = json.dumps({"ticket_id": "1", "status": "solved", "external_id": "SC-2026-1"}).encode()
    assert _call(stack["app"], "zendesk", body, _zendesk(body, secret="other"))["statusCode"] == 401


# ------------------------------------------------------------------ HubSpot


def test_hubspot_v3_closed_stage_resolves_the_case(stack: dict[str, Any]) -> None:
    _case_in_crm(stack, "SC-2026-8", "hubspot", "t-88")
    body = json.dumps(
        [
            {
                "eventId": 1,
                "subscriptionType": "ticket.propertyChange",
                "objectId": "t-88",
                "propertyName": "hs_pipeline_stage",
                "propertyValue": "4",
                "changeSource": "CRM_UI",
            },
            {
                "eventId": 2,
                "subscriptionType": "ticket.propertyChange",
                "objectId": "t-88",
                "propertyName": "hs_pipeline_stage",
                "propertyValue": "3",
                "changeSource": "INTEGRATION",
            },
        ]
    ).encode()
    response = _call(stack["app"], "hubspot", body, _hubspot(body))
    assert response["json"] == {"received": 2, "applied": 1, "ignored": 1}
    assert stack["service"].calls == [("resolved", "SC-2026-8", "crm:hubspot")]


def test_hubspot_signature_older_than_five_minutes_is_401(stack: dict[str, Any]) -> None:
    body = b"[]"
    old = int((time.time() - 301) * 1000)
    assert _call(stack["app"], "hubspot", body, _hubspot(body, ts_ms=old))["statusCode"] == 401
    assert _call(stack["app"], "hubspot", body, _hubspot(body))["statusCode"] == 200


# ------------------------------------------------------------------ Salesforce


def test_salesforce_apex_callout_is_verified_with_its_own_secret(stack: dict[str, Any]) -> None:
    body = json.dumps(
        {
            "event": "case.status_changed",
            "case_id": "SC-2026-1",
            "record_id": "500A",
            "status": "Closed",
            "actor_id": "005AGENT",
        }
    ).encode()
    assert _call(stack["app"], "salesforce", body, _ours(GENERIC_SECRET, body))["statusCode"] == 401
    assert _call(stack["app"], "salesforce", body, _ours("sf-secret", body))["statusCode"] == 200
    assert stack["service"].calls == [("resolved", "SC-2026-1", "crm:salesforce")]


def test_salesforce_without_a_webhook_secret_fails_closed(stack: dict[str, Any]) -> None:
    creds = {k: v for k, v in CREDENTIALS.items() if k != "salesforce"}
    boto3.client("secretsmanager").put_secret_value(
        SecretId=stack["made"].secret_arns["CrmCredentials"], SecretString=json.dumps(creds)
    )
    parameters.clear_caches()
    body = json.dumps({"event": "case.status_changed", "case_id": "SC-2026-1", "status": "Closed"}).encode()
    assert _call(stack["app"], "salesforce", body, _ours("sf-secret", body))["statusCode"] == 500
    assert stack["service"].calls == []


def test_a_status_the_case_can_no_longer_take_is_ignored_not_refused(stack: dict[str, Any]) -> None:
    from socialcare.errors import Conflict

    def merged(case_id: str, status: str, *, actor: str) -> None:
        raise Conflict(f"case {case_id} is merged")

    stack["service"].set_case_status = merged
    body = json.dumps({"event": "case.status_changed", "case_id": "SC-2026-1", "status": "solved"}).encode()
    response = _call(stack["app"], "webhook", body, _ours(GENERIC_SECRET, body))
    # A 4xx would make the CRM retry, forever, a change that can never apply.
    assert response["statusCode"] == 200
    assert response["json"] == {"received": 1, "applied": 0, "ignored": 1}
