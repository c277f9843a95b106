"""Every saved case version reaches the CRM exactly once, even when the function that saved it
dies between the write and its next send (issue 9 item 3).

The processor is killed at botocore - the moment it sends the team's work item, right after the
case transaction succeeded - so nothing of ours is patched. The version it saved is then carried
by CasesTable's stream through the real CaseStream flow (``case_versions`` fixture: the template's
event filter, Lambda's event shape) and the real CrmSyncFunction handler to a loopback CRM.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from event_source import run_event_source  # tests/integration/event_source.py
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from socialcare.config.settings import Settings
from socialcare.flows.processor import Processor
from socialcare.flows.wiring import Wiring
from socialcare.models.interaction import Action, Author, Channel, InboundEvent, Interaction, Kind
from socialcare_infra.esm import matches_any
from socialcare_infra.handlers import load_app
from socialcare_infra.streams import lambda_stream_event

pytestmark = pytest.mark.integration

AwsStack = Any  # tests/integration/conftest.py's fixture type
REGION = "eu-west-1"


class Context:
    function_name = "CrmSyncFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:CrmSyncFunction"
    aws_request_id = "req-1"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


class Crash(BaseException):
    """The execution environment died (timeout, out of memory, a lost host): nothing of ours may
    catch it, so it is not an Exception."""


@pytest.fixture
def crm(aws: AwsStack, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """A loopback generic-webhook CRM that records every signed delivery it accepts."""
    secret = aws.secret_values["CrmWebhookSecret"]
    received: list[dict[str, Any]] = []

    def deliver(request: Request) -> Response:
        body = request.get_data()
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("X-Socialcare-Signature", ""), expected):
            return Response("bad signature", status=401)
        doc = json.loads(body)
        received.append({"delivery": request.headers.get("X-Socialcare-Delivery-Id"), "case": doc["case"]})
        return Response(json.dumps({"id": f"crm-{doc['case']['id']}"}), content_type="application/json")

    httpserver.expect_request("/crm", method="POST").respond_with_handler(deliver)
    monkeypatch.setenv("SOCIALCARE_CRM_PROVIDER", "webhook")
    monkeypatch.setenv("SOCIALCARE_CRM_WEBHOOK_URL", httpserver.url_for("/crm"))
    yield received


def complaint(n: int = 1) -> InboundEvent:
    interaction = Interaction(
        id=f"x:99000{n}", channel=Channel.X, kind=Kind.PUBLIC_POST, account_id="brand", platform_message_id=f"99000{n}",
        author=Author(id="4455667788", handle="lucia_verdi", name="Lucia Verdi", followers=320),
        text="@brand the blender I bought arrived broken and nobody answers. I want a refund.",
        occurred_at=datetime.now(UTC) - timedelta(minutes=5),
    )
    return InboundEvent(action=Action.CREATE, source="x", event_id=interaction.platform_message_id,
                        interaction=interaction)


def crash_on(client: Any, operation: str, queue_url: str, error: BaseException | None = None) -> Callable[[], None]:
    """Fail every ``operation`` on ``queue_url`` at botocore, before it leaves the process (by
    default the process dies); returns the function that stops it."""
    def hook(params: dict[str, Any], **_: Any) -> None:
        if params.get("QueueUrl") == queue_url:
            raise error or Crash(f"{operation} never left the process")

    event = f"before-parameter-build.sqs.{operation}"
    client.meta.events.register(event, hook)
    return lambda: client.meta.events.unregister(event, hook)


def run_crm_sync(aws: AwsStack, deadline_s: float = 20.0) -> None:
    """Lambda's SQS event source for the real CrmSyncFunction handler, until crm-sync is empty."""
    handler = load_app("crm_sync").handler
    run_event_source(lambda event: handler(event, Context()), aws.queue_urls["CrmSyncQueue"], deadline_s=deadline_s)


def test_a_crash_between_saving_a_case_and_publishing_still_delivers_that_version_once(
    aws: AwsStack, wiring: Wiring, case_versions: Any, crm: list[dict[str, Any]]
) -> None:
    # Given a processor that dies when it sends the work item, right after saving the case
    stop_crashing = crash_on(wiring.client("sqs"), "SendMessageBatch", aws.queue_urls["SocialTeamQueue"])
    with pytest.raises(Crash):
        Processor(wiring).process(complaint())
    stop_crashing()
    saved = wiring.case_queries.open_case_for(wiring.identity.find_customer("x", "4455667788") or "")
    assert saved is not None and saved.version == 1, "the case was saved before the crash"
    assert aws.drain(aws.queue_urls["SocialTeamQueue"]) == [], "the crash came before any send"

    # When the stream relays what was saved, and the CRM sync runs
    assert case_versions.relay() == {"batchItemFailures": []}
    run_crm_sync(aws)

    # Then the CRM has that version, once
    assert [(d["case"]["id"], d["case"]["version"]) for d in crm] == [(saved.id, 1)]

    # And when SQS redelivers the event, the processor resumes: the item goes out (the event
    # was threaded in the case's own write, so it is a duplicate that publishes its item again),
    # the CRM hears nothing twice
    assert Processor(Wiring(Settings())).process(complaint())["status"] == "duplicate"
    items = aws.drain(aws.queue_urls["SocialTeamQueue"])
    assert [i["case"]["id"] for i in items] == [saved.id]
    case_versions.relay()
    run_crm_sync(aws)
    assert [(d["case"]["id"], d["case"]["version"]) for d in crm] == [(saved.id, 1)]


def test_a_relay_that_cannot_publish_reports_the_first_unsent_version_and_the_retry_delivers_it_once(
    aws: AwsStack, wiring: Wiring, case_versions: Any, crm: list[dict[str, Any]]
) -> None:
    # Given two saved versions of a case and a crm-sync queue that refuses the relay once
    Processor(wiring).process(complaint(1))
    Processor(wiring).process(complaint(2))
    case = wiring.case_queries.open_case_for(wiring.identity.find_customer("x", "4455667788") or "")
    assert case is not None and case.version == 2
    unreachable = EndpointConnectionError(endpoint_url=aws.queue_urls["CrmSyncQueue"])
    stop_crashing = crash_on(case_versions.flow.w.client("sqs"), "SendMessageBatch",
                             aws.queue_urls["CrmSyncQueue"], unreachable)
    records = case_versions.reader.read()
    first = next(r for r in records if matches_any(r, case_versions.filters))["dynamodb"]["SequenceNumber"]

    # When the stream function runs, it reports its first record as failed (Lambda retries from it)
    event = lambda_stream_event([r for r in records if matches_any(r, case_versions.filters)], case_versions.arn,
                                REGION)
    assert case_versions.flow.handle_batch(event) == {"batchItemFailures": [{"itemIdentifier": first}]}
    stop_crashing()
    assert case_versions.flow.handle_batch(event) == {"batchItemFailures": []}  # Lambda's retry
    assert case_versions.flow.handle_batch(event) == {"batchItemFailures": []}  # and a duplicate delivery
    run_crm_sync(aws)

    # Then the CRM received the newest version exactly once (a sync always sends the current case)
    assert [(d["case"]["id"], d["case"]["version"]) for d in crm] == [(case.id, 2)]


def test_a_case_item_that_can_never_be_published_does_not_hold_back_the_others(
    aws: AwsStack, wiring: Wiring, case_versions: Any, crm: list[dict[str, Any]]
) -> None:
    # Given a case item the CRM sync cannot describe (an id over 128 characters, written by
    # hand - say, a bad restore) before a real case in the same stream batch
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName=aws.tables["CasesTable"],
        Item={"pk": {"S": "CASE#" + "X" * 200}, "sk": {"S": "CASE"}, "version": {"N": "1"}},
    )
    Processor(wiring).process(complaint())
    case = wiring.case_queries.open_case_for(wiring.identity.find_customer("x", "4455667788") or "")
    assert case is not None

    # When the stream function relays the batch, it succeeds (no retry loop on the bad record)
    assert case_versions.relay() == {"batchItemFailures": []}
    run_crm_sync(aws)

    # Then the real case reached the CRM
    assert [(d["case"]["id"], d["case"]["version"]) for d in crm] == [(case.id, case.version)]
