"""What operators see, through the real flows: the metrics the template's alarms watch are emitted
when the thing they alarm on happens, and a third party's error quoting a customer reaches the
log line without her e-mail address or phone number (Powertools data masking).

AWS is moto built from template.yaml; the X API and the CRM are loopback HTTP servers
(pytest-httpserver) spoken to by tweepy and our CRM client. Metrics and logs are read from
stdout, where Lambda would hand them to CloudWatch; a log record is read as the function's own
log handler formats it (the JSON line CloudWatch Logs would keep)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from event_source import run_event_source  # tests/integration/event_source.py
from moto import mock_aws
from pytest_httpserver import HTTPServer
from webhook_calls import Context  # tests/integration/webhook_calls.py

from socialcare import aws as aws_clients
from socialcare.crm.base import CrmTuning, Http, NoGuard
from socialcare.crm.samples import sample_view
from socialcare.crm.webhook import WebhookAdapter
from socialcare.flows.crm_sync import CrmSync, SyncConsumer
from socialcare.models.crm import CaseView, CrmSyncRequest
from socialcare.observability import logger, metrics
from socialcare.publish import Publisher, RecordQueue
from socialcare.store.cases import CasesRepository
from socialcare_infra.handlers import load_app
from socialcare_infra.provision import Provisioned, Provisioner
from socialcare_infra.template import Resolver, load_template

if TYPE_CHECKING:
    from conftest import AwsStack  # tests/integration/conftest.py

pytestmark = pytest.mark.integration

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
BRAND = "1500000000000000001"
EMAIL, PHONE = "anna.bianchi@example.com", "+39 333 123 4567"


def emitted(out: str) -> list[tuple[str, list[list[str]]]]:
    """(metric name, dimension sets) of every EMF record printed to ``out``."""
    found = []
    for line in out.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        for directive in (record.get("_aws") or {}).get("CloudWatchMetrics", []) if isinstance(record, dict) else []:
            found += [(m["Name"], directive["Dimensions"]) for m in directive["Metrics"]]
    return found


def log_lines(caplog: pytest.LogCaptureFixture, message: str) -> list[str]:
    """The JSON lines the functions' log handler writes for the records saying ``message``."""
    formatter = logger.registered_formatter
    return [formatter.format(record) for record in caplog.records if record.getMessage() == message]


# ------------------------------------------------------------------ platform authentication


def test_an_expired_x_token_counts_a_platform_auth_failure(
    aws: AwsStack, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    httpserver.expect_request(f"/2/users/{BRAND}/mentions").respond_with_json(
        {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}, status=401
    )
    monkeypatch.setenv("SOCIALCARE_X_API_URL", httpserver.url_for("/").rstrip("/"))
    boto3.client("secretsmanager").put_secret_value(
        SecretId=aws.secret_arns["XApiCredentials"], SecretString=json.dumps({BRAND: {"bearer_token": "expired"}})
    )
    capsys.readouterr()

    poller = load_app("x_poller")
    result = poller.handler({"source": "aws.events", "detail-type": "Scheduled Event"},
                            Context(50_000, function_name="XPollerFunction", aws_request_id="req-auth"))

    assert result == {BRAND: {"mentions": "error_401"}}
    # the template's PlatformAuthFailuresAlarm reads it with the service dimension only
    assert ("PlatformAuthFailures", [["service"]]) in emitted(capsys.readouterr().out)


def test_an_x_refusal_other_than_401_is_no_auth_failure(
    aws: AwsStack, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    httpserver.expect_request(f"/2/users/{BRAND}/mentions").respond_with_json({"title": "Forbidden"}, status=403)
    monkeypatch.setenv("SOCIALCARE_X_API_URL", httpserver.url_for("/").rstrip("/"))
    boto3.client("secretsmanager").put_secret_value(
        SecretId=aws.secret_arns["XApiCredentials"], SecretString=json.dumps({BRAND: {"bearer_token": "b"}})
    )
    capsys.readouterr()

    result = load_app("x_poller").handler({}, Context(50_000, function_name="XPollerFunction"))

    assert result == {BRAND: {"mentions": "error_403"}}
    assert "PlatformAuthFailures" not in {name for name, _ in emitted(capsys.readouterr().out)}


# ------------------------------------------------------------------ a CRM refusal quoting the customer


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> Iterator[Provisioned]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "t")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "t")
    with mock_aws():
        aws_clients.reset()
        yield Provisioner(Resolver(load_template(TEMPLATE), stack_name="t"), endpoint_url=None, environ={}).provision()
        aws_clients.reset()


class Cases:
    """The cases' read model (a ``CaseSource``) over real case items in CasesTable."""

    def __init__(self, made: Provisioned, *views: CaseView) -> None:
        self.views = {view.case.id: view for view in views}
        for view in views:
            boto3.client("dynamodb").put_item(TableName=made.names["CasesTable"], Item={
                "pk": {"S": f"CASE#{view.case.id}"}, "sk": {"S": "CASE"}, "version": {"N": str(view.case.version)}})

    def get_case_view(self, case_id: str) -> CaseView | None:
        return self.views.get(case_id)


def test_a_crm_refusal_quoting_the_customer_is_logged_without_her_email_or_phone(
    made: Provisioned, httpserver: HTTPServer, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    httpserver.expect_request("/crm", method="POST").respond_with_json(
        {"error": f"requester {EMAIL} ({PHONE}) already belongs to user 7781"}, status=422
    )
    view = sample_view("SC-2026-1", version=1)
    service = CrmSync(WebhookAdapter(httpserver.url_for("/crm"), "crm-secret", Http("webhook", timeout=2)),
                      Cases(made, view), CasesRepository(made.names["CasesTable"], boto3.client("dynamodb")), NoGuard())
    queue = made.queue_urls["CrmSyncQueue"]
    consumer = SyncConsumer(lambda: service, RecordQueue(boto3.client("sqs"), queue), CrmTuning())
    Publisher(boto3.client("sqs"), crm_sync_url=queue).crm_syncs([CrmSyncRequest(case_id="SC-2026-1", version=1)])
    metrics.flush_metrics()  # nothing left over from an earlier test
    capsys.readouterr()

    with caplog.at_level(logging.INFO, logger=logger.name):
        run_event_source(lambda event: consumer.handle_batch(event, None), queue)
    metrics.flush_metrics()  # what the handler's log_metrics does at the end of the invocation

    (line,) = log_lines(caplog, "crm sync failed permanently")
    reason = json.loads(line)["reason"]
    assert "422" in reason and "user 7781" in reason, "the rest of the reason must stay readable"
    assert EMAIL not in line and PHONE not in line and "333 123" not in line
    assert ("CrmSyncFailures", [["service"]]) in emitted(capsys.readouterr().out)  # what CrmSyncFailuresAlarm reads
    # whoever redrives the DLQ still reads the whole refusal
    (dead,) = boto3.client("sqs").receive_message(
        QueueUrl=made.queue_urls["CrmSyncDLQ"], MessageAttributeNames=["All"])["Messages"]
    assert EMAIL in dead["MessageAttributes"]["reason"]["StringValue"]
