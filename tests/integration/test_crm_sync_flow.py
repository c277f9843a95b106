"""The CRM both ways, through the real CrmSyncFunction and CrmWebhookFunction handlers, the
real cases service and repositories, the CasesTable stream relayed through the real CaseStream
flow (the ``case_versions`` fixture), template-built moto resources (the ``aws`` fixture) and a
loopback CRM (pytest-httpserver): the default wiring the deployed functions use."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from event_source import run_event_sources  # tests/integration/event_source.py
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from socialcare import aws as socialcare_aws
from socialcare.config.settings import Settings
from socialcare.flows.reconcile import reconcile
from socialcare.flows.wiring import Wiring
from socialcare.models.case import Case, CaseStatus
from socialcare.models.interaction import Author, Channel, Interaction, Kind
from socialcare.models.profile import Profile
from socialcare_infra.handlers import load_app

pytestmark = pytest.mark.integration

AwsStack = Any  # tests/integration/conftest.py's fixture types
CaseVersions = Any
ROOT = Path(__file__).resolve().parents[2]
NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)


class Context:
    function_name = "CrmSyncFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:CrmSyncFunction"
    aws_request_id = "req-1"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


@pytest.fixture
def world(
    aws: AwsStack, case_versions: CaseVersions, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    received: list[dict[str, Any]] = []
    secret = aws.secret_values["CrmWebhookSecret"]

    def crm(request: Request) -> Response:
        body = request.get_data()
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        received.append(
            {
                "signed": hmac.compare_digest(request.headers.get("X-Socialcare-Signature", ""), expected),
                "delivery": request.headers.get("X-Socialcare-Delivery-Id"),
                "doc": json.loads(body),
            }
        )
        if len(received) == 1:
            return Response("warming up", status=503)  # like the acceptance CRM: refuse first
        return Response(json.dumps({"id": f"crm-{received[-1]['doc']['case']['id']}"}), content_type="application/json")

    httpserver.expect_request("/crm", method="POST").respond_with_handler(crm)
    monkeypatch.setenv("SOCIALCARE_CRM_PROVIDER", "webhook")
    monkeypatch.setenv("SOCIALCARE_CRM_WEBHOOK_URL", httpserver.url_for("/crm"))
    monkeypatch.setenv("SOCIALCARE_CRM_RETRY_BASE_SECONDS", "1")
    monkeypatch.setenv("SOCIALCARE_CRM_RETRY_MAX_SECONDS", "2")
    # Built after the CRM settings above, like every function's cold start (load_app below).
    wiring = Wiring(Settings())
    yield {"aws": aws, "received": received, "secret": secret, "wiring": wiring, "case_versions": case_versions}


def _story() -> list[Interaction]:
    texts = {
        Channel.X: (Kind.PUBLIC_POST, "@brand il mio pacco non è mai arrivato, vergogna"),
        Channel.FACEBOOK: (Kind.COMMENT, "Ancora nessuna risposta sul pacco"),
        Channel.MESSENGER: (Kind.DIRECT_MESSAGE, "Vi scrivo in privato: ordine 12345"),
        Channel.WHATSAPP: (Kind.DIRECT_MESSAGE, "Chiedo il rimborso"),
    }
    return [
        Interaction(
            id=f"{channel.value}:giulia-{n}",
            channel=channel,
            kind=kind,
            account_id="brand",
            platform_message_id=f"giulia-{n}",
            author=Author(id=f"giulia-{channel.value}", handle="@giulia"),
            text=text,
            occurred_at=NOW + timedelta(minutes=n),
        )
        for n, (channel, (kind, text)) in enumerate(texts.items())
    ]


def _pipeline(world: dict[str, Any], interaction: Interaction, customer_id: str) -> None:
    """Store the interaction on the customer's timeline (where a reply reads what it answers)
    and thread it into its case: the case version written reaches the CRM through the cases
    table's stream (relayed by ``_run_crm_sync``)."""
    profiles = world["wiring"].profiles
    if profiles.get_profile(customer_id) is None:
        profiles.create_customer(Profile(id=customer_id, name="Giulia Rossi"), [])
    profiles.record_interaction(customer_id, interaction, None, via=f"{interaction.channel.value}#test")
    world["wiring"].threading.on_interaction(interaction, customer_id, {}, now=interaction.occurred_at)


def _run_crm_sync(world: dict[str, Any], deadline_s: float = 30.0) -> None:
    """CaseStreamFunction relays the case versions written so far to crm-sync.fifo, then
    Lambda's SQS event sources run CrmSyncFunction on it and CrmRetryFunction on the retry
    queue (where a refused sync waits), on moto."""
    assert world["case_versions"].relay() == {"batchItemFailures": []}
    sync, relay = load_app("crm_sync").handler, load_app("crm_retry").handler
    urls = world["aws"].queue_urls
    run_event_sources({urls["CrmSyncQueue"]: lambda event: sync(event, Context()),
                       urls["CrmRetryQueue"]: lambda event: relay(event, Context())},
                      batches={urls["CrmSyncQueue"]: 5}, deadline_s=deadline_s)


def _story_in_the_crm(world: dict[str, Any]) -> Case:
    """Giulia's four messages threaded into one case, and that case synced to the CRM."""
    for interaction in _story():
        _pipeline(world, interaction, "cust-giulia")
    _run_crm_sync(world)
    case = world["wiring"].case_queries.open_case_for("cust-giulia")
    assert case is not None
    return case


def _webhook(provider: str, doc: Any, secret: str) -> dict[str, Any]:
    body = json.dumps(doc).encode()
    stamp = str(int(time.time()))
    signature = "sha256=" + hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    event = {
        "version": "2.0",
        "routeKey": "POST /webhooks/crm/{provider}",
        "rawPath": f"/webhooks/crm/{provider}",
        "rawQueryString": "",
        "headers": {"host": "api.test", "x-socialcare-timestamp": stamp, "x-socialcare-signature": signature},
        "requestContext": {
            "http": {"method": "POST", "path": f"/webhooks/crm/{provider}"},
            "domainName": "api.test",
            "stage": "$default",
            "requestId": "r-1",
        },
        "pathParameters": {"provider": provider},
        "body": body.decode(),
        "isBase64Encoded": False,
    }
    response: dict[str, Any] = load_app("crm_webhook").handler(event, Context())
    return response


def test_story_reaches_the_crm_as_one_case_with_every_channel(world: dict[str, Any]) -> None:
    wiring = world["wiring"]
    for interaction in _story():
        _pipeline(world, interaction, "cust-giulia")
    case = wiring.case_queries.open_case_for("cust-giulia")
    assert case is not None

    _run_crm_sync(world)

    received = world["received"]
    assert all(r["signed"] for r in received)
    accepted = received[1:]  # the first delivery was refused with 503
    assert len({r["delivery"] for r in accepted}) == len(accepted)  # no delivery id accepted twice
    assert {r["doc"]["case"]["id"] for r in received} == {case.id}
    latest = max((r["doc"] for r in accepted), key=lambda d: d["case"]["version"])
    assert latest["case"]["version"] == case.version
    assert latest["case"]["channels"] == ["x", "facebook", "messenger", "whatsapp"]
    assert [i["channel"] for i in latest["interactions"]] == ["x", "facebook", "messenger", "whatsapp"]
    # The record id is found from the CRM's side, by the cases service too (CrmIndex).
    assert wiring.cases_repo.crm_state(case.id).synced_version == case.version
    found = wiring.case_queries.case_for_crm_record(f"crm-{case.id}")
    assert found is not None and found.id == case.id


def test_solved_in_the_crm_resolves_the_case_and_a_public_reply_goes_out(world: dict[str, Any]) -> None:
    aws, wiring = world["aws"], world["wiring"]
    case = _story_in_the_crm(world)
    secret = world["secret"]

    reply = {
        "event": "case.replied",
        "record_id": f"crm-{case.id}",
        "reply": {"id": "c-1", "text": "Rimborso avviato, ci scusiamo.", "public": True, "author": {"name": "Marta"}},
    }
    assert _webhook("webhook", reply, secret)["statusCode"] == 200
    solved = {"event": "case.status_changed", "record_id": f"crm-{case.id}", "status": "solved"}
    assert json.loads(_webhook("webhook", solved, secret)["body"]) == {"received": 1, "applied": 1, "ignored": 0}

    resolved = wiring.case_queries.get_case(case.id, with_interactions=False)
    assert resolved.status is CaseStatus.RESOLVED
    out = boto3.client("sqs").receive_message(QueueUrl=aws.queue_urls["OutboundQueue"], MaxNumberOfMessages=10)
    queued = [json.loads(m["Body"]) for m in out["Messages"]]
    # the agent's reply, and the satisfaction survey the resolution asks (docs/satisfaction.md)
    (message,) = [m for m in queued if m["source"] != "system"]
    (survey,) = [m for m in queued if m["source"] == "system"]
    assert survey["automated"] and survey["case_id"] == case.id
    assert message["case_id"] == case.id and message["text"] == "Rimborso avviato, ci scusiamo."
    assert message["to"]["channel"] == "whatsapp"  # where she last wrote
    assert message["source"] == "crm:webhook" and message["crm_reply_id"] == "c-1"
    # Resolving changed the case: the CRM gets that version too (and ignores the echo).
    _run_crm_sync(world)
    assert world["received"][-1]["doc"]["case"]["status"] == "resolved"


def test_reconcile_re_enqueues_what_the_crm_never_acknowledged(world: dict[str, Any]) -> None:
    aws, wiring = world["aws"], world["wiring"]
    _pipeline(world, _story()[0], "cust-giulia")
    assert world["case_versions"].relay() == {"batchItemFailures": []}
    sqs = boto3.client("sqs")
    # Lost: the sync message is gone (say, dead-lettered and purged) before the CRM saw it.
    for m in sqs.receive_message(QueueUrl=aws.queue_urls["CrmSyncQueue"], MaxNumberOfMessages=10)["Messages"]:
        sqs.delete_message(QueueUrl=aws.queue_urls["CrmSyncQueue"], ReceiptHandle=m["ReceiptHandle"])
    case = wiring.case_queries.open_case_for("cust-giulia")
    assert case is not None

    report = reconcile(wiring)

    assert report.enqueued == [case.id]
    _run_crm_sync(world)
    assert wiring.cases_repo.crm_state(case.id).synced_version == case.version
    assert reconcile(wiring).lagging == []


class Crash(BaseException):
    """The execution environment died mid-invocation: nothing of ours may catch it."""


def test_a_reply_whose_first_attempt_died_midway_is_retried_never_dropped(world: dict[str, Any]) -> None:
    """The first CrmWebhookFunction invocation dies while publishing the reply, leaving the
    reply's idempotency record in progress. The CRM's retry must be told to come back (503 with
    Retry-After), not 200 "ignored": an ignored reply would never reach the customer."""
    aws = world["aws"]
    case = _story_in_the_crm(world)
    reply = {"event": "case.replied", "record_id": f"crm-{case.id}",
             "reply": {"id": "c-9", "text": "Ci pensiamo noi.", "public": True, "author": {"name": "Marta"}}}
    outbound = aws.queue_urls["OutboundQueue"]
    sqs_client = socialcare_aws.client("sqs")  # the client the function's publisher uses

    def die(params: dict[str, Any], **_: Any) -> None:
        if params.get("QueueUrl") == outbound:
            raise Crash("the invocation died before the reply left")

    sqs_client.meta.events.register("before-parameter-build.sqs.SendMessageBatch", die)
    try:
        with pytest.raises(Crash):
            _webhook("webhook", reply, world["secret"])
    finally:
        sqs_client.meta.events.unregister("before-parameter-build.sqs.SendMessageBatch", die)

    retry = _webhook("webhook", reply, world["secret"])
    assert retry["statusCode"] == 503, retry["body"]
    assert json.loads(retry["body"])["error"] == "busy"
    assert int(retry["headers"]["Retry-After"]) >= 1
    assert aws.drain(outbound) == []
